"""What the report shows of the appeals and the verification queue that publish keeps: the appeals by status,
and the queue's entries by reason and status (the vocabulary: jobs/core/verification.py).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core.verification import OPEN


def appeal_status(appeals: DataFrame, history: DataFrame | None) -> DataFrame:
    """Pure: per province, appeal type and status (the appeal's latest in verification_history; NOT_QUEUED
    before a publish has seen it), the number of appeals (`appeals`). Small: a row per combination."""
    if history is None:
        latest = appeals.select("appeal_id").where("false").withColumn("status", F.lit(None).cast("string"))
    else:
        latest = (history.select(F.explode("appeal_ids").alias("appeal_id"), "status", "as_of", "publication_run_id")
                  .groupBy("appeal_id")
                  .agg(F.max_by("status", F.struct("as_of", "publication_run_id")).alias("status")))
    return (appeals.join(latest, "appeal_id", "left")
            .groupBy("province_code", "appeal_type", F.coalesce("status", F.lit("NOT_QUEUED")).alias("status"))
            .agg(F.count(F.lit(1)).alias("appeals")))


def queue_size(queue: DataFrame, today: dt.date) -> DataFrame:
    """Pure: per reason and status, the entries carrying it and how many of the open ones are past their
    deadline on `today` (`overdue`). Small: a row per reason and status."""
    return (queue.select(F.explode("reasons").alias("reason"), "status", "deadline")
            .groupBy("reason", "status")
            .agg(F.count(F.lit(1)).alias("entries"),
                 F.count_if((F.col("status") == OPEN) & (F.col("deadline") < F.lit(today))).alias("overdue")))
