"""Quality measures a supervisor can act on: per region, and along the field hierarchy.

Everything is an aggregate (per province/regency or per enumerator): small whatever the nation's size.
The enumerators to re-visit include those the curbstoning rule flags (jobs/core/curbstoning.py).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.core import contract, curbstoning
from jobs.core.questionnaire import Questionnaire

FAILED_MATCH = (contract.NOT_FOUND, contract.INVALID_NIK, contract.MISSING_NIK)


def _share(cond: Column) -> Column:
    return F.avg(F.when(cond, 1.0).otherwise(0.0))


def household_frame(
    households: DataFrame, members: DataFrame, gold: DataFrame | None, q: Questionnaire, min_minutes: float
) -> DataFrame:
    """One row per accepted household with everything the quality measures need: its region and field
    team, interview length, answer pattern, member counts by match status and, once published, its
    decile and coverage. Members are read once, aggregated to their household."""
    per_hh = members.groupBy("household_id").agg(
        F.count(F.lit(1)).alias("_listed"),
        *[F.count_if(F.col("match_status") == s).alias(f"_n_{s.lower()}") for s in contract.STATUSES],
        F.count_if(F.col("match_status").isin(*FAILED_MATCH)).alias("_failed"),
    )
    minutes = (F.unix_timestamp("interview_end") - F.unix_timestamp("interview_start")) / 60.0
    hh = households.select(
        "household_id",
        "province_code",
        "regency_code",
        "enumerator_id",
        "supervisor_id",
        "coordinator_id",
        "rankable",
        "hh_size",
        minutes.alias("_minutes"),
        (minutes < F.lit(min_minutes)).alias("_short"),
        curbstoning.answer_pattern(q).alias("_pattern"),
    ).join(per_hh, "household_id", "left")
    if gold is not None:
        hh = hh.join(gold.select("household_id", "decile", "within_coverage"), "household_id", "left")
    return hh


def region_quality(
    run_id: str,
    hh: DataFrame,
    quarantined_households: int,
    published: bool,
    coverage_target: float,
    population: int,
) -> DataFrame:
    """quality_by_region rows: one per regency (with its province), for this run, from `household_frame`.

    Quarantined households have no trusted village; their raw id says nothing of the region either,
    so they are reported nationally; per-region counts cover accepted households.
    """
    listed = F.sum("_listed")
    ranked_size = F.when(F.col("decile").isNotNull(), F.col("hh_size")).otherwise(0)
    gold = (
        [
            F.count_if(F.col("decile").isNotNull()).alias("households_ranked"),
            F.sum(ranked_size).alias("persons_ranked"),
            F.sum(F.when(F.col("within_coverage"), F.col("hh_size")).otherwise(0)).alias("persons_covered"),
            *[
                F.sum(F.when(F.col("decile") == d, F.col("hh_size")).otherwise(0)).alias(f"persons_decile_{d}")
                for d in range(1, 11)
            ],
        ]
        if published
        else []
    )
    return hh.groupBy("province_code", "regency_code").agg(
        F.count(F.lit(1)).alias("households_accepted"),
        F.count_if(~F.col("rankable")).alias("households_unrankable"),
        F.sum("hh_size").alias("persons_counted"),
        _share(F.col("_short")).alias("short_interview_share"),
        listed.alias("members_listed"),
        *[(F.sum(f"_n_{s.lower()}") / listed).alias(f"share_{s.lower()}") for s in contract.STATUSES],
        F.sum(f"_n_{contract.DUPLICATE.lower()}").alias("duplicates"),
        F.sum(f"_n_{contract.DECEASED.lower()}").alias("deceased"),
        (sum(F.sum(f"_n_{s.lower()}") for s in contract.MATCHED_STATUSES) / listed).alias("match_rate"),
        *gold,
    ).select(
        "*",
        F.lit(run_id).alias("run_id"),
        F.lit(coverage_target).alias("coverage_target"),
        F.lit(population).alias("national_population"),
        F.lit(quarantined_households).alias("households_quarantined_nationally"),
    )


def top_pattern(hh: DataFrame) -> DataFrame:
    """Per enumerator: how many of its households repeat its most common answer pattern (`_pattern`)."""
    pattern_counts = hh.groupBy("enumerator_id", "_pattern").agg(F.count(F.lit(1)).alias("_n"))
    return pattern_counts.groupBy("enumerator_id").agg(F.max("_n").alias("top_pattern_households"))


def enumerator_quality(hh: DataFrame, min_minutes: float) -> DataFrame:
    """One row per enumerator with QA signals and a re-visit score (higher = visit first), from
    `household_frame`."""
    top = top_pattern(hh)
    per_hh = hh.groupBy("enumerator_id", "supervisor_id", "coordinator_id").agg(
        F.count(F.lit(1)).alias("households"),
        F.percentile_approx("_minutes", 0.5).alias("median_minutes"),
        _share(F.col("_short")).alias("short_interview_share"),
        F.first("province_code").alias("province_code"),
        F.first("regency_code").alias("regency_code"),
    )
    m = hh.groupBy("enumerator_id").agg((F.sum("_failed") / F.sum("_listed")).alias("match_failure_share"))
    out = (
        per_hh.join(top, "enumerator_id")
        .join(m, "enumerator_id", "left")
        .withColumn("repeated_answer_share", F.col("top_pattern_households") / F.col("households"))
    )
    # Robust z of match failures against the enumerator's province (no global window).
    w = Window.partitionBy("province_code")
    out = out.withColumn("_med", F.percentile_approx("match_failure_share", 0.5).over(w))
    out = out.withColumn("match_failure_excess", F.greatest(F.col("match_failure_share") - F.col("_med"), F.lit(0.0)))
    score = (
        2.0 * F.when(F.col("households") >= curbstoning.MIN_HOUSEHOLDS, F.col("repeated_answer_share")).otherwise(0.0)
        + 1.5 * F.col("short_interview_share")
        + 1.0 * F.col("match_failure_excess")
    )
    reasons = F.concat_ws(
        "; ",
        F.when(
            curbstoning.suspect(F.col("households"), F.col("repeated_answer_share")),
            F.format_string("%.0f%% of households share one answer pattern", F.col("repeated_answer_share") * 100),
        ),
        F.when(
            F.col("short_interview_share") >= 0.2,
            F.format_string(
                "%.0f%% interviews under %s min", F.col("short_interview_share") * 100, F.lit(str(min_minutes))
            ),
        ),
        F.when(
            F.col("match_failure_excess") >= 0.1,
            F.format_string(
                "match failures %.0f points above the province median", F.col("match_failure_excess") * 100
            ),
        ),
    )
    return out.drop("_med").withColumn("revisit_score", score).withColumn("revisit_reasons", reasons)


def revisit_lists(enumerators: DataFrame, per_province: int) -> DataFrame:
    """Per province, its enumerators to re-visit (those with at least one reason), highest score first, at
    most `per_province` rows, each carrying the province's counts (`province_assessed`,
    `province_revisit`). Enumerators without a reason fill a province's rows only when it has fewer to
    re-visit, so that every province's counts arrive: at most `per_province` rows per province, whatever
    the size of the field force. The window is partitioned by province (no single-partition window)."""
    flagged = F.col("revisit_reasons") != ""
    w = Window.partitionBy("province_code")
    order = w.orderBy(flagged.desc(), F.col("revisit_score").desc(), F.col("enumerator_id"))
    return (
        enumerators.select(
            "*",
            F.count(F.lit(1)).over(w).alias("province_assessed"),
            F.sum(flagged.cast("int")).over(w).alias("province_revisit"),
            flagged.alias("to_revisit"),
            F.row_number().over(order).alias("_rank"),
        )
        .where(F.col("_rank") <= per_province)
        .drop("_rank")
    )


def quarantine_by_province(quarantine: DataFrame) -> DataFrame:
    """Quarantined rows counted by province_code (null: cannot be placed), source and reason_code (`rows`).

    Ingest places each row as it rejects it (docs/CONTRACTS.md, `quarantine`): by its own village code, a
    member by its household's; rows quarantined before the column existed hold null. Only the aggregate, a
    few hundred rows, reaches the driver."""
    if "province_code" not in quarantine.columns:  # a lakehouse no ingest of this version has written to yet
        quarantine = quarantine.withColumn("province_code", F.lit(None).cast("string"))
    return quarantine.groupBy("province_code", "source", "reason_code").agg(F.count(F.lit(1)).alias("rows"))
