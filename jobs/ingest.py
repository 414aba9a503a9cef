"""Stage `ingest`: validate every input row, match members to the registry, quarantine with reasons.

read (all sources, contract checked before any write) -> check -> reconcile -> transform (pure) -> write.
Each source is validated and tokenised once, in one pass that also counts it (rows read, accepted,
quarantined: `Observation`s on that pass) and stores its rows in the run's staging area (Parquet,
deleted at the end) for the writes that follow; the run stops before writing any table if a count
does not balance. Then: identity_vault and quarantine
(insert-only), silver_registry (replaced: the registry is delivered whole), silver_survey (only new or
newer interviews; each roster nested so one row carries it), the national re-match into
silver_households and silver_members (replaced: derived from the whole current survey), silver_training.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs import households as hh_features
from jobs import landing, matching, nik, pseudonym, questionnaire, regions, validation
from jobs.runtime import tables
from jobs.runtime.config import DtksConfig, nik_key
from jobs.runtime.errors import UserError
from jobs.runtime.runs import StageResult
from jobs.runtime.stage import StageContext, main_for

NAME = "ingest"
HELP = "validate landing files, match members to the registry by NIK, write silver tables and quarantine"
log = logging.getLogger(__name__)
RECORD_KEY = "_record_key"

MEMBER_FIELDS = (
    "member_no",
    "nik_token",
    "nik_problem",
    "birth_date",
    "sex",
    "relationship",
    "education",
    "employment",
    "disability",
    "chronic_illness",
    "pregnant",
    "in_school",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--landing", help="landing folder (default: config landing.root)")
    parser.add_argument("--format", choices=("parquet", "csv"), help="input format (default: config landing.format)")
    add_run_arguments(parser)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options `dtks run` accepts too (its landing folder is landing.root: --set landing.root=PATH)."""
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, help="date NIK birth dates are checked against (default: today, UTC)"
    )


@dataclass
class Checked:
    """Each source's rows with their verdicts, stored once, and the counts taken on the pass that made them."""

    rows: dict[str, DataFrame]
    read: dict[str, Observation]
    verdicts: dict[str, Observation]


@dataclass
class Batch:
    """What goes where, derived from the checked rows."""

    quarantine: DataFrame
    registry: DataFrame
    vault: DataFrame
    survey: DataFrame
    training_members: DataFrame
    training_households: DataFrame


def _member_key(raw: DataFrame, key: bytes) -> Column:
    both = F.col("household_id").isNotNull() & F.col("member_no").isNotNull()
    return F.coalesce(
        F.when(both, F.concat_ws(":", F.col("household_id"), F.col("member_no").cast("string"))),
        pseudonym.row_token(raw, key),
    )


def _finish(checked: DataFrame, record_key: Column, key: bytes) -> tuple[DataFrame, Observation]:
    """Tokens once, a record key for rejected rows only, personal columns other than the NIK dropped;
    counted by an Observation on the same pass."""
    out = checked.withColumn(RECORD_KEY, F.when(F.col(validation.REASON).isNotNull(), record_key))
    if "nik_problem" in out.columns:
        out = out.withColumn("nik_token", F.when(F.col("nik_problem").isNull(), nik.token(F.col("nik"), key)))
    if "kk_number" in out.columns:
        out = out.withColumn("kk_token", pseudonym.kk_token(key))
    out = out.drop(*[c for c in ("full_name", "kk_number", landing.BAD_COLUMNS) if c in out.columns])
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
    q: questionnaire.Questionnaire,
    ref: regions.RegionReference,
    villages: DataFrame,
    key: bytes,
    as_of: dt.date,
    put: Callable[[str, DataFrame], DataFrame],
) -> Checked:
    """Validate and tokenise every source in one pass each; `put` stores a pass's rows and returns them.

    Households are stored before members, so members are checked against the stored household verdicts
    rather than a second validation of the households. Every input row ends accepted or quarantined.
    """
    provinces = sorted(ref.provinces["province_code"])
    reads = {s: Observation() for s in landing.SOURCES}
    counted = {s: df.observe(reads[s], F.count(F.lit(1)).alias("rows")) for s, df in raw.items()}
    rows, verdicts = {}, {}

    def finish(source: str, df: DataFrame, record_key: Column) -> DataFrame:
        out, verdicts[source] = _finish(df, record_key, key)
        rows[source] = put(source, out)
        return rows[source]

    registry_key = F.coalesce(
        F.when(F.col(validation.REASON) != validation.INVALID_NIK, nik.token(F.col("nik"), key)),
        pseudonym.row_token(raw[landing.REGISTRY], key),
    )
    finish(landing.REGISTRY, validation.registry(counted[landing.REGISTRY], provinces, villages, as_of), registry_key)
    for hh_source, member_source in (
        (landing.SURVEY_HOUSEHOLDS, landing.SURVEY_MEMBERS),
        (landing.TRAINING_HOUSEHOLDS, landing.TRAINING_MEMBERS),
    ):
        checked_hh = validation.households(counted[hh_source], q, villages)
        if hh_source == landing.TRAINING_HOUSEHOLDS:
            checked_hh = _training_rules(checked_hh)
        hh_key = F.coalesce(F.col("household_id"), pseudonym.row_token(raw[hh_source], key))
        stored = finish(hh_source, checked_hh, hh_key)
        checked_members = validation.members(counted[member_source], q, stored, provinces, as_of)
        finish(member_source, checked_members, _member_key(raw[member_source], key))
    return Checked(rows, reads, verdicts)


def transform(checked: Checked, run_id: str) -> Batch:
    """Pure: the checked rows in, each table's rows out."""
    accepted = {s: df.where(F.col(validation.REASON).isNull()) for s, df in checked.rows.items()}
    quarantine = reduce(
        DataFrame.unionByName,
        [
            df.where(F.col(validation.REASON).isNotNull()).select(
                F.lit(source).alias("source"),
                F.col(RECORD_KEY).alias("record_key"),
                F.col(validation.REASON).alias("reason_code"),
                F.col(validation.DETAIL).alias("detail"),
                F.lit(run_id).alias("run_id"),
            )
            for source, df in checked.rows.items()
        ],
    )
    registry = accepted[landing.REGISTRY].select(
        "nik_token",
        "kk_token",
        "birth_date",
        "sex",
        "village_code",
        regions.province_code(F.col("village_code")),
        "relationship",
        "death_date",
        "updated_at",
    )
    vault = reduce(
        DataFrame.unionByName,
        [
            accepted[s].where(F.col("nik_token").isNotNull()).select("nik_token", "nik")
            for s in (landing.REGISTRY, landing.SURVEY_MEMBERS, landing.TRAINING_MEMBERS)
        ],
    ).dropDuplicates(["nik_token"])
    survey = _nest(accepted[landing.SURVEY_HOUSEHOLDS], accepted[landing.SURVEY_MEMBERS], run_id)
    return Batch(
        quarantine,
        registry,
        vault,
        survey,
        accepted[landing.TRAINING_MEMBERS].drop("nik", validation.REASON, validation.DETAIL, RECORD_KEY),
        accepted[landing.TRAINING_HOUSEHOLDS].drop(validation.REASON, validation.DETAIL, RECORD_KEY, "kk_token"),
    )


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


def _nest(hh: DataFrame, mem: DataFrame, run_id: str) -> DataFrame:
    """One row per household with its roster as an array, so one row replaces the whole roster."""
    roster = mem.groupBy("household_id").agg(F.sort_array(F.collect_list(F.struct(*MEMBER_FIELDS))).alias("members"))
    base = hh.drop(validation.REASON, validation.DETAIL, RECORD_KEY)
    return (
        base.join(roster, "household_id", "left")
        .withColumn("members", F.coalesce(F.col("members"), F.array().cast(roster.schema["members"].dataType)))
        .withColumn("province_code", regions.province_code(F.col("village_code")))
        .withColumn("ingest_run_id", F.lit(run_id))
    )


def current_members(survey: DataFrame) -> DataFrame:
    """Flatten the current rosters (one row per listed member) with their household's interview."""
    return survey.select(
        "household_id",
        "interview_start",
        F.to_date("interview_start").alias("interview_date"),
        "village_code",
        F.explode("members").alias("m"),
    ).select("household_id", "interview_start", "interview_date", "village_code", "m.*")


def rematch(
    survey: DataFrame, registry: DataFrame, put: Callable[[str, DataFrame], DataFrame]
) -> tuple[DataFrame, DataFrame]:
    """National re-match of every current roster: (households with features, members with status),
    both made from one stored match (`put`), so the two writes match once."""
    members = put("matched", matching.match(current_members(survey), registry))
    households = hh_features.features(survey.drop("members"), members)
    households = households.withColumn(
        "row_hash", tables.row_hash([c for c in households.columns if c != "ingest_run_id"])
    )
    member_out = members.select(
        "household_id",
        "member_no",
        "nik_token",
        "match_status",
        "match_detail",
        "sex",
        "birth_date",
        hh_features.age_years("birth_date", "interview_date").alias("age"),
        "relationship",
        "education",
        "employment",
        "disability",
        "chronic_illness",
        "pregnant",
        "in_school",
        "interview_date",
        regions.province_code(F.col("village_code")),
        regions.regency_code(F.col("village_code")),
    )
    return households, member_out


def training_features(households: DataFrame, members: DataFrame, registry: DataFrame) -> DataFrame:
    dated = members.drop("interview_date").join(
        households.select("household_id", "interview_start", F.to_date("interview_start").alias("interview_date")),
        "household_id",
    )
    matched = matching.match(dated, registry)
    feats = hh_features.features(households, matched)
    return feats.withColumn("log_consumption_per_capita", F.log(F.col("consumption_per_capita")))


def restrict(raw: dict[str, DataFrame], codes: tuple[str, ...]) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """A trial's share of each source and how many rows fell outside it.

    Registry persons and households by their village code; members with their household, so a
    member whose household is outside the trial (or missing) is outside it too.
    """
    scoped = {landing.REGISTRY: raw[landing.REGISTRY].where(regions.in_scope(F.col("village_code"), codes))}
    for hh_source, member_source in (
        (landing.SURVEY_HOUSEHOLDS, landing.SURVEY_MEMBERS),
        (landing.TRAINING_HOUSEHOLDS, landing.TRAINING_MEMBERS),
    ):
        hh = raw[hh_source].where(regions.in_scope(F.col("village_code"), codes))
        scoped[hh_source] = hh
        ids = hh.where(F.col("household_id").isNotNull()).select("household_id").distinct()
        members = raw[member_source]
        scoped[member_source] = members.join(ids, "household_id", "left_semi").select(*members.columns)
    outside = {s: raw[s].count() - scoped[s].count() for s in landing.SOURCES}
    return scoped, outside


def reconcile(checked: Checked) -> dict[str, dict[str, int]]:
    """rows read = rows accepted + rows quarantined, per source, from the checking pass's own counts;
    the run fails before any table is written if it does not hold."""
    counts = {}
    for source in landing.SOURCES:
        read = int(checked.read[source].get["rows"])
        verdict = checked.verdicts[source].get
        accepted, quarantined = int(verdict["accepted"]), int(verdict["quarantined"])
        counts[source] = {"read": read, "accepted": accepted, "quarantined": quarantined}
        if read != accepted + quarantined:
            raise UserError(
                f"reconciliation failed for {source}: read {read} != accepted {accepted} + quarantined {quarantined}"
            )
    return counts


def write(
    spark: SparkSession,
    config: DtksConfig,
    batch: Batch,
    counts: dict[str, dict[str, int]],
    put: Callable[[str, DataFrame], DataFrame],
) -> dict[str, int]:
    """The writes, from the checked rows; `counts` (reconcile's) sizes the unpartitioned tables' files."""
    accepted = {s: c["accepted"] for s, c in counts.items()}
    # The vault holds about one token per registry person (survey NIKs are mostly the same persons).
    tables.insert_new(spark, config, tables.IDENTITY_VAULT, batch.vault, rows=accepted[landing.REGISTRY])
    tables.insert_new(spark, config, tables.QUARANTINE, batch.quarantine)
    tables.overwrite(batch.registry, config, tables.REGISTRY, rows=accepted[landing.REGISTRY])
    surveyed = accepted[landing.SURVEY_HOUSEHOLDS]
    tables.merge_newer(spark, config, tables.SURVEY, batch.survey, rows=surveyed)
    survey = tables.read(spark, config, tables.SURVEY)
    households, members = rematch(survey, batch.registry, put)
    current = Observation()
    households = households.observe(current, F.count(F.lit(1)).alias("rows"))
    tables.overwrite(households, config, tables.HOUSEHOLDS, rows=surveyed)
    tables.overwrite(members, config, tables.MEMBERS, rows=accepted[landing.SURVEY_MEMBERS])
    training = training_features(batch.training_households, batch.training_members, batch.registry)
    tables.overwrite(training, config, tables.TRAINING, rows=accepted[landing.TRAINING_HOUSEHOLDS])
    return {"households": int(current.get["rows"])}


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    key = nik_key(ctx.config)  # a missing key stops the run before Spark starts
    config, spark = ctx.config, ctx.spark
    q = questionnaire.load(config)
    ref = regions.load(config)
    landing_root = str(config.path(args.landing or config.landing.root))
    fmt = args.format or config.landing.format
    as_of = args.as_of or dt.datetime.now(dt.UTC).date()
    raw = {s: landing.read_source(spark, landing_root, s, fmt, q) for s in landing.SOURCES}
    out_of_scope: dict[str, int] = {}
    if config.is_trial:
        regions.check_scope(ref, config.trial.regions)
        raw, out_of_scope = restrict(raw, config.trial.regions)
    villages = F.broadcast(regions.villages_df(spark, regions.reference_dir(config)))
    with tables.staging(spark, config, ctx.run_id) as area:
        checked = check(raw, q, ref, villages, key, as_of, area.put)
        counts = reconcile(checked)
        for source, n in out_of_scope.items():
            counts[source]["out_of_scope"] = n
        written = write(spark, config, transform(checked, ctx.run_id), counts, area.put)
    details = {f"{s}.{k}": str(v) for s, c in counts.items() for k, v in c.items()}
    rows_in = sum(c["read"] for c in counts.values())
    rows_out = sum(c["accepted"] for c in counts.values())
    quarantined = sum(c["quarantined"] for c in counts.values())
    summary = [
        f"ingest: {rows_in:,} rows read, {rows_out:,} accepted, {quarantined:,} quarantined; "
        f"{written['households']:,} current survey households"
    ]
    return StageResult(rows_in=rows_in, rows_out=rows_out, details=details, summary=summary)


if __name__ == "__main__":
    sys.exit(main_for(NAME))
