"""Row validation: every input row gets at most one reason code (the first rule it breaks).

Rules are native Spark expressions built from the questionnaire; a row with a reason goes to
`quarantine` with that code (jobs/core/quarantine.py) and a detail naming the variable. Duplicated keys
keep one row.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
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

REASON, DETAIL = "_reason", "_detail"
PRIMARY = "_primary"  # on checked households: the row that speaks for its household_id (members read it)
PROVINCE = "_province"  # on checked members: their household's province (quarantine places a rejected row by it)


def province(village_code: Column, province_codes: list[str]) -> Column:
    """The province a village code names: its first two digits when they are a province of the reference (a
    village code outside the reference still names its province), else null. Never a NIK's digits: they say
    where it was first issued, not where the person lives."""
    digits = F.substring(village_code, 1, 2)
    return F.when(digits.isin(*province_codes), digits)


class Rules:
    """An ordered list of (condition, reason, detail) turned into two columns."""

    def __init__(self) -> None:
        self._rules: list[tuple[Column, str, Column]] = []

    def add(self, condition: Column, reason: str, detail: Column | str) -> Rules:
        detail_col = detail if isinstance(detail, Column) else F.lit(detail)
        self._rules.append((condition, reason, detail_col))
        return self

    def apply(self, df: DataFrame) -> DataFrame:
        """One CASE per output column, added in one projection (plan building is not free)."""
        reason, detail = F.when(F.lit(False), F.lit(None)), F.when(F.lit(False), F.lit(None))
        for condition, code, text in self._rules:
            hit = F.coalesce(condition, F.lit(False))
            reason = reason.when(hit, F.lit(code))
            detail = detail.when(hit, text)
        return df.select("*", reason.cast("string").alias(REASON), detail.cast("string").alias(DETAIL))


def _bad_values(rules: Rules) -> None:
    rules.add(
        F.array_contains(F.col(BAD_COLUMNS), MALFORMED),
        BAD_VALUE,
        "malformed CSV line: more or fewer fields than the header",
    )
    rules.add(
        F.size(F.col(BAD_COLUMNS)) > 0,
        BAD_VALUE,
        F.concat(F.lit("unreadable value in "), F.array_join(F.col(BAD_COLUMNS), ", ")),
    )


def _required(rules: Rules, names: list[str]) -> None:
    for name in names:
        rules.add(F.col(name).isNull(), MISSING_VALUE, f"{name} is missing")


def _answers(rules: Rules, variables: tuple[Variable, ...]) -> None:
    for var in variables:
        rules.add(F.col(var.name).isNull(), MISSING_VALUE, f"{var.name} is missing")
        rules.add(
            var.out_of_range(F.col(var.name)),
            OUT_OF_RANGE,
            F.concat(F.lit(f"{var.name}="), F.col(var.name).cast("string")),
        )


def _keep_latest(df: DataFrame, keys: list[str], order: list[Column], first: str | None = None) -> DataFrame:
    """Rows sharing a key beyond the first (by `order`) become DUPLICATE_RECORD. `first`: also mark each
    key's first row in a column of that name (the row that speaks for the key)."""
    w = Window.partitionBy(*keys).orderBy(*order)
    number = F.row_number().over(w)
    dup = F.col(REASON).isNull() & (number > 1)
    others = [c for c in df.columns if c not in (REASON, DETAIL)]
    return df.select(
        *others,
        F.when(dup, F.lit(DUPLICATE_RECORD)).otherwise(F.col(REASON)).alias(REASON),
        F.when(dup, F.lit("key listed more than once; latest kept")).otherwise(F.col(DETAIL)).alias(DETAIL),
        *([(number == 1).alias(first)] if first else []),
    )


def households(df: DataFrame, q: Questionnaire, villages: DataFrame) -> DataFrame:
    """Household rows with _reason/_detail. `villages` is the reference (village_code column)."""
    known = villages.select(F.col("village_code").alias("_ref_village")).distinct()
    df = df.join(F.broadcast(known), df.village_code == known._ref_village, "left")
    rules = Rules()
    _bad_values(rules)
    _required(rules, ["household_id", "village_code", "interview_start", "interview_end", "questionnaire_version"])
    rules.add(
        F.col("_ref_village").isNull(),
        UNKNOWN_VILLAGE,
        F.concat(F.lit(VILLAGE_DETAIL[0]), F.col("village_code"), F.lit(VILLAGE_DETAIL[1])),
    )
    rules.add(
        ~F.col("questionnaire_version").isin(*q.versions),
        UNKNOWN_QUESTIONNAIRE_VERSION,
        F.concat(F.lit("questionnaire_version="), F.col("questionnaire_version")),
    )
    rules.add(F.col("interview_end") < F.col("interview_start"), BAD_INTERVIEW_TIME, "interview ends before it starts")
    _answers(rules, q.household)
    out = rules.apply(df).drop("_ref_village")
    return _keep_latest(out, ["household_id"], [F.col(REASON).asc_nulls_first(), F.col("interview_start").desc()],
                        first=PRIMARY)


def members(
    df: DataFrame, q: Questionnaire, households_checked: DataFrame, province_codes: list[str], as_of: dt.date
) -> DataFrame:
    """Member rows with _reason/_detail and nik_problem (a bad NIK is a match status, not a rejection);
    linked to their household's verdict and interview date."""
    # One verdict per household_id, or a member would be listed once per row of its household: the row
    # that speaks for the key (PRIMARY: the accepted row if there is one, else a rejection with the first
    # reason), so no aggregate is needed.
    hh = households_checked.where(F.col(PRIMARY) & F.col("household_id").isNotNull()).select(
        F.col("household_id").alias("_hh"),
        F.col(REASON).alias("_hh_reason"),
        F.to_date("interview_start").alias("interview_date"),
        province(F.col("village_code"), province_codes).alias(PROVINCE),
    )
    df = df.join(hh, df.household_id == hh._hh, "left").withColumn(
        "nik_problem", nik.problem(F.col("nik"), province_codes, as_of)
    )
    rules = Rules()
    _bad_values(rules)
    _required(rules, ["household_id", "member_no", "birth_date"])
    rules.add(F.col("member_no") < 1, OUT_OF_RANGE, F.concat(F.lit("member_no="), F.col("member_no").cast("string")))
    _answers(rules, q.member)
    rules.add(F.col("_hh").isNull(), UNKNOWN_HOUSEHOLD, "household_id not among the survey households")
    rules.add(
        F.col("_hh_reason").isNotNull(),
        HOUSEHOLD_REJECTED,
        F.concat(F.lit("household quarantined: "), F.col("_hh_reason")),
    )
    rules.add(F.col("birth_date") > F.col("interview_date"), BIRTH_IN_FUTURE, "birth_date after the interview")
    out = rules.apply(df).drop("_hh", "_hh_reason")
    return _keep_latest(
        out, ["household_id", "member_no"], [F.col(REASON).asc_nulls_first(), F.col("nik").asc_nulls_last()]
    )


def registry(
    df: DataFrame, province_codes: list[str], villages: DataFrame, as_of: dt.date, changes: bool = False
) -> DataFrame:
    """Registry rows: a person needs a valid NIK and a known address; one row per NIK (latest).

    changes: the rows are registry events (landing `registry_changes`): each also needs a known
    `change`, and a NIK correction the valid `previous_nik` it replaces."""
    known = villages.select(F.col("village_code").alias("_ref_village")).distinct()
    df = df.join(F.broadcast(known), df.village_code == known._ref_village, "left").withColumn(
        "nik_problem", nik.problem(F.col("nik"), province_codes, as_of)
    )
    rules = Rules()
    _bad_values(rules)
    rules.add(F.col("nik_problem").isNotNull(), INVALID_NIK, F.col("nik_problem"))
    if changes:
        correction = F.col("change") == NIK_CORRECTION
        previous_problem = nik.problem(F.col("previous_nik"), province_codes, as_of)
        rules.add(F.col("change").isNull(), MISSING_VALUE, "change is missing")
        rules.add(~F.col("change").isin(*CHANGES), BAD_VALUE, F.concat(F.lit("change="), F.col("change")))
        rules.add(correction & F.col("previous_nik").isNull(), MISSING_VALUE, "previous_nik is missing")
        rules.add(correction & previous_problem.isNotNull(), INVALID_NIK,
                  F.concat(F.lit("previous_nik: "), previous_problem))
        rules.add(correction & (F.col("previous_nik") == F.col("nik")), BAD_VALUE, "previous_nik equals nik")
    _required(rules, ["birth_date", "sex", "village_code"])
    rules.add(~F.col("sex").isin("L", "P"), OUT_OF_RANGE, F.concat(F.lit("sex="), F.col("sex")))
    rules.add(F.col("_ref_village").isNull(), UNKNOWN_VILLAGE, "village_code not in the region reference")
    out = rules.apply(df).drop("_ref_village")
    return _keep_latest(out, ["nik"], [F.col(REASON).asc_nulls_first(), F.col("updated_at").desc_nulls_last()])


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
          .withColumn("nik_problem", F.when(F.col("nik").isNotNull(), nik.problem(F.col("nik"), province_codes,
                                                                                   as_of))))
    objection = F.col("appeal_type") == SANGGAH
    rules = Rules()
    _bad_values(rules)
    _required(rules, ["appeal_id", "appeal_type", "filed_at", "village_code", "filer_relation", "reason_category",
                      "has_photo", "has_gps"])
    for column, allowed in (("appeal_type", APPEAL_TYPES), ("filer_relation", FILER_RELATIONS),
                            ("reason_category", APPEAL_CATEGORIES)):
        rules.add(~F.col(column).isin(*allowed), BAD_VALUE, F.concat(F.lit(f"{column}="), F.col(column)))
    rules.add(F.to_date("filed_at") > F.lit(as_of), OUT_OF_RANGE, F.concat(
        F.lit("filed_at after the as-of date: "), F.col("filed_at").cast("string")))
    rules.add(F.col("_ref_village").isNull(), UNKNOWN_VILLAGE,
              F.concat(F.lit(VILLAGE_DETAIL[0]), F.col("village_code"), F.lit(VILLAGE_DETAIL[1])))
    rules.add(F.col("household_id").isNull() & F.col("nik").isNull(), MISSING_SUBJECT,
              "neither household_id nor head_nik given")
    rules.add(F.col("nik_problem").isNotNull(), INVALID_NIK, F.concat(F.lit("head_nik: "), F.col("nik_problem")))
    rules.add(F.col("household_id").isNotNull() & F.col("_hh").isNull(), UNKNOWN_HOUSEHOLD,
              "household_id not among the survey households")
    rules.add(F.col("_hh_village") != F.col("village_code"), VILLAGE_MISMATCH,
              F.concat(F.lit("household is in village "), F.col("_hh_village")))
    rules.add(objection & (F.col("filer_relation") != "NEIGHBOUR"), FILER_NOT_NEIGHBOUR,
              F.concat(F.lit("objection filed by "), F.col("filer_relation")))
    rules.add(objection & ~(F.col("has_photo") & F.col("has_gps")), NO_EVIDENCE, "objection without photo and GPS")
    out = rules.apply(df).drop("_ref_village", "_hh", "_hh_village")
    return _keep_latest(out, ["appeal_id"], [F.col(REASON).asc_nulls_first(), F.col("filed_at").desc()])


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
    rules.add(~F.col("decision").isin(*DECISIONS), BAD_VALUE, F.concat(F.lit("decision="), F.col("decision")))
    rules.add(F.to_date("decided_at") > F.lit(as_of), OUT_OF_RANGE, F.concat(
        F.lit("decided_at after the as-of date: "), F.col("decided_at").cast("string")))
    rules.add(F.col("_known").isNull(), UNKNOWN_PAIR, "no such pair was sent for review")
    out = rules.apply(df).drop("_known")
    return _keep_latest(out, list(PAIR), [F.col(REASON).asc_nulls_first(), F.col("decided_at").desc()])
