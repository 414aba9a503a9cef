"""The curbstoning rule: an enumerator suspected of filling in interviews without visiting. The report lists
the suspects to re-visit (jobs/report/quality.py) and the verification queue re-surveys their households
(jobs/publish/queue.py), so both read the rule here.

Curbstoning shows as one enumerator whose households share the same answers: for each enumerator, the share
of households whose full answer pattern (all coded answers) repeats the enumerator's most common pattern.
Honest interviews of ~50 households rarely repeat a pattern more than a few times.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.core.questionnaire import Questionnaire

MIN_HOUSEHOLDS, SHARE = 5, 0.5  # an enumerator this large, repeating one pattern this often


def answer_pattern(q: Questionnaire) -> Column:
    """All coded household answers as one 64-bit hash (floor area left out: it varies by design). Two patterns
    share a hash with probability 2^-64, and a shared hash can only raise a count: a hash is enough to count
    repeats, and groups far cheaper than a digest string."""
    return F.xxhash64(*[F.col(v.name) for v in q.household if v.codes is not None])


def suspect(households: Column, repeated_share: Column) -> Column:
    """The rule, over an enumerator's household count and the share repeating its most common pattern."""
    return (households >= MIN_HOUSEHOLDS) & (repeated_share >= SHARE)


def suspects(households: DataFrame, q: Questionnaire) -> DataFrame:
    """The enumerator_ids the rule flags, from silver_households."""
    counts = (households.select("enumerator_id", answer_pattern(q).alias("_pattern"))
              .groupBy("enumerator_id", "_pattern").agg(F.count(F.lit(1)).alias("_n")))
    # One scan: an enumerator's households are the sum of its patterns' counts.
    per = counts.groupBy("enumerator_id").agg(F.max("_n").alias("_top"), F.sum("_n").alias("_households"))
    return per.where(suspect(F.col("_households"), F.col("_top") / F.col("_households"))).select("enumerator_id")
