"""Row validation: every input row gets at most one reason code (the first rule it breaks).

Rules are SQL expressions built from the questionnaire; a row with a reason goes to
`quarantine` with that code (jobs/core/quarantine.py) and a detail naming the variable. Duplicated keys
keep one row.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core import nik
from jobs.core.contract import APPEAL_CATEGORIES, APPEAL_TYPES, CHANGES, FILER_RELATIONS, NIK_CORRECTION, SANGGAH
from jobs.core.linkage_review import DECISIONS
from jobs.core.quarantine import (
    BAD_INTERVIEW_TIME,
    BAD_VALUE,
    BIRTH_IN_FUTURE,
    DUPLICATE_RECORD,
    FILER_NOT_NEIGHBOUR,
    HOUSEHOLD_REJECTED,
    INVALID_NIK,
    MISSING_SUBJECT,
    MISSING_VALUE,
    NO_EVIDENCE,
    OUT_OF_RANGE,
    UNKNOWN_HOUSEHOLD,
    UNKNOWN_PAIR,
    UNKNOWN_QUESTIONNAIRE_VERSION,
    UNKNOWN_VILLAGE,
    VILLAGE_DETAIL,
    VILLAGE_MISMATCH,
)
from jobs.core.questionnaire import Questionnaire, Variable
from jobs.ingest.landing import BAD_COLUMNS, MALFORMED
from runtime import sql

REASON, DETAIL = "_reason", "_detail"
PRIMARY = "_primary"  # on checked households: the row that speaks for its household_id (members read it)
PROVINCE = "_province"  # on checked members: their household's province (quarantine places a rejected row by it)


def province(village_code: str, province_codes: list[str]) -> str:
    """SQL: the province a village code (a SQL expression) names: its first two digits when they are a province
    of the reference (a village code outside the reference still names its province), else null. Never a NIK's
    digits: they say where it was first issued, not where the person lives."""
    return (f"CASE WHEN substr({village_code}, 1, 2) IN {sql.one_of(province_codes)} "
            f"THEN substr({village_code}, 1, 2) END")


def _concat(*parts: str) -> str:
    """SQL: the text of literal parts and SQL expressions: `_concat("'x='", "CAST(x AS STRING)")`."""
    return f"concat({', '.join(parts)})"


class Rules:
    """An ordered list of (condition, reason, detail), each condition and detail SQL text, turned into two
    columns by one projection. Text rather than Columns: a source's rules built as Columns took thousands of
    py4j round trips (runtime/sql.py)."""

    def __init__(self) -> None:
        self._rules: list[tuple[str, str, str]] = []

    def add(self, condition: str, reason: str, detail: str) -> Rules:
        """`condition`: SQL, true where the row breaks the rule (null counts as not broken); `detail`: SQL text
        of the detail (a literal: `sql.text(...)`)."""
        self._rules.append((condition, reason, detail))
        return self

    def apply(self, df: DataFrame) -> DataFrame:
        """One CASE per output column, added in one projection (plan building is not free)."""
        if not self._rules:
            return df.selectExpr("*", f"CAST(NULL AS STRING) AS {REASON}", f"CAST(NULL AS STRING) AS {DETAIL}")
        hits = [f"WHEN coalesce(({condition}), FALSE) THEN " for condition, _, _ in self._rules]
        reason = " ".join(hit + sql.text(code) for hit, (_, code, _) in zip(hits, self._rules, strict=True))
        detail = " ".join(f"{hit}CAST({text} AS STRING)" for hit, (_, _, text) in zip(hits, self._rules, strict=True))
        return df.selectExpr("*", f"CASE {reason} END AS {REASON}", f"CASE {detail} END AS {DETAIL}")


def _bad_values(rules: Rules) -> None:
    rules.add(
        f"array_contains({sql.ident(BAD_COLUMNS)}, {sql.text(MALFORMED)})",
        BAD_VALUE,
        sql.text("malformed CSV line: more or fewer fields than the header"),
    )
    rules.add(
        f"size({sql.ident(BAD_COLUMNS)}) > 0",
        BAD_VALUE,
        _concat(sql.text("unreadable value in "), f"array_join({sql.ident(BAD_COLUMNS)}, ', ')"),
    )


def _required(rules: Rules, names: list[str]) -> None:
    for name in names:
        rules.add(f"{sql.ident(name)} IS NULL", MISSING_VALUE, sql.text(f"{name} is missing"))


def _answers(rules: Rules, variables: tuple[Variable, ...]) -> None:
    for var in variables:
        col = sql.ident(var.name)
        rules.add(f"{col} IS NULL", MISSING_VALUE, sql.text(f"{var.name} is missing"))
        rules.add(var.out_of_range(col), OUT_OF_RANGE, _concat(sql.text(f"{var.name}="), f"CAST({col} AS STRING)"))


def _keep_latest(df: DataFrame, keys: list[str], order: list[str], first: str | None = None) -> DataFrame:
    """Rows sharing a key beyond the first (by `order`, SQL sort items) become DUPLICATE_RECORD. `first`: also
    mark each key's first row in a column of that name (the row that speaks for the key)."""
    number = (f"row_number() OVER (PARTITION BY {', '.join(sql.ident(k) for k in keys)} "
              f"ORDER BY {', '.join(order)})")
    dup = f"{REASON} IS NULL AND {number} > 1"
    others = [sql.ident(c) for c in df.columns if c not in (REASON, DETAIL)]
    return df.selectExpr(
        *others,
        f"CASE WHEN {dup} THEN {sql.text(DUPLICATE_RECORD)} ELSE {REASON} END AS {REASON}",
        f"CASE WHEN {dup} THEN {sql.text('key listed more than once; latest kept')} ELSE {DETAIL} END AS {DETAIL}",
        *([f"{number} = 1 AS {sql.ident(first)}"] if first else []),
    )


_VILLAGE_UNKNOWN = _concat(sql.text(VILLAGE_DETAIL[0]), "village_code", sql.text(VILLAGE_DETAIL[1]))


def households(df: DataFrame, q: Questionnaire, villages: DataFrame) -> DataFrame:
    """Household rows with _reason/_detail. `villages` is the reference (village_code column)."""
    known = villages.select(F.col("village_code").alias("_ref_village")).distinct()
    df = df.join(F.broadcast(known), df.village_code == known._ref_village, "left")
    rules = Rules()
    _bad_values(rules)
    _required(rules, ["household_id", "village_code", "interview_start", "interview_end", "questionnaire_version"])
    rules.add("_ref_village IS NULL", UNKNOWN_VILLAGE, _VILLAGE_UNKNOWN)
    rules.add(
        f"NOT questionnaire_version IN {sql.one_of(q.versions)}",
        UNKNOWN_QUESTIONNAIRE_VERSION,
        _concat(sql.text("questionnaire_version="), "questionnaire_version"),
    )
    rules.add("interview_end < interview_start", BAD_INTERVIEW_TIME, sql.text("interview ends before it starts"))
    _answers(rules, q.household)
    out = rules.apply(df).drop("_ref_village")
    return _keep_latest(out, ["household_id"], [f"{REASON} ASC NULLS FIRST", "interview_start DESC"], first=PRIMARY)


def members(
    df: DataFrame, q: Questionnaire, households_checked: DataFrame, province_codes: list[str], as_of: dt.date
) -> DataFrame:
    """Member rows with _reason/_detail and nik_problem (a bad NIK is a match status, not a rejection);
    linked to their household's verdict and interview date."""
    # One verdict per household_id, or a member would be listed once per row of its household: the row
    # that speaks for the key (PRIMARY: the accepted row if there is one, else a rejection with the first
    # reason), so no aggregate is needed.
    hh = households_checked.where(f"{PRIMARY} AND household_id IS NOT NULL").selectExpr(
        "household_id AS _hh",
        f"{REASON} AS _hh_reason",
        "to_date(interview_start) AS interview_date",
        f"{province('village_code', province_codes)} AS {PROVINCE}",
    )
    df = df.join(hh, df.household_id == hh._hh, "left").selectExpr(
        "*", f"{nik.problem_sql('nik', province_codes, as_of)} AS nik_problem")
    rules = Rules()
    _bad_values(rules)
    _required(rules, ["household_id", "member_no", "birth_date"])
    rules.add("member_no < 1", OUT_OF_RANGE, _concat(sql.text("member_no="), "CAST(member_no AS STRING)"))
    _answers(rules, q.member)
    rules.add("_hh IS NULL", UNKNOWN_HOUSEHOLD, sql.text("household_id not among the survey households"))
    rules.add("_hh_reason IS NOT NULL", HOUSEHOLD_REJECTED, _concat(sql.text("household quarantined: "), "_hh_reason"))
    rules.add("birth_date > interview_date", BIRTH_IN_FUTURE, sql.text("birth_date after the interview"))
    out = rules.apply(df).drop("_hh", "_hh_reason")
    return _keep_latest(out, ["household_id", "member_no"], [f"{REASON} ASC NULLS FIRST", "nik ASC NULLS LAST"])


def registry(
    df: DataFrame, province_codes: list[str], villages: DataFrame, as_of: dt.date, changes: bool = False
) -> DataFrame:
    """Registry rows: a person needs a valid NIK and a known address; one row per NIK (latest).

    changes: the rows are registry events (landing `registry_changes`): each also needs a known
    `change`, and a NIK correction the valid `previous_nik` it replaces."""
    known = villages.select(F.col("village_code").alias("_ref_village")).distinct()
    df = df.join(F.broadcast(known), df.village_code == known._ref_village, "left").selectExpr(
        "*", f"{nik.problem_sql('nik', province_codes, as_of)} AS nik_problem")
    rules = Rules()
    _bad_values(rules)
    rules.add("nik_problem IS NOT NULL", INVALID_NIK, "nik_problem")
    if changes:
        correction = f"change = {sql.text(NIK_CORRECTION)}"
        previous_problem = nik.problem_sql("previous_nik", province_codes, as_of)
        rules.add("change IS NULL", MISSING_VALUE, sql.text("change is missing"))
        rules.add(f"NOT change IN {sql.one_of(CHANGES)}", BAD_VALUE, _concat(sql.text("change="), "change"))
        rules.add(f"{correction} AND previous_nik IS NULL", MISSING_VALUE, sql.text("previous_nik is missing"))
        rules.add(f"{correction} AND ({previous_problem}) IS NOT NULL", INVALID_NIK,
                  _concat(sql.text("previous_nik: "), f"({previous_problem})"))
        rules.add(f"{correction} AND previous_nik = nik", BAD_VALUE, sql.text("previous_nik equals nik"))
    _required(rules, ["birth_date", "sex", "village_code"])
    rules.add("NOT sex IN ('L', 'P')", OUT_OF_RANGE, _concat(sql.text("sex="), "sex"))
    rules.add("_ref_village IS NULL", UNKNOWN_VILLAGE, sql.text("village_code not in the region reference"))
    out = rules.apply(df).drop("_ref_village")
    return _keep_latest(out, ["nik"], [f"{REASON} ASC NULLS FIRST", "updated_at DESC NULLS LAST"])


def appeals(df: DataFrame, province_codes: list[str], villages: DataFrame, known: DataFrame,
            as_of: dt.date) -> DataFrame:
    """Appeal rows (the head's NIK in column `nik`, checked like every NIK) with _reason/_detail.
    `known`: the survey households an appeal may name (household_id, village_code as `_hh_village`).

    An objection (sanggah) needs a neighbour from the household's village with a photo and GPS; every
    appeal names its subject: a surveyed household, or the NIK of the head of one not yet surveyed."""
    ref = villages.select(F.col("village_code").alias("_ref_village")).distinct()
    hh = known.select(F.col("household_id").alias("_hh"), "_hh_village")
    df = (df.join(F.broadcast(ref), df.village_code == ref._ref_village, "left")
          .join(hh, df.household_id == hh._hh, "left")
          .selectExpr("*", f"CASE WHEN nik IS NOT NULL THEN {nik.problem_sql('nik', province_codes, as_of)} END "
                           "AS nik_problem"))
    objection = f"appeal_type = {sql.text(SANGGAH)}"
    rules = Rules()
    _bad_values(rules)
    _required(rules, ["appeal_id", "appeal_type", "filed_at", "village_code", "filer_relation", "reason_category",
                      "has_photo", "has_gps"])
    for column, allowed in (("appeal_type", APPEAL_TYPES), ("filer_relation", FILER_RELATIONS),
                            ("reason_category", APPEAL_CATEGORIES)):
        rules.add(f"NOT {column} IN {sql.one_of(allowed)}", BAD_VALUE, _concat(sql.text(f"{column}="), column))
    rules.add(f"to_date(filed_at) > {sql.literal(as_of)}", OUT_OF_RANGE,
              _concat(sql.text("filed_at after the as-of date: "), "CAST(filed_at AS STRING)"))
    rules.add("_ref_village IS NULL", UNKNOWN_VILLAGE, _VILLAGE_UNKNOWN)
    rules.add("household_id IS NULL AND nik IS NULL", MISSING_SUBJECT,
              sql.text("neither household_id nor head_nik given"))
    rules.add("nik_problem IS NOT NULL", INVALID_NIK, _concat(sql.text("head_nik: "), "nik_problem"))
    rules.add("household_id IS NOT NULL AND _hh IS NULL", UNKNOWN_HOUSEHOLD,
              sql.text("household_id not among the survey households"))
    rules.add("_hh_village != village_code", VILLAGE_MISMATCH, _concat(sql.text("household is in village "),
                                                                        "_hh_village"))
    rules.add(f"{objection} AND filer_relation != 'NEIGHBOUR'", FILER_NOT_NEIGHBOUR,
              _concat(sql.text("objection filed by "), "filer_relation"))
    rules.add(f"{objection} AND NOT (has_photo AND has_gps)", NO_EVIDENCE, sql.text("objection without photo and GPS"))
    out = rules.apply(df).drop("_ref_village", "_hh", "_hh_village")
    return _keep_latest(out, ["appeal_id"], [f"{REASON} ASC NULLS FIRST", "filed_at DESC"])


PAIR = ("household_id", "member_no", "nik_token")  # a linkage_review pair's key, as the review file names it


def decisions(df: DataFrame, known: DataFrame, as_of: dt.date) -> DataFrame:
    """Linkage decision rows with _reason/_detail, and the decided pair's province_code and match_probability.
    `known`: the pairs ever sent for review (PAIR, province_code, match_probability), so that a decision
    delivered again (its pair has left linkage_review) is still known. The latest decision on a pair is kept."""
    pairs = known.groupBy(*PAIR).agg(F.max("province_code").alias("province_code"),  # one row per pair
                                     F.max("match_probability").alias("match_probability")).select(
        "*", F.col("province_code").alias(PROVINCE), F.lit(True).alias("_known"))
    df = df.join(pairs, list(PAIR), "left")
    rules = Rules()
    _bad_values(rules)
    _required(rules, ["household_id", "member_no", "nik_token", "decision", "decided_by", "decided_at"])
    rules.add(f"NOT decision IN {sql.one_of(DECISIONS)}", BAD_VALUE, _concat(sql.text("decision="), "decision"))
    rules.add(f"to_date(decided_at) > {sql.literal(as_of)}", OUT_OF_RANGE,
              _concat(sql.text("decided_at after the as-of date: "), "CAST(decided_at AS STRING)"))
    rules.add("_known IS NULL", UNKNOWN_PAIR, sql.text("no such pair was sent for review"))
    out = rules.apply(df).drop("_known")
    return _keep_latest(out, list(PAIR), [f"{REASON} ASC NULLS FIRST", "decided_at DESC"])
