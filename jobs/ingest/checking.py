"""Checking every delivered row once: validation verdicts, tokens, record keys, and the counts taken on
that same pass (rows read = accepted + quarantined, per source).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from jobs.core import contract, nik, pseudonym, questionnaire, regions
from jobs.ingest import landing, validation
from runtime.errors import UserError

RECORD_KEY = "_record_key"


@dataclass
class Checked:
    """Each source's rows with their verdicts, stored once, and the counts taken on the pass that made them."""

    rows: dict[str, DataFrame]
    read: dict[str, Observation]
    verdicts: dict[str, Observation]


def _member_key(raw: DataFrame) -> Column:
    both = F.col("household_id").isNotNull() & F.col("member_no").isNotNull()
    return F.coalesce(
        F.when(both, F.concat_ws(":", F.col("household_id"), F.col("member_no").cast("string"))),
        pseudonym.row_token(raw),
    )


def _finish(checked: DataFrame, record_key: Column, provinces: list[str]) -> tuple[DataFrame, Observation]:
    """Tokens once, a record key and the province the row is from for rejected rows only (a member's: its
    household's), personal columns other than the NIK, KK number and name dropped; counted by an Observation on
    the same pass."""
    rejected = F.col(validation.REASON).isNotNull()
    place = F.col(validation.PROVINCE) if validation.PROVINCE in checked.columns else (
        F.expr(validation.province("village_code", provinces)) if "village_code" in checked.columns else F.lit(None))
    added = {RECORD_KEY: F.when(rejected, record_key), validation.PROVINCE: F.when(rejected, place).cast("string")}
    if "nik_problem" in checked.columns:
        added["nik_token"] = F.when(F.col("nik_problem").isNull(), nik.token(F.col("nik")))
    if "kk_number" in checked.columns:
        added["kk_token"] = pseudonym.kk_token()
    out = checked.withColumns(added)  # one projection, analysed once
    # NIK, KK number and name: for the vault and the identity tables (restricted), then dropped
    personal = ("previous_nik", landing.BAD_COLUMNS)
    out = out.drop(*[c for c in personal if c in out.columns])
    verdict = Observation()
    out = out.observe(
        verdict,
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col(validation.REASON).isNull()).alias("accepted"),
        F.count_if(F.col(validation.REASON).isNotNull()).alias("quarantined"),
    )
    return out, verdict


def check(
    raw: dict[str, DataFrame],
    questions: questionnaire.Questionnaire,
    ref: regions.RegionReference,
    villages: DataFrame,
    as_of: dt.date,
    put: Callable[[str, DataFrame], DataFrame],
    surveyed: DataFrame | None = None,
    reviewed: DataFrame | None = None,
) -> Checked:
    """Validate and tokenise every source in one pass each; `put` stores a pass's rows and returns them.

    Households are stored before members, so members are checked against the stored household verdicts
    rather than a second validation of the households. Appeals are checked against the households accepted
    here and those already in silver_survey (`surveyed`: household_id, village_code); linkage decisions against
    the pairs ever sent for review (`reviewed`: validation.PAIR, province_code, match_probability; None: none
    yet). Every input row ends accepted or quarantined.
    """
    provinces = sorted(ref.provinces["province_code"])
    reads = {s: Observation() for s in raw}
    counted = {s: df.observe(reads[s], F.count(F.lit(1)).alias("rows")) for s, df in raw.items()}
    rows, verdicts = {}, {}

    def finish(source: str, df: DataFrame, record_key: Column) -> DataFrame:
        out, verdicts[source] = _finish(df, record_key, provinces)
        rows[source] = put(source, out)
        return rows[source]

    source = contract.REGISTRY_CHANGES if contract.REGISTRY_CHANGES in raw else contract.REGISTRY
    registry_key = F.coalesce(
        F.when(F.col(validation.REASON) != validation.INVALID_NIK, nik.token(F.col("nik"))),
        pseudonym.row_token(raw[source]),
    )
    events = source == contract.REGISTRY_CHANGES
    checked_registry = validation.registry(counted[source], provinces, villages, as_of, changes=events)
    if events:  # the token a NIK correction replaces; the raw previous NIK goes no further
        correction = (F.col("change") == contract.NIK_CORRECTION) & F.col(validation.REASON).isNull()
        checked_registry = checked_registry.withColumn(
            "previous_token", F.when(correction, nik.token(F.col("previous_nik")))
        )
    finish(source, checked_registry, registry_key)
    pairs = [(contract.SURVEY_HOUSEHOLDS, contract.SURVEY_MEMBERS)]
    if contract.TRAINING_HOUSEHOLDS in raw:
        pairs.append((contract.TRAINING_HOUSEHOLDS, contract.TRAINING_MEMBERS))
    for hh_source, member_source in pairs:
        checked_hh = validation.households(counted[hh_source], questions, villages)
        if hh_source == contract.TRAINING_HOUSEHOLDS:
            checked_hh = _training_rules(checked_hh)
        hh_key = F.coalesce(F.col("household_id"), pseudonym.row_token(raw[hh_source]))
        stored = finish(hh_source, checked_hh, hh_key)
        checked_members = validation.members(counted[member_source], questions, stored, provinces, as_of)
        finish(member_source, checked_members, _member_key(raw[member_source]))
    if contract.APPEALS in raw:
        batch_hh = rows[contract.SURVEY_HOUSEHOLDS].where(F.col(validation.REASON).isNull()).select(
            "household_id", F.col("village_code").alias("_hh_village"))
        known = batch_hh if surveyed is None else batch_hh.unionByName(
            surveyed.join(batch_hh, "household_id", "left_anti").select(
                "household_id", F.col("village_code").alias("_hh_village")))
        appeals = counted[contract.APPEALS].withColumnRenamed("head_nik", "nik")
        checked_appeals = validation.appeals(appeals, provinces, villages, known, as_of)
        finish(contract.APPEALS, checked_appeals,
               F.coalesce(F.col("appeal_id"), pseudonym.row_token(appeals)))
    if contract.LINKAGE_DECISIONS in raw:
        decided = raw[contract.LINKAGE_DECISIONS]
        if reviewed is None:
            reviewed = decided.sparkSession.createDataFrame(
                [], "household_id string, member_no int, nik_token string, province_code string, "
                    "match_probability double")
        finish(contract.LINKAGE_DECISIONS, validation.decisions(counted[contract.LINKAGE_DECISIONS], reviewed, as_of),
               _member_key(decided))
    return Checked(rows, reads, verdicts)


def _training_rules(df: DataFrame) -> DataFrame:
    """Training households also need a positive consumption and weight."""
    for col in ("consumption_per_capita", "weight"):
        bad = F.col(validation.REASON).isNull() & (F.col(col).isNull() | (F.col(col) <= 0))
        df = df.withColumn(
            validation.DETAIL, F.when(bad, F.lit(f"{col} must be positive")).otherwise(F.col(validation.DETAIL))
        )
        df = df.withColumn(
            validation.REASON, F.when(bad, F.lit(validation.OUT_OF_RANGE)).otherwise(F.col(validation.REASON))
        )
    return df


def reconcile(checked: Checked) -> dict[str, dict[str, int]]:
    """rows read = rows accepted + rows quarantined, per source, from the checking pass's own counts;
    the run fails before any table is written if it does not hold."""
    counts = {}
    for source in checked.read:
        read = int(checked.read[source].get["rows"])
        verdict = checked.verdicts[source].get
        accepted, quarantined = int(verdict["accepted"]), int(verdict["quarantined"])
        counts[source] = {"read": read, "accepted": accepted, "quarantined": quarantined}
        if read != accepted + quarantined:
            raise UserError(
                f"reconciliation failed for {source}: read {read} != accepted {accepted} + quarantined {quarantined}"
            )
    return counts


def restrict(raw: dict[str, DataFrame], codes: tuple[str, ...]) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """A trial's share of each source and how many rows fell outside it.

    Registry persons, households and appeals by their village code; members with their household, so a
    member whose household is outside the trial (or missing) is outside it too.
    """
    scoped = {s: raw[s].where(regions.in_scope(F.col("village_code"), codes))
              for s in (contract.REGISTRY, contract.REGISTRY_CHANGES) if s in raw}
    for hh_source, member_source in (
        (contract.SURVEY_HOUSEHOLDS, contract.SURVEY_MEMBERS),
        (contract.TRAINING_HOUSEHOLDS, contract.TRAINING_MEMBERS),
    ):
        if hh_source not in raw:
            continue
        hh = raw[hh_source].where(regions.in_scope(F.col("village_code"), codes))
        scoped[hh_source] = hh
        ids = hh.where(F.col("household_id").isNotNull()).select("household_id").distinct()
        members = raw[member_source]
        scoped[member_source] = members.join(ids, "household_id", "left_semi").select(*members.columns)
    if contract.APPEALS in raw:  # an appeal belongs where it was filed
        scoped[contract.APPEALS] = raw[contract.APPEALS].where(regions.in_scope(F.col("village_code"), codes))
    if contract.LINKAGE_DECISIONS in raw:  # a decision belongs to its member's household
        ids = scoped[contract.SURVEY_HOUSEHOLDS].where(F.col("household_id").isNotNull()).select("household_id")
        decided = raw[contract.LINKAGE_DECISIONS]
        scoped[contract.LINKAGE_DECISIONS] = decided.join(ids.distinct(), "household_id", "left_semi").select(
            *decided.columns)
    outside = {s: raw[s].count() - scoped[s].count() for s in raw}
    return scoped, outside
