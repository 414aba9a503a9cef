"""Stage `report`: quality_by_region and the enumerator re-visit list, as Delta tables and one HTML page.

The page (reports/<run_id>/index.html, self-contained; jobs/report/page.py) is what a coordinator reads:
the national summary, a map and a section per province (coverage against the target of the publication it
reports on, deciles, match rates, quarantine reasons, the enumerators to re-visit), the appeals and
the verification queue, the regencies and the enumerators. It is also logged to MLflow. Only aggregates
reach the driver (per region, per reason, up to PER_PROVINCE enumerators per province).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import functions as F

from jobs.core import questionnaire, regions
from jobs.core.population import population
from jobs.report import quality, queue_status
from runtime import tables
from runtime.errors import UserError
from runtime.runs import StageResult
from runtime.stage import StageContext, config_flag, main_for

NAME = "report"
HELP = "write quality_by_region, the enumerator re-visit list and an HTML quality report"
log = logging.getLogger(__name__)
PER_PROVINCE = 10  # enumerators to re-visit listed per province


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_flag(parser, "--reports-dir", "reports_dir", "folder of reports/<run_id>/")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report to MLflow")


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    # pandas and the page's templates are imported when it runs: every `dtks` command imports this module.
    import pandas as pd

    from jobs.report import figures, page

    spark, config = ctx.spark, ctx.config
    if not tables.exists(spark, config, tables.HOUSEHOLDS):
        raise UserError(f"{config.table_path(tables.HOUSEHOLDS)} not found: run `dtks ingest` first")
    q, ref = questionnaire.load(config), regions.load(config)
    min_minutes = config.thresholds.min_interview_minutes
    households = tables.read(spark, config, tables.HOUSEHOLDS)
    members = tables.read(spark, config, tables.MEMBERS)
    quarantine = tables.read(spark, config, tables.QUARANTINE)
    # The coverage target and P of the publication reported on; before the first publish, the config's.
    publication = tables.latest_publication(spark, config)
    pinned = tables.pinned_by(publication)  # every published read below is pinned to this row
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS, pinned) if publication else None
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
        ctx.step("regions", "measuring quality by region (quality_by_region)")
        regions_df = quality.region_quality(ctx.run_id, hh, quarantined, gold is not None, target, pop)
        # At most one row per regency (514): small enough for the driver, then written from there.
        region_rows = regions_df.collect()
        tables.replace_run(spark.createDataFrame(region_rows, regions_df.schema), config, tables.QUALITY_BY_REGION,
                           ctx.run_id)
        ctx.step("enumerators", "scoring every enumerator for re-visits (quality_enumerators)")
        enumerators = quality.enumerator_quality(hh, min_minutes).withColumn("run_id", F.lit(ctx.run_id))
        enumerators = enumerators.persist(StorageLevel.MEMORY_AND_DISK)
        tables.replace_run(enumerators, config, tables.QUALITY_ENUMERATORS, ctx.run_id)
        revisit = quality.revisit_lists(enumerators, PER_PROVINCE).select(
            *figures.ENUMERATOR_COLUMNS, "province_assessed", "province_revisit", "to_revisit").toPandas()
    finally:
        hh.unpersist()
        if enumerators is not None:
            enumerators.unpersist()
    ctx.step("page", "placing quarantined rows by province and writing the page")
    held = quality.quarantine_by_province(quarantine).toPandas()
    appeals = queued = None
    if tables.QUEUE in pinned:
        history = tables.read_published(spark, config, tables.QUEUE_HISTORY, pinned)
        if tables.exists(spark, config, tables.APPEALS):
            appeals = queue_status.appeal_status(tables.read(spark, config, tables.APPEALS), history).toPandas()
        today = dt.datetime.now(dt.UTC).date()
        queued = queue_status.queue_size(tables.read_published(spark, config, tables.QUEUE, pinned), today).toPandas()
    report = figures.Report(
        run_id=ctx.run_id, regions=pd.DataFrame([r.asDict() for r in region_rows]), revisit=revisit,
        quarantine=held, households_quarantined=quarantined, provinces=ref.provinces, regencies=ref.regencies,
        tiles=figures.read_tiles(config.conf_file(figures.TILES_FILE)), population=pop, target=target,
        min_match=config.thresholds.min_region_match_rate,
        publication={k: publication[k] for k in ("publication_id", "published_at")} if publication else None,
        reference_version=ref.version, appeals=appeals, queue=queued,
        impact=model_impact(config, publication.models if publication else None))
    out = config.run_folder(ctx.run_id)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(page.render(report), encoding="utf-8")
    if not args.no_mlflow:
        _log_to_mlflow(config, ctx.run_id, out)
    summary = page.summary_lines(report)
    return StageResult(
        rows_in=report.national()["households"],
        rows_out=len(report.by_province),
        details={"report": str(index)},
        summary=[f"report: {index}", *[f"  {s}" for s in summary]],
    )


def model_impact(config, models: str | None) -> dict | None:
    """The impact the published model version was measured to have before it went live (logged to its
    training run by `dtks train` or `dtks model impact`); None before the first publication."""
    if not models:
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from models.impact import read_logged
    from runtime.tracking import setup_mlflow

    name, _, version = models.split(",")[0].rpartition(":")
    setup_mlflow(config)
    found: dict = {"model": f"{name} v{version}"}
    try:
        run_id = MlflowClient().get_model_version(name, version).run_id
    except MlflowException:
        return found
    logged = read_logged(run_id)
    if logged is not None:
        found["summary"], found["by_province"] = logged
    return found


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
