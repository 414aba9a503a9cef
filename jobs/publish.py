"""Stage `publish`: national ranking, deciles, coverage, programme eligibility; gates, then gold tables.

Write-audit-publish: the outputs are computed and staged (persisted), the gates run on them, and only
when every gate passes are dtks_households, dtks_members and program_eligibility written, each by a
single MERGE so a reader sees the previous version or the new one. Unchanged rows are not rewritten,
so a re-run on unchanged inputs leaves the tables identical and the eligibility change feed empty.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import eligibility, gates, ranking
from jobs.households import FEATURE_COLUMNS
from jobs.questionnaire import load as load_questionnaire
from jobs.runtime import faults, tables
from jobs.runtime.config import DtksConfig
from jobs.runtime.errors import GateFailed, UserError
from jobs.runtime.runs import StageResult
from jobs.runtime.stage import StageContext, main_for
from jobs.runtime.tracking import setup_mlflow

NAME = "publish"
HELP = "rank households nationally into deciles, apply coverage and programme rules, publish gold tables"
log = logging.getLogger(__name__)
CDF = {"delta.enableChangeDataFeed": "true"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--coverage", type=float, help="coverage target, e.g. 0.4 (default: config ranking.coverage_target)"
    )


def population(spark: SparkSession, config: DtksConfig) -> int:
    """National population P: the official total when configured, else living persons in the registry."""
    if config.ranking.official_population:
        return config.ranking.official_population
    registry = tables.read(spark, config, tables.REGISTRY)
    return registry.where(F.col("death_date").isNull()).count()


def build(
    households: DataFrame,
    scores: DataFrame,
    members: DataFrame,
    model_features: list[str],
    pop: int,
    coverage: float,
    run_id: str,
) -> tuple[DataFrame, DataFrame]:
    """Pure: (dtks_households, dtks_members) for this run, before run ids are reconciled."""
    scored = households.where("rankable").join(
        scores.select("household_id", "welfare_score", "model_name", "model_version"), "household_id"
    )
    ranked = ranking.rank_nationally(scored, pop, coverage)
    keep = [
        "household_id",
        "province_code",
        "regency_code",
        "district_code",
        "village_code",
        "is_urban",
        "interview_date",
        *FEATURE_COLUMNS,
        *[c for c in model_features if c not in FEATURE_COLUMNS and c not in ("province_code", "is_urban")],
        "welfare_score",
        "national_rank",
        "cum_persons",
        "cum_population_share",
        "decile",
        "within_coverage",
        "coverage_target",
        "model_name",
        "model_version",
    ]
    gold_hh = ranked.select(*dict.fromkeys(keep))
    ranked_ids = gold_hh.select("household_id", "decile", "within_coverage")
    gold_members = members.join(ranked_ids, "household_id").select(
        "household_id",
        "member_no",
        "nik_token",
        "match_status",
        "sex",
        "age",
        "relationship",
        (F.col("age") < 6).alias("is_child_u6"),
        F.col("age").between(6, 18).alias("is_school_age"),
        (F.col("age") >= 60).alias("is_elderly"),
        (F.col("disability") == 2).alias("severe_disability"),
        (F.col("disability") > 0).alias("any_disability"),
        (F.col("pregnant") == 1).alias("pregnant"),
        (F.col("chronic_illness") == 1).alias("chronic_illness"),
        (F.col("in_school") == 1).alias("in_school"),
        "decile",
        "within_coverage",
        "province_code",
        "regency_code",
    )
    return gold_hh, gold_members


def _with_run(df: DataFrame, run_id: str) -> DataFrame:
    return df.withColumn("row_hash", tables.row_hash(df.columns)).withColumn("run_id", F.lit(run_id))


def eligibility_rows(gold_hh: DataFrame, config: DtksConfig, run_id: str, run_date: dt.date) -> DataFrame:
    rules = eligibility.load(config.conf_file(config.programs_file))
    return (
        eligibility.eligibility(gold_hh, rules)
        .drop("decile")
        .withColumn("eligible_since", F.when(F.col("eligible"), F.lit(run_date)))
        .withColumn("updated_run_id", F.lit(run_id))
    )


def merge_eligibility(spark: SparkSession, config: DtksConfig, rows: DataFrame) -> None:
    """MERGE so the change feed holds exactly who entered and who left (and rule changes)."""
    from delta.tables import DeltaTable

    if not tables.exists(spark, config, tables.PROGRAM_ELIGIBILITY):
        empty = rows.limit(0)
        tables.overwrite(empty, config, tables.PROGRAM_ELIGIBILITY, ["program", "province_code"], properties=CDF)
    target = DeltaTable.forPath(spark, config.table_path(tables.PROGRAM_ELIGIBILITY)).alias("t")
    changed = "s.eligible <> t.eligible OR s.rule_version <> t.rule_version"
    (
        target.merge(rows.alias("s"), "t.program = s.program AND t.household_id = s.household_id")
        .whenMatchedUpdate(
            condition=changed,
            set={
                "eligible": "s.eligible",
                "eligible_since": "CASE WHEN s.eligible AND NOT t.eligible THEN s.eligible_since "
                "WHEN s.eligible THEN t.eligible_since END",
                "rule_version": "s.rule_version",
                "updated_run_id": "s.updated_run_id",
            },
        )
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete()
        .execute()
    )


def record_publication(
    spark: SparkSession, config: DtksConfig, run_id: str, coverage: float, models_used: list[tuple[str, str]]
) -> int:
    """Append the versions the three gold tables now have: the one commit that makes them published."""
    versions = {name: tables.version(spark, config, name) for name in tables.GOLD}
    previous = tables.read(spark, config, tables.PUBLICATIONS) if tables.exists(
        spark, config, tables.PUBLICATIONS) else None
    number = (previous.agg(F.max("publication_id")).first()[0] or 0) + 1 if previous is not None else 1
    row = spark.createDataFrame(
        [(number, run_id, dt.datetime.now(dt.UTC), coverage, ",".join(f"{n}:{v}" for n, v in models_used), versions)],
        "publication_id long, run_id string, published_at timestamp, coverage_target double, models string, "
        "versions map<string,long>",
    )
    tables.append(row, config, tables.PUBLICATIONS)
    log.info("publication %d: %s", number, ", ".join(f"{n} v{v}" for n, v in versions.items()))
    return number


def last_ingest(spark: SparkSession, config: DtksConfig) -> dict | None:
    if not tables.exists(spark, config, tables.PIPELINE_RUNS):
        return None
    row = (
        tables.read(spark, config, tables.PIPELINE_RUNS)
        .where("stage = 'ingest' AND status = 'SUCCEEDED'")
        .orderBy(F.col("finished_at").desc())
        .first()
    )
    return row.asDict() if row else None


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    spark, config = ctx.spark, ctx.config
    for needed, stage in ((tables.HOUSEHOLDS, "ingest"), (tables.SCORES, "score")):
        if not tables.exists(spark, config, needed):
            raise UserError(f"{config.table_path(needed)} not found: run `dtks {stage}` first")
    coverage = args.coverage if args.coverage is not None else config.ranking.coverage_target
    if not 0 < coverage <= 1:
        raise UserError(f"--coverage must be in (0, 1], got {coverage}")
    setup_mlflow(config)
    households = tables.read(spark, config, tables.HOUSEHOLDS)
    scores = tables.read(spark, config, tables.SCORES)
    members = tables.read(spark, config, tables.MEMBERS)
    pop = population(spark, config)
    q = load_questionnaire(config)
    gold_hh, gold_members = build(
        households,
        scores,
        members,
        list(q.model.get("numeric", [])) + list(q.model.get("categorical", [])),
        pop,
        coverage,
        ctx.run_id,
    )
    gold_hh = _with_run(gold_hh, ctx.run_id).persist(StorageLevel.MEMORY_AND_DISK)
    gold_members = _with_run(gold_members, ctx.run_id).persist(StorageLevel.MEMORY_AND_DISK)

    # Distinct (model name, version) pairs: one or two rows, whatever the nation's size.
    models_used = sorted(tuple(r) for r in gold_hh.select("model_name", "model_version").distinct().collect())
    versions = [v for _, v in models_used]
    results = [gates.reconciliation(last_ingest(spark, config))]
    results += gates.match_rates(gold_members, config.thresholds)
    results.append(gates.regions_covered(households, gold_hh))
    results += [gates.model_registered(n, v) for n, v in models_used] or [
        gates.GateResult("model_registered", False, "no scored household")
    ]
    failed = [g for g in results if not g.passed]
    for g in results:
        log.info("gate %-20s %s: %s", g.name, "PASS" if g.passed else "FAIL", g.detail)
    if failed:
        gold_hh.unpersist()
        gold_members.unpersist()
        raise GateFailed(
            "publish stopped, gold tables unchanged; failed gate(s): "
            + "; ".join(f"{g.name}: {g.detail}" for g in failed)
        )

    run_date = dt.datetime.now(dt.UTC).date()
    elig = eligibility_rows(gold_hh, config, ctx.run_id, run_date)
    update = "s.row_hash <> t.row_hash"
    tables.upsert(
        spark,
        config,
        tables.DTKS_HOUSEHOLDS,
        gold_hh,
        ["household_id"],
        ["province_code", "regency_code"],
        update_condition=update,
        delete_missing=True,
    )
    tables.upsert(
        spark,
        config,
        tables.DTKS_MEMBERS,
        gold_members,
        ["household_id", "member_no"],
        ["province_code", "regency_code"],
        update_condition=update,
        delete_missing=True,
    )
    faults.failpoint("publish.between_gold_tables")
    merge_eligibility(spark, config, elig)
    record_publication(spark, config, ctx.run_id, coverage, models_used)

    published = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)
    stats = published.agg(
        F.count(F.lit(1)).alias("households"),
        F.sum("hh_size").alias("persons"),
        F.sum(F.when(F.col("within_coverage"), F.col("hh_size")).otherwise(0)).alias("covered"),
    ).first()
    deciles = {r.decile: r.n for r in published.groupBy("decile").agg(F.sum("hh_size").alias("n")).collect()}
    programs = {
        r.program: r.n
        for r in tables.read_published(spark, config, tables.PROGRAM_ELIGIBILITY)
        .where("eligible")
        .groupBy("program")
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    }
    gold_hh.unpersist()
    gold_members.unpersist()
    covered = stats.covered or 0
    summary = [
        f"publish: {stats.households:,} households ranked ({stats.persons:,} persons; national population P = {pop:,})",
        f"  within coverage: {covered:,} persons = {covered / pop:.1%} of P (target {coverage:.0%})",
        "  persons by decile: " + ", ".join(f"{d}: {deciles.get(d, 0):,}" for d in range(1, 11)),
        "  eligible households: " + ", ".join(f"{p} {n:,}" for p, n in sorted(programs.items())),
    ]
    return StageResult(
        rows_in=households.count(),
        rows_out=stats.households,
        model_version=",".join(versions),
        details={
            "population": str(pop),
            "coverage_target": str(coverage),
            "persons_covered": str(covered),
            **{f"gate.{g.name}": g.detail for g in results},
        },
        summary=summary,
    )


if __name__ == "__main__":
    sys.exit(main_for(NAME))
