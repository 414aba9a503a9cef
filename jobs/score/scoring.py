"""Pure transforms of scoring: which households to score again, and their new score rows."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.core.change_set import DELETE
from models.champion import ResolvedModel


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
          run_id: str, explained: tuple[Column, Column]) -> DataFrame:
    """Pure: the scores that change: every rankable household when `ids` is None, else those `stale`
    listed, with the deletions it flagged. `explained`: the contributions by feature group and the
    intercept (champion.explanation)."""
    current = households.where("rankable")
    todo = current if ids is None else current.join(ids.where(~F.col(DELETE)), "household_id", "left_semi")
    scored = todo.select(
        "household_id",
        predict.cast("double").alias("welfare_score"),
        explained[0].alias("contributions"),
        explained[1].alias("intercept"),
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
