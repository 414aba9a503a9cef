"""Stage `score`: the champion model (or a chosen version) on every rankable household.

A linear PMT is compiled into native Spark column expressions, with its score's contributions by feature
group (conf/questionnaire.yaml `model.groups`); any other pyfunc model runs through `mlflow.pyfunc.spark_udf`
and its contributions are null. Only households that are new, changed (row_hash) or scored by another
model version are scored again; the rest keep their score (and the run that scored it). Only those
rows, and the households no longer rankable, are MERGEd (deletion vectors on), so an update round
rewrites what it re-scored and nothing else; the first round (or `--full`) writes the table whole.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pyspark.sql import Observation
from pyspark.sql import functions as F

from jobs.core.change_set import DELETE
from runtime import questionnaire, tables
from runtime.errors import UserError
from runtime.runs import StageResult
from runtime.stage import StageContext, main_for

NAME = "score"
HELP = "score every household with the champion ranking model (native expressions or spark_udf)"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-version", help="registered model version to use (default: alias champion)")
    parser.add_argument(
        "--scoring-path",
        choices=("auto", "native", "udf"),
        default="auto",
        help="auto: native expressions when the model compiles, else spark_udf",
    )
    parser.add_argument("--full", action="store_true", help="re-score every household, not only changed ones")



def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    # The model's modules (MLflow) are imported when it runs: every `dtks` command imports this one.
    from jobs.score.scoring import score, stale
    from models.champion import explanation, prediction, resolve_model

    spark, config = ctx.spark, ctx.config
    if not tables.exists(spark, config, tables.HOUSEHOLDS):
        raise UserError(f"{config.table_path(tables.HOUSEHOLDS)} not found: run `dtks ingest` first")
    ctx.step("model", "finding the model to score with (champion)")
    model = resolve_model(config, args.model_version)
    predict, path = prediction(spark, model, args.scoring_path)
    explained = explanation(model, questionnaire.load_file(config).model.group_of())
    read, written = Observation(), Observation()
    households = tables.read(spark, config, tables.HOUSEHOLDS).observe(read, F.count(F.lit(1)).alias("rows"))
    # A table from before the explanations were kept is scored whole once.
    whole = args.full or not tables.has_columns(spark, config, tables.SCORES, "contributions")
    ctx.step("score", f"scoring {'every household' if whole else 'new and changed households'} with {model.name} "
             f"v{model.version} ({path})")
    if whole:
        changes = score(households, None, model, predict, path, ctx.run_id, explained).observe(
            written, F.count(F.lit(1)).alias("rescored"), F.lit(0).alias("removed"))
        rows = tables.rows_written(spark, config, tables.HOUSEHOLDS)
        tables.overwrite(changes.drop(DELETE), config, tables.SCORES, rows=rows)
    else:
        # The few ids to score are stored first, so the wide household rows are filtered by a broadcast
        # of them instead of being shuffled whole into a join.
        with tables.staging(spark, config, ctx.run_id) as area:
            ids = area.put("stale", stale(households, tables.read(spark, config, tables.SCORES), model))
            changes = score(tables.read(spark, config, tables.HOUSEHOLDS), ids, model, predict, path, ctx.run_id,
                            explained)
            changes = changes.observe(written, F.count_if(~F.col(DELETE)).alias("rescored"),
                                      F.count_if(F.col(DELETE)).alias("removed"))
            # A household scored again by another model version has the same row_hash: that counts as changed.
            tables.merge_changes(spark, config, tables.SCORES, changes, delete=DELETE,
                                 changed="t.row_hash <> s.row_hash OR t.model_version <> s.model_version")
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
    sys.exit(main_for(sys.modules[__name__]))
