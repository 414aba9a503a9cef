"""Stage `ingest`: validate every input row, match members to the registry, quarantine with reasons.

read (all sources, contract checked before any write) -> transform (pure) -> reconcile -> write:
identity_vault, silver_registry, quarantine, silver_survey (current interview per household, its
roster nested so one MERGE replaces it), then the national re-match into silver_households and
silver_members (MERGE: only changed rows are rewritten), and silver_training.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import households as hh_features
from jobs import landing, matching, pseudonym, questionnaire, regions, validation
from jobs.runtime import tables
from jobs.runtime.config import DtksConfig, nik_key
from jobs.runtime.errors import UserError
from jobs.runtime.runs import StageResult
from jobs.runtime.stage import StageContext, main_for

NAME = "ingest"
HELP = "validate landing files, match members to the registry by NIK, write silver tables and quarantine"
log = logging.getLogger(__name__)

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
class Batch:
    """The transformed batch: checked rows (with _reason) per source and what goes where."""

    checked: dict[str, DataFrame]
    accepted: dict[str, DataFrame]
    quarantine: DataFrame
    registry: DataFrame
    vault: DataFrame
    survey: DataFrame
    training_members: DataFrame


def _quarantine_rows(df: DataFrame, source: str, key: DataFrame | F.Column, run_id: str) -> DataFrame:
    return df.where(F.col(validation.REASON).isNotNull()).select(
        F.lit(source).alias("source"),
        key.alias("record_key"),
        F.col(validation.REASON).alias("reason_code"),
        F.col(validation.DETAIL).alias("detail"),
        F.lit(run_id).alias("run_id"),
    )


def _member_key(df: DataFrame, key: bytes) -> F.Column:
    both = F.col("household_id").isNotNull() & F.col("member_no").isNotNull()
    return F.coalesce(
        F.when(both, F.concat_ws(":", F.col("household_id"), F.col("member_no").cast("string"))),
        pseudonym.row_token(df, key),
    )


def transform(
    raw: dict[str, DataFrame],
    q: questionnaire.Questionnaire,
    ref: regions.RegionReference,
    villages: DataFrame,
    key: bytes,
    as_of: dt.date,
    run_id: str,
) -> Batch:
    """Pure: DataFrames in, DataFrames out. Every input row ends accepted or in quarantine."""
    provinces = sorted(ref.provinces["province_code"])
    reg = validation.registry(raw[landing.REGISTRY], provinces, villages, as_of)
    hh = validation.households(raw[landing.SURVEY_HOUSEHOLDS], q, villages)
    mem = validation.members(raw[landing.SURVEY_MEMBERS], q, hh, provinces, as_of)
    thh = _training_rules(validation.households(raw[landing.TRAINING_HOUSEHOLDS], q, villages))
    tmem = validation.members(raw[landing.TRAINING_MEMBERS], q, thh, provinces, as_of)
    checked = {
        landing.REGISTRY: reg,
        landing.SURVEY_HOUSEHOLDS: hh,
        landing.SURVEY_MEMBERS: mem,
        landing.TRAINING_HOUSEHOLDS: thh,
        landing.TRAINING_MEMBERS: tmem,
    }
    checked = {s: df.persist(StorageLevel.MEMORY_AND_DISK) for s, df in checked.items()}
    accepted = {s: df.where(F.col(validation.REASON).isNull()) for s, df in checked.items()}

    quarantine = (
        _quarantine_rows(
            checked[landing.REGISTRY],
            landing.REGISTRY,
            F.coalesce(
                F.when(F.col(validation.REASON) != validation.INVALID_NIK, pseudonym.nik.token(F.col("nik"), key)),
                pseudonym.row_token(checked[landing.REGISTRY], key),
            ),
            run_id,
        )
        .unionByName(
            _quarantine_rows(
                checked[landing.SURVEY_HOUSEHOLDS],
                landing.SURVEY_HOUSEHOLDS,
                F.coalesce(F.col("household_id"), pseudonym.row_token(hh, key)),
                run_id,
            )
        )
        .unionByName(
            _quarantine_rows(checked[landing.SURVEY_MEMBERS], landing.SURVEY_MEMBERS, _member_key(mem, key), run_id)
        )
        .unionByName(
            _quarantine_rows(
                checked[landing.TRAINING_HOUSEHOLDS],
                landing.TRAINING_HOUSEHOLDS,
                F.coalesce(F.col("household_id"), pseudonym.row_token(thh, key)),
                run_id,
            )
        )
        .unionByName(
            _quarantine_rows(
                checked[landing.TRAINING_MEMBERS], landing.TRAINING_MEMBERS, _member_key(tmem, key), run_id
            )
        )
    )

    reg_ok = accepted[landing.REGISTRY]
    registry = pseudonym.tokenise(reg_ok, key, provinces, as_of).select(
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
    vault = (
        pseudonym.vault_rows(reg_ok, key, provinces, as_of)
        .unionByName(pseudonym.vault_rows(accepted[landing.SURVEY_MEMBERS], key, provinces, as_of))
        .unionByName(pseudonym.vault_rows(accepted[landing.TRAINING_MEMBERS], key, provinces, as_of))
        .dropDuplicates(["nik_token"])
    )
    survey = _nest(
        accepted[landing.SURVEY_HOUSEHOLDS], accepted[landing.SURVEY_MEMBERS], key, provinces, as_of, q, run_id
    )
    training_members = pseudonym.tokenise(accepted[landing.TRAINING_MEMBERS], key, provinces, as_of)
    return Batch(checked, accepted, quarantine, registry, vault, survey, training_members)


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


def _nest(
    hh: DataFrame,
    mem: DataFrame,
    key: bytes,
    provinces: list[str],
    as_of: dt.date,
    q: questionnaire.Questionnaire,
    run_id: str,
) -> DataFrame:
    """One row per household with its roster as an array, so a MERGE swaps the whole roster."""
    tok = pseudonym.tokenise(mem, key, provinces, as_of)
    roster = tok.groupBy("household_id").agg(F.sort_array(F.collect_list(F.struct(*MEMBER_FIELDS))).alias("members"))
    base = hh.drop(validation.REASON, validation.DETAIL, landing.BAD_COLUMNS)
    base = base.select(*[c for c in base.columns if c != "kk_number"], pseudonym.kk_token(key))
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


def rematch(survey: DataFrame, registry: DataFrame, q: questionnaire.Questionnaire) -> tuple[DataFrame, DataFrame]:
    """National re-match of every current roster: (households with features, members with status)."""
    members = matching.match(current_members(survey), registry)
    households = hh_features.features(survey.drop("members"), members)
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


def training_features(batch: Batch, registry: DataFrame) -> DataFrame:
    thh = batch.accepted[landing.TRAINING_HOUSEHOLDS].drop(validation.REASON, validation.DETAIL, landing.BAD_COLUMNS)
    members = batch.training_members.drop("interview_date").join(
        thh.select("household_id", "interview_start", F.to_date("interview_start").alias("interview_date")),
        "household_id",
    )
    matched = matching.match(members.drop(validation.REASON, validation.DETAIL, landing.BAD_COLUMNS), registry)
    feats = hh_features.features(thh.drop("kk_number"), matched)
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


def reconcile(batch: Batch, raw: dict[str, DataFrame]) -> dict[str, dict[str, int]]:
    """rows read = rows accepted + rows quarantined, per source; the run fails if it does not hold."""
    quarantined = {r.source: r.n for r in batch.quarantine.groupBy("source").agg(F.count("*").alias("n")).collect()}
    counts = {}
    for source in landing.SOURCES:
        read = raw[source].count()
        accepted = batch.accepted[source].count()
        q = quarantined.get(source, 0)
        counts[source] = {"read": read, "accepted": accepted, "quarantined": q}
        if read != accepted + q:
            raise UserError(f"reconciliation failed for {source}: read {read} != accepted {accepted} + quarantined {q}")
    return counts


def write(
    spark: SparkSession, config: DtksConfig, batch: Batch, q: questionnaire.Questionnaire, run_id: str
) -> dict[str, int]:
    tables.upsert(spark, config, tables.IDENTITY_VAULT, batch.vault, ["nik_token"], update_condition="false")
    tables.overwrite(batch.registry, config, tables.REGISTRY, partition_by=["province_code"])
    tables.upsert(
        spark,
        config,
        tables.QUARANTINE,
        batch.quarantine,
        ["source", "record_key", "reason_code"],
        partition_by=["source"],
        update_condition="false",
    )
    # Latest interview wins; an equal or older re-delivery changes nothing.
    tables.upsert(
        spark,
        config,
        tables.SURVEY,
        batch.survey,
        ["household_id"],
        partition_by=["province_code"],
        update_condition="s.interview_start > t.interview_start",
    )
    survey = tables.read(spark, config, tables.SURVEY)
    registry = tables.read(spark, config, tables.REGISTRY)
    households, members = rematch(survey, registry, q)
    hh_cols = [c for c in households.columns if c != "ingest_run_id"]
    households = households.withColumn("row_hash", tables.row_hash(hh_cols))
    mem_cols = members.columns
    members = members.withColumn("row_hash", tables.row_hash(mem_cols)).withColumn("updated_run_id", F.lit(run_id))
    tables.upsert(
        spark,
        config,
        tables.HOUSEHOLDS,
        households,
        ["household_id"],
        ["province_code", "regency_code"],
        update_condition="s.row_hash <> t.row_hash",
        delete_missing=True,
    )
    tables.upsert(
        spark,
        config,
        tables.MEMBERS,
        members,
        ["household_id", "member_no"],
        ["province_code", "regency_code"],
        update_condition="s.row_hash <> t.row_hash",
        delete_missing=True,
    )
    training = training_features(batch, registry)
    tables.overwrite(training, config, tables.TRAINING)
    return {"households": tables.read(spark, config, tables.HOUSEHOLDS).count()}


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
    batch = transform(raw, q, ref, villages, key, as_of, ctx.run_id)
    counts = reconcile(batch, raw)
    for source, n in out_of_scope.items():
        counts[source]["out_of_scope"] = n
    written = write(spark, config, batch, q, ctx.run_id)
    for df in batch.checked.values():
        df.unpersist()
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
