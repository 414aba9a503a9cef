"""Stage `score`: the champion model (or a chosen version) on every rankable household.

A linear PMT is compiled into native Spark column expressions; any other pyfunc model runs through
`mlflow.pyfunc.spark_udf`. Only households that are new, changed (row_hash) or scored by another
model version are scored again; the rest keep their score (and the run that scored it). Only those
rows, and the households no longer rankable, are MERGEd (deletion vectors on), so an update round
rewrites what it re-scored and nothing else; the first round (or `--full`) writes the table whole.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs.runtime import tables
from jobs.runtime.config import DtksConfig
from jobs.runtime.errors import UserError
from jobs.runtime.runs import StageResult
from jobs.runtime.stage import StageContext, main_for
from jobs.runtime.tracking import setup_mlflow

NAME = "score"
HELP = "score every household with the champion ranking model (native expressions or spark_udf)"
log = logging.getLogger(__name__)
DELETE = "_delete"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-version", help="registered model version to use (default: alias champion)")
    parser.add_argument(
        "--scoring-path",
        choices=("auto", "native", "udf"),
        default="auto",
        help="auto: native expressions when the model compiles, else spark_udf",
    )
    parser.add_argument("--full", action="store_true", help="re-score every household, not only changed ones")


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    uri: str
    input_columns: tuple[str, ...]


def resolve_model(config: DtksConfig, version: str | None) -> ResolvedModel:
    """The model version to score with, pinned by number so a concurrent promotion cannot mix."""
    setup_mlflow(config)
    client = MlflowClient()
    name = config.mlflow.model_name
    try:
        mv = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException as exc:
        which = f"version {version}" if version else "alias champion"
        raise UserError(
            f"model '{name}' {which} not found in {config.mlflow.tracking_uri}: run `dtks train` first"
        ) from exc
    uri = f"models:/{name}/{mv.version}"
    info = mlflow.models.get_model_info(uri)
    if info.signature is None:
        raise UserError(f"model {uri} has no signature: it cannot be scored safely")
    return ResolvedModel(name, str(mv.version), uri, tuple(info.signature.inputs.input_names()))


def prediction(spark: SparkSession, model: ResolvedModel, path: str) -> tuple[Column, str]:
    """The prediction as a Column, and which path produced it."""
    from models.compile import spark_expression

    if path in ("auto", "native"):
        expr = spark_expression(model.uri)
        if expr is not None:
            return expr, "native"
        if path == "native":
            raise UserError(f"model {model.uri} is not linear: it cannot be compiled to native expressions")
    udf = mlflow.pyfunc.spark_udf(spark, model.uri, result_type="double", env_manager="local")
    return udf(F.struct(*[F.col(c) for c in model.input_columns])), "spark_udf"


def stale(households: DataFrame, previous: DataFrame, model: ResolvedModel) -> DataFrame:
    """Pure: ids of the rankable households to score again (new, changed row_hash, other model version),
    flagged `_delete` for the previously scored households no longer rankable. Narrow columns only."""
    current = households.where("rankable").select("household_id", "row_hash")
    prev = previous.select(
        "household_id", F.col("row_hash").alias("_prev_hash"), F.col("model_version").alias("_prev_version")
    )
    joined = current.withColumn("_now", F.lit(True)).join(prev, "household_id", "full")
    todo = F.col("_now") & (
        F.col("_prev_hash").isNull()
        | (F.col("_prev_hash") != F.col("row_hash"))
        | (F.col("_prev_version") != F.lit(model.version))
    )
    gone = F.col("_now").isNull()
    return joined.where(todo | gone).select("household_id", gone.alias(DELETE))


def score(households: DataFrame, ids: DataFrame | None, model: ResolvedModel, predict: Column, path: str,
          run_id: str) -> DataFrame:
    """Pure: the scores that change: every rankable household when `ids` is None, else those `stale`
    listed, with the deletions it flagged."""
    current = households.where("rankable")
    todo = current if ids is None else current.join(ids.where(~F.col(DELETE)), "household_id", "left_semi")
    scored = todo.select(
        "household_id",
        predict.cast("double").alias("welfare_score"),
        F.lit(model.name).alias("model_name"),
        F.lit(model.version).alias("model_version"),
        F.lit(path).alias("scoring_path"),
        "row_hash",
        "province_code",
        "regency_code",
        F.lit(run_id).alias("scored_run_id"),
    ).withColumn(DELETE, F.lit(False))
    if ids is None:
        return scored
    return scored.unionByName(ids.where(F.col(DELETE)), allowMissingColumns=True)


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    spark, config = ctx.spark, ctx.config
    if not tables.exists(spark, config, tables.HOUSEHOLDS):
        raise UserError(f"{config.table_path(tables.HOUSEHOLDS)} not found: run `dtks ingest` first")
    model = resolve_model(config, args.model_version)
    predict, path = prediction(spark, model, args.scoring_path)
    read, written = Observation(), Observation()
    households = tables.read(spark, config, tables.HOUSEHOLDS).observe(read, F.count(F.lit(1)).alias("rows"))
    whole = args.full or not tables.exists(spark, config, tables.SCORES)
    if whole:
        changes = score(households, None, model, predict, path, ctx.run_id).observe(
            written, F.count(F.lit(1)).alias("rescored"), F.lit(0).alias("removed"))
        rows = tables.rows_written(spark, config, tables.HOUSEHOLDS)
        tables.overwrite(changes.drop(DELETE), config, tables.SCORES, rows=rows)
    else:
        # The few ids to score are stored first, so the wide household rows are filtered by a broadcast
        # of them instead of being shuffled whole into a join.
        with tables.staging(spark, config, ctx.run_id) as area:
            ids = area.put("stale", stale(households, tables.read(spark, config, tables.SCORES), model))
            changes = score(tables.read(spark, config, tables.HOUSEHOLDS), ids, model, predict, path, ctx.run_id)
            changes = changes.observe(written, F.count_if(~F.col(DELETE)).alias("rescored"),
                                      F.count_if(F.col(DELETE)).alias("removed"))
            tables.merge_changes(spark, config, tables.SCORES, changes, delete=DELETE)
    rescored, removed = int(written.get["rescored"]), int(written.get["removed"])
    total = int(read.get["rows"])
    log.info("scored %s of %s households with %s via %s (%s removed)", rescored, total, model.uri, path, removed)
    return StageResult(
        rows_in=total,
        rows_out=rescored,
        model_version=model.version,
        details={"model_uri": model.uri, "scoring_path": path, "households_removed": str(removed)},
        summary=[f"score: {rescored:,} of {total:,} households (re)scored with {model.name} v{model.version} ({path})"
                 + (f", {removed:,} no longer rankable" if removed else "")],
    )


if __name__ == "__main__":
    sys.exit(main_for(NAME))
