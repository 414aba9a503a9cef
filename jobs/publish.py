"""Stage `publish`: national ranking, deciles, coverage, programme eligibility; gates, then gold tables.

Write-audit-publish: the ranked households are computed once into the staging area (Parquet, removed
when the stage ends), the gates run on small aggregates of them and of their members, and only when
every gate passes is dtks_households replaced (one commit: it carries the national rank, which a 1 %
change moves for most households), dtks_members MERGEd with only the members that entered, changed or
left (it carries no rank, so an update round rewrites only those), and program_eligibility MERGEd with
its change set (who entered, who left, what changed), so its change feed holds exactly that. A row
keeps the run id of the run that last changed it, so a re-run on unchanged inputs leaves every table
identical and the change feed empty. The `publications` row
appended last is the switch that makes the three versions the published set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable

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
DELETE = "_delete"


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


def build_households(
    households: DataFrame, scores: DataFrame, model_features: list[str], pop: int, coverage: float
) -> DataFrame:
    """Pure: dtks_households for this run, before run ids are reconciled."""
    rankable = households.where("rankable")
    # Ranked on the few columns the rule needs (kept, so the range partitioning's sample and its shuffle
    # read them once), then joined back: the wide household rows are shuffled once.
    narrow = rankable.select("household_id", "hh_size").join(
        scores.select("household_id", "welfare_score", "model_name", "model_version"), "household_id"
    )
    ranked = ranking.rank_nationally(narrow.persist(StorageLevel.MEMORY_AND_DISK), pop, coverage)
    ranked = rankable.drop("hh_size").join(ranked, "household_id")
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
    return ranked.select(*dict.fromkeys(keep))


def build_members(members: DataFrame) -> DataFrame:
    """Pure: dtks_members rows of these (ranked households') members, before run ids, with their
    silver row's `row_hash`. No rank, decile or coverage here (they are the household's, in
    dtks_households), so a member's row changes only when the member does."""
    return members.select(
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
        "province_code",
        "regency_code",
        "row_hash",
    )


def with_run(df: DataFrame, previous: DataFrame | None, keys: list[str], run_id: str) -> DataFrame:
    """Add row_hash (unless the rows carry their source's) and run_id: the run that last changed the row
    (this one unless the previous publication holds the same content)."""
    hashed = df if "row_hash" in df.columns else df.withColumn("row_hash", tables.row_hash(df.columns))
    if previous is None:
        return hashed.withColumn("run_id", F.lit(run_id))
    prev = previous.select(*keys, "row_hash", F.col("run_id").alias("_prev_run"))
    return hashed.join(prev, [*keys, "row_hash"], "left").select(
        *hashed.columns, F.coalesce(F.col("_prev_run"), F.lit(run_id)).alias("run_id")
    )


def member_changes(members: DataFrame, gold_hh: DataFrame, current: DataFrame | None, run_id: str) -> DataFrame:
    """Pure: the change set against dtks_members, flagged `_delete` where a member leaves it.

    A gold member row is a function of its silver_members row, so it carries that row's `row_hash`:
    the comparison reads keys and hashes only, and gold rows are built for the members that are new
    to the table or changed (with this run's id), not for the whole nation."""
    keys = ["household_id", "member_no"]
    ranked = members.join(gold_hh.select("household_id"), "household_id", "left_semi")
    if current is None:
        todo = ranked
    else:
        cur = current.select(*keys, F.col("row_hash").alias("_t_hash"), F.col("province_code").alias("_t_province"),
                             F.col("regency_code").alias("_t_regency"))
        joined = ranked.select(*keys, "row_hash", F.lit(True).alias("_s")).join(cur, keys, "full")
        differs = F.col("_t_hash").isNull() | (F.col("_t_hash") != F.col("row_hash"))
        changed = joined.where(F.col("_s").isNull() | differs)
        todo = ranked.join(changed.where(F.col("_s")).select(*keys), keys, "left_semi")
        gone = changed.where(F.col("_s").isNull()).select(
            *keys, F.col("_t_province").alias("province_code"), F.col("_t_regency").alias("regency_code"))
    rows = build_members(todo).withColumn("run_id", F.lit(run_id)).withColumn(DELETE, F.lit(False))
    if current is None:
        return rows
    return rows.unionByName(gone.withColumn(DELETE, F.lit(True)), allowMissingColumns=True)


def write_members(spark: SparkSession, config: DtksConfig, members: DataFrame, gold_hh: DataFrame,
                  run_id: str, put: Callable[[str, DataFrame], DataFrame]) -> None:
    """Against the table's latest version (a publish killed after this write left it ahead of the
    published one): the MERGE then brings it to this run's rows whatever it held."""
    name = tables.DTKS_MEMBERS
    if not tables.has_columns(spark, config, name, "row_hash"):
        tables.overwrite(member_changes(members, gold_hh, None, run_id).drop(DELETE), config, name)
        return
    if not config.layout.gold_deletion_vectors:
        # Copy-on-write: a change set spread over the nation touches nearly every file, so a MERGE would
        # rewrite them all anyway, after joining the table; replacing it is cheaper and ends the same.
        rows = member_changes(members, gold_hh, None, run_id).drop(DELETE, "run_id")
        tables.overwrite(with_run(rows, tables.read(spark, config, name), ["household_id", "member_no"], run_id),
                         config, name)
        return
    # Stored first: a MERGE reads its source twice, and this one joins two tables of the nation's members.
    changes = put("member_changes", member_changes(members, gold_hh, tables.read(spark, config, name), run_id))
    tables.merge_changes(spark, config, name, changes, delete=DELETE)


def eligibility_rows(gold_hh: DataFrame, rules: eligibility.Programs, run_id: str, run_date: dt.date) -> DataFrame:
    return (
        eligibility.eligibility(gold_hh, rules)
        .drop("decile")
        .withColumn("eligible_since", F.when(F.col("eligible"), F.lit(run_date)))
        .withColumn("updated_run_id", F.lit(run_id))
    )


def eligibility_changes(rows: DataFrame, current: DataFrame) -> DataFrame:
    """The change set against the published table: new rows, rows whose eligibility or rule changed,
    and rows to delete (households no longer ranked), flagged by `_delete`."""
    keys = ["program", "household_id"]
    cur = current.select(*keys, F.col("eligible").alias("_t_eligible"), F.col("rule_version").alias("_t_rule"),
                         F.col("province_code").alias("_t_province"), F.col("regency_code").alias("_t_regency"))
    joined = rows.withColumn("_s", F.lit(True)).join(cur, keys, "full")
    gone = F.col("_s").isNull()
    changed = (
        F.col("_t_eligible").isNull()
        | (F.col("eligible") != F.col("_t_eligible"))
        | (F.col("rule_version") != F.col("_t_rule"))
    )
    return (
        joined.where(gone | changed)
        .withColumn("province_code", F.coalesce(F.col("province_code"), F.col("_t_province")))
        .withColumn("regency_code", F.coalesce(F.col("regency_code"), F.col("_t_regency")))
        .withColumn("_delete", gone)
        .select(*rows.columns, "_delete")
    )


def write_eligibility(spark: SparkSession, config: DtksConfig, rows: DataFrame,
                      put: Callable[[str, DataFrame], DataFrame]) -> None:
    """Only what changed goes in, so the change feed holds exactly who entered and who left."""
    name = tables.PROGRAM_ELIGIBILITY
    if not tables.exists(spark, config, name):
        tables.create_empty(spark, config, name, rows)  # change feed on from the first commit
        tables.append(rows, config, name)
        return
    current = tables.read_published(spark, config, name)
    tables.merge_changes(
        spark,
        config,
        name,
        put("eligibility_changes", eligibility_changes(rows, current)),
        update={
            "eligible": "s.eligible",
            "eligible_since": "CASE WHEN s.eligible AND NOT t.eligible THEN s.eligible_since "
            "WHEN s.eligible THEN t.eligible_since END",
            "rule_version": "s.rule_version",
            "updated_run_id": "s.updated_run_id",
        },
        delete="_delete",
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


def _published(spark: SparkSession, config: DtksConfig, name: str) -> DataFrame | None:
    return tables.read_published(spark, config, name) if tables.exists(spark, config, name) else None


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    spark, config = ctx.spark, ctx.config
    for needed, stage in ((tables.HOUSEHOLDS, "ingest"), (tables.SCORES, "score")):
        if not tables.exists(spark, config, needed):
            raise UserError(f"{config.table_path(needed)} not found: run `dtks {stage}` first")
    coverage = args.coverage if args.coverage is not None else config.ranking.coverage_target
    if not 0 < coverage <= 1:
        raise UserError(f"--coverage must be in (0, 1], got {coverage}")
    setup_mlflow(config)
    rules = eligibility.load(config.conf_file(config.programs_file))
    households = tables.read(spark, config, tables.HOUSEHOLDS)
    scores = tables.read(spark, config, tables.SCORES)
    members = tables.read(spark, config, tables.MEMBERS)
    pop = population(spark, config)
    q = load_questionnaire(config)
    features = list(q.model.get("numeric", [])) + list(q.model.get("categorical", []))
    try:
        # The ranked households are computed once into the staging area: the gates read small aggregates
        # of them, and both gold writes read them (the members' write joins them) after every gate passed.
        with tables.staging(spark, config, ctx.run_id) as area:
            gold_hh = area.put(
                tables.DTKS_HOUSEHOLDS,
                with_run(
                    build_households(households, scores, features, pop, coverage),
                    _published(spark, config, tables.DTKS_HOUSEHOLDS),
                    ["household_id"],
                    ctx.run_id,
                ),
            )
            spark.catalog.clearCache()  # the ranking's own intermediate rows
            return _gate_and_write(ctx, households, members, gold_hh, rules, pop, coverage, area.put)
    finally:
        spark.catalog.clearCache()


def _gate_and_write(
    ctx: StageContext,
    households: DataFrame,
    members: DataFrame,
    gold_hh: DataFrame,
    rules: eligibility.Programs,
    pop: int,
    coverage: float,
    put: Callable[[str, DataFrame], DataFrame],
) -> StageResult:
    spark, config = ctx.spark, ctx.config
    size = F.col("hh_size")
    programs = eligibility.conditions(rules)
    # One pass over the ranked households: everything the gates and the summary need (small).
    stats = gold_hh.agg(
        F.count(F.lit(1)).alias("households"),
        F.sum(size).alias("persons"),
        F.sum(F.when(F.col("within_coverage"), size).otherwise(0)).alias("covered"),
        *[F.sum(F.when(F.col("decile") == d, size).otherwise(0)).alias(f"d{d}") for d in range(1, 11)],
        *[F.count_if(cond).alias(f"p_{name}") for name, cond in programs.items()],
        F.collect_set(F.struct("model_name", "model_version")).alias("models"),
        F.collect_set("regency_code").alias("regencies"),
    ).first()
    # From the members' three narrow columns, not the wide gold rows (those are written once, below).
    ranked_members = members.select("household_id", "province_code", "match_status").join(
        gold_hh.select("household_id"), "household_id"
    )
    by_province = {
        r.province_code: (int(r.matched), int(r.listed))
        for r in ranked_members.groupBy("province_code")
        .agg(F.count_if(gates.matched()).alias("matched"), F.count(F.lit(1)).alias("listed"))
        .collect()
    }
    surveyed = households.agg(F.collect_set("regency_code").alias("regencies"), F.count(F.lit(1)).alias("n")).first()
    models_used = sorted((m.model_name, m.model_version) for m in stats.models)
    versions = [v for _, v in models_used]
    results = [gates.reconciliation(last_ingest(spark, config))]
    results += gates.match_rates(by_province, config.thresholds)
    results.append(gates.regions_covered(surveyed.regencies, stats.regencies))
    results += [gates.model_registered(n, v) for n, v in models_used] or [
        gates.GateResult("model_registered", False, "no scored household")
    ]
    failed = [g for g in results if not g.passed]
    for g in results:
        log.info("gate %-20s %s: %s", g.name, "PASS" if g.passed else "FAIL", g.detail)
    if failed:
        raise GateFailed(
            "publish stopped, gold tables unchanged; failed gate(s): "
            + "; ".join(f"{g.name}: {g.detail}" for g in failed)
        )

    run_date = dt.datetime.now(dt.UTC).date()
    elig = eligibility_rows(gold_hh, rules, ctx.run_id, run_date)
    tables.overwrite(gold_hh, config, tables.DTKS_HOUSEHOLDS)
    write_members(spark, config, members, gold_hh, ctx.run_id, put)
    faults.failpoint("publish.between_gold_tables")
    write_eligibility(spark, config, elig, put)
    record_publication(spark, config, ctx.run_id, coverage, models_used)

    covered = stats.covered or 0
    summary = [
        f"publish: {stats.households:,} households ranked ({stats.persons:,} persons; national population P = {pop:,})",
        f"  within coverage: {covered:,} persons = {covered / pop:.1%} of P (target {coverage:.0%})",
        "  persons by decile: " + ", ".join(f"{d}: {stats[f'd{d}']:,}" for d in range(1, 11)),
        "  eligible households: " + ", ".join(f"{p} {stats[f'p_{p}']:,}" for p in sorted(programs)),
    ]
    return StageResult(
        rows_in=surveyed.n,
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
