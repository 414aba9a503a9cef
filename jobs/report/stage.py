"""Stage `report`: quality_by_region and the enumerator re-visit list, as Delta tables and one HTML page.

The page (reports/<run_id>/index.html, PNG plots beside it; jobs/report/page.py) is what a supervisor
reads: deciles by province, coverage against the target of the publication it reports on, match rates,
the worst regions and the enumerators to re-visit. It is also logged to MLflow. Only aggregates reach
the driver (per region, per enumerator).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Observation
from pyspark.sql import functions as F

from jobs.core import questionnaire
from jobs.core.population import population
from jobs.report import page, quality
from runtime import tables
from runtime.errors import UserError
from runtime.runs import StageResult
from runtime.stage import StageContext, main_for

NAME = "report"
HELP = "write quality_by_region, the enumerator re-visit list and an HTML quality report"
log = logging.getLogger(__name__)
TOP_ENUMERATORS = 25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reports-dir", default="reports", help="folder for reports/<run_id>/ (default: reports)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report to MLflow")


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    spark, config = ctx.spark, ctx.config
    if not tables.exists(spark, config, tables.HOUSEHOLDS):
        raise UserError(f"{config.table_path(tables.HOUSEHOLDS)} not found: run `dtks ingest` first")
    q = questionnaire.load(config)
    min_minutes = config.thresholds.min_interview_minutes
    households = tables.read(spark, config, tables.HOUSEHOLDS)
    members = tables.read(spark, config, tables.MEMBERS)
    quarantine = tables.read(spark, config, tables.QUARANTINE)
    # The coverage target and P of the publication reported on; before the first publish, the config's.
    publication = tables.latest_publication(spark, config)
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS) if publication else None
    target = publication.coverage_target if publication else config.ranking.coverage_target
    pop = (publication.asDict().get("population") if publication else None) or population(spark, config)
    # One pass over the silver and published tables, to one row per household, kept for both measures.
    hh = quality.household_frame(households, members, gold, q, min_minutes).persist(StorageLevel.MEMORY_AND_DISK)
    enumerators = None
    try:
        quarantined = (
            quarantine.where("source = 'survey_households'")
            .join(households.select(F.col("household_id").alias("record_key")), "record_key", "left_anti")
            .count()
        )
        regions_df = quality.region_quality(ctx.run_id, hh, quarantined, gold is not None, target, pop)
        # At most one row per regency (514): small enough for the driver, then written from there.
        region_rows = regions_df.collect()
        tables.replace_run(spark.createDataFrame(region_rows, regions_df.schema), config, tables.QUALITY_BY_REGION,
                           ctx.run_id)
        enumerators = quality.enumerator_quality(hh, min_minutes).withColumn("run_id", F.lit(ctx.run_id))
        enumerators = enumerators.persist(StorageLevel.MEMORY_AND_DISK)
        assessed = Observation()
        tables.replace_run(enumerators.observe(assessed, F.count(F.lit(1)).alias("n")), config,
                           tables.QUALITY_ENUMERATORS, ctx.run_id)
        enum = (
            enumerators.orderBy(F.col("revisit_score").desc(), "enumerator_id")
            .limit(TOP_ENUMERATORS)
            .select(*page.ENUMERATOR_COLUMNS)
            .toPandas()
        )
        n_enum = int(assessed.get["n"])
    finally:
        hh.unpersist()
        if enumerators is not None:
            enumerators.unpersist()

    reg = pd.DataFrame([r.asDict() for r in region_rows])
    by_prov = page.by_province(reg)
    out = config.path(args.reports_dir) / ctx.run_id
    out.mkdir(parents=True, exist_ok=True)
    covered = float(by_prov["persons_covered"].sum())
    listed = float(by_prov["members_listed"].sum())
    nat_match = float((by_prov["match_rate"] * by_prov["members_listed"]).sum() / listed) if listed else 0.0
    images = page.plots(by_prov, enum, target, covered / pop, config.thresholds.min_region_match_rate, out)
    summary = [
        f"{int(by_prov['households_accepted'].sum()):,} survey households accepted; "
        f"{int(by_prov['persons_ranked'].sum()):,} persons ranked against a national population of {pop:,}",
        f"persons within coverage: {int(covered):,} = {covered / pop:.1%} of the population (target {target:.0%})",
        f"national match rate (padan): {nat_match:.1%}",
        f"{n_enum:,} enumerators assessed; top re-visit: "
        + (", ".join(enum["enumerator_id"].head(3)) if len(enum) else "none"),
    ]
    index = out / "index.html"
    index.write_text(page.render_html(ctx.run_id, summary, images, page.worst_regencies(reg), enum))
    if not args.no_mlflow:
        _log_to_mlflow(config, ctx.run_id, out)
    return StageResult(
        rows_in=int(by_prov["households_accepted"].sum()),
        rows_out=len(by_prov),
        details={"report": str(index)},
        summary=[f"report: {index}", *[f"  {s}" for s in summary]],
    )


def _log_to_mlflow(config, run_id: str, folder: Path) -> None:
    import mlflow

    from runtime.tracking import setup_mlflow

    experiment_id = setup_mlflow(config)
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"quality-report-{run_id}",
        tags={"dtks.run_id": run_id, "dtks.kind": "quality_report"},
    ):
        mlflow.log_artifacts(str(folder), artifact_path="quality_report")


if __name__ == "__main__":
    sys.exit(main_for(sys.modules[__name__]))
