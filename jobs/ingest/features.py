"""Household features for the ranking model, aggregated from the counted members (BRIEF §6)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core import regions
from jobs.ingest.matching import counted


def age_years(birth: str, on: str) -> F.Column:
    return F.floor(F.months_between(F.col(on), F.col(birth)) / 12).cast("int")


def features(households: DataFrame, members: DataFrame) -> DataFrame:
    """households: one row per household (with floor_area, interview_start, village_code ...).
    members: matched members with match_status, birth_date, sex, relationship, education, employment,
    disability, pregnant. Returns households with region codes and FEATURE_COLUMNS added.
    Households whose every member is a duplicate or deceased get hh_size 0 and `rankable` false.
    """
    hh_dates = households.select("household_id", F.to_date("interview_start").alias("_on"))
    m = members.where(counted()).join(hh_dates, "household_id").withColumn("_age", age_years("birth_date", "_on"))
    is_head = F.col("relationship") == 1
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
        # The head: relationship 1; if none is listed, the oldest counted member stands in.
        F.max_by(
            F.struct((F.col("sex") == "P").cast("int"), "_age", "education"),
            F.struct(is_head.cast("int"), "_age", F.col("member_no") * -1),
        ).alias("_head"),
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
        .withColumn("head_female", F.coalesce(F.col("_head.col1"), F.lit(0)).cast("int"))
        .withColumn("head_age", F.coalesce(F.col("_head._age"), F.lit(0)).cast("int"))
        .withColumn("head_education", F.coalesce(F.col("_head.education"), F.lit(0)).cast("int"))
        .withColumn("interview_date", F.to_date("interview_start"))
        .withColumn("rankable", F.col("hh_size") > 0)
        .drop("_head", "_young", "_formal")
    )
