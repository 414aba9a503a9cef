"""Household features for the ranking model, aggregated from the counted members (BRIEF §6)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core import regions
from jobs.ingest.matching import counted


def age_years(birth: str, on: str) -> F.Column:
    return F.floor(F.months_between(F.col(on), F.col(birth)) / 12).cast("int")


# Who heads a household, as one long per member so the choice is a hashed max (no sort): whether they are
# listed as head, then age (ages run to 9,998: dates are years 1-9999), then the lowest member_no (1 to
# 2^31 - 1: a member_no below 1 is quarantined); the answer as education * 2 + 1 for a woman.
_MEMBER_BITS, _AGE_BITS = 31, 14
_AGE_MASK = (1 << _AGE_BITS) - 1


def _head_order() -> F.Column:
    return (F.shiftleft((F.col("relationship") == 1).cast("long"), _MEMBER_BITS + _AGE_BITS)
            + F.shiftleft(F.col("_age").cast("long"), _MEMBER_BITS)
            + (F.lit((1 << _MEMBER_BITS) - 1) - F.col("member_no").cast("long")))


def _head_value() -> F.Column:
    return (F.coalesce(F.col("education").cast("long"), F.lit(0)) * 2
            + F.coalesce((F.col("sex") == "P").cast("long"), F.lit(0)))


def features(households: DataFrame, members: DataFrame) -> DataFrame:
    """households: one row per household (with floor_area, interview_start, village_code ...).
    members: matched members with match_status, birth_date, sex, relationship, education, employment,
    disability, pregnant. Returns households with region codes and FEATURE_COLUMNS added.
    Households whose every member is a duplicate or deceased get hh_size 0 and `rankable` false.
    """
    hh_dates = households.select("household_id", F.to_date("interview_start").alias("_on"))
    m = members.where(counted()).join(hh_dates, "household_id").withColumn("_age", age_years("birth_date", "_on"))
    agg = m.groupBy("household_id").agg(
        F.count(F.lit(1)).alias("hh_size"),
        F.sum(F.when(F.col("_age") < 5, 1).otherwise(0)).alias("n_children_u5"),
        F.sum(F.when(F.col("_age") < 6, 1).otherwise(0)).alias("n_children_u6"),
        F.sum(F.when(F.col("_age").between(6, 18), 1).otherwise(0)).alias("n_school_age"),
        F.sum(F.when(F.col("_age") >= 60, 1).otherwise(0)).alias("n_elderly"),
        F.sum(F.when(F.col("_age") < 15, 1).otherwise(0)).alias("_young"),
        F.sum(F.when(F.col("disability") > 0, 1).otherwise(0)).alias("n_disabled"),
        F.sum(F.when(F.col("disability") == 2, 1).otherwise(0)).alias("n_severe_disabled"),
        F.sum(F.when(F.col("pregnant") == 1, 1).otherwise(0)).alias("n_pregnant"),
        F.sum(F.when(F.col("employment") >= 3, 1).otherwise(0)).alias("_formal"),
        # The head: relationship 1; if none is listed, the oldest counted member stands in (ties: the lowest
        # member_no). Both sides of max_by are longs, so the aggregate is hashed, not sorted.
        F.max_by(_head_value(), _head_order()).alias("_head"),
        F.max(_head_order()).alias("_head_order"),
    )
    size = F.col("hh_size")
    out = (
        households.drop("province_code", "regency_code", "district_code", "is_urban")
        .join(agg, "household_id", "left")
        .select(
            "*",
            *regions.region_columns(F.col("village_code")),
        )
        .withColumn("hh_size", F.coalesce(size, F.lit(0)).cast("int"))
        .fillna(
            0,
            subset=[
                "n_children_u5",
                "n_children_u6",
                "n_school_age",
                "n_elderly",
                "_young",
                "n_disabled",
                "n_severe_disabled",
                "n_pregnant",
                "_formal",
            ],
        )
    )
    safe = F.greatest(F.col("hh_size"), F.lit(1))
    working_age = F.col("hh_size") - F.col("_young") - F.col("n_elderly")
    return (
        out.withColumn("log_hh_size", F.log(safe.cast("double")))
        .withColumn("floor_area_per_capita", F.col("floor_area") / safe)
        .withColumn("log_floor_area_per_capita", F.log(F.greatest(F.col("floor_area") / safe, F.lit(0.5))))
        .withColumn("dependency_ratio", (F.col("_young") + F.col("n_elderly")) / F.greatest(working_age, F.lit(1)))
        .withColumn("share_children_u5", F.col("n_children_u5") / safe)
        .withColumn("share_elderly", F.col("n_elderly") / safe)
        .withColumn("share_working_formal", F.col("_formal") / safe)
        .withColumn("head_female", F.coalesce(F.pmod(F.col("_head"), F.lit(2)), F.lit(0)).cast("int"))
        .withColumn("head_age", F.coalesce(F.shiftright(F.col("_head_order"), _MEMBER_BITS)
                                           .bitwiseAND(_AGE_MASK), F.lit(0)).cast("int"))
        .withColumn("head_education", F.coalesce((F.col("_head") - F.pmod(F.col("_head"), F.lit(2))) / 2,
                                                 F.lit(0)).cast("int"))
        .withColumn("interview_date", F.to_date("interview_start"))
        .withColumn("rankable", F.col("hh_size") > 0)
        .drop("_head", "_head_order", "_young", "_formal")
    )
