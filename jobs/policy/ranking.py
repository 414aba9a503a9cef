"""The national ranking rule (BRIEF §6), exact and without funnelling rows through one partition.

Households are sorted by (welfare_score, household_id) with a range partitioning; each partition
computes running sums locally, and a small table of per-partition totals (one row per partition,
never per household) supplies every partition's offset. The result equals a single global sort.
The population P the shares are taken of is jobs/core/population.py's.
"""

from __future__ import annotations

import math

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

PID = "_rank_partition"


def rank_nationally(
    households: DataFrame,
    population: int,
    coverage_target: float,
    partitions: int | None = None,
    score: str = "welfare_score",
    size: str = "hh_size",
) -> DataFrame:
    """Add national_rank, cum_persons, cum_population_share, decile, within_coverage, coverage_target.

    households: one row per rankable household with `household_id`, `score` and `size`.
    population: the national population P (living persons in the registry, or an official total).
    """
    if population <= 0:
        raise ValueError("population must be positive")
    spark = households.sparkSession
    n = partitions or int(spark.conf.get("spark.sql.shuffle.partitions"))
    ordered = (
        households.repartitionByRange(n, F.col(score).asc(), F.col("household_id").asc())
        .withColumn(PID, F.spark_partition_id())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # One row per partition: small whatever the nation's size.
    totals = ordered.groupBy(PID).agg(F.count(F.lit(1)).alias("_n"), F.sum(size).alias("_p")).collect()
    totals = sorted((r[PID], r["_n"], int(r["_p"] or 0)) for r in totals)
    offsets, rows_before, persons_before = [], 0, 0
    for pid, count, persons in totals:
        offsets.append((pid, rows_before, persons_before))
        rows_before += count
        persons_before += persons
    offset_df = spark.createDataFrame(offsets or [(0, 0, 0)], f"{PID} int, _rows_before long, _persons_before long")
    within = Window.partitionBy(PID).orderBy(F.col(score).asc(), F.col("household_id").asc())
    running = within.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    share = F.col("cum_persons") / F.lit(float(population))
    ranked = (
        ordered.join(F.broadcast(offset_df), PID)
        .withColumn("national_rank", F.col("_rows_before") + F.row_number().over(within))
        .withColumn("cum_persons", F.col("_persons_before") + F.sum(size).over(running))
        .withColumn("cum_population_share", share)
        .withColumn(
            "decile", F.least(F.greatest(F.ceil(F.col("cum_population_share") * 10), F.lit(1)), F.lit(10)).cast("int")
        )
        .withColumn("within_coverage", F.col("cum_population_share") <= F.lit(coverage_target))
        .withColumn("coverage_target", F.lit(coverage_target))
        .drop(PID, "_rows_before", "_persons_before")
    )
    return ranked


def cutoff_line(population: int, coverage_target: float) -> int:
    """The most persons coverage holds: a household is within coverage exactly when its cum_persons is at
    most this (cum_persons / P <= coverage target)."""
    return math.floor(population * coverage_target)

