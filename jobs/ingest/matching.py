"""Matching survey members to the civil registry by NIK token (padan / tidak padan), BRIEF §4 and §6.

Invalid and missing NIKs never enter the join. A NIK listed in several households counts once, in
the most recent interview; the other listings are DUPLICATE. Works on keyed tokens only: the raw
NIK has been replaced before this step, and HMAC is deterministic, so tokens join like NIKs.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.core import nik
from jobs.core.contract import (
    DECEASED,
    DUPLICATE,
    INVALID_NIK,
    MATCHED,
    MATCHED_PROBABILISTIC,
    MATCHED_WITH_DIFFERENCES,
    MISSING_NIK,
    NOT_COUNTED,
    NOT_FOUND,
)

LISTING = "_listing"
HOUSEHOLD_KK = "_household_kk"  # the member's household's KK token, as a kk_hash


def listing_order(listings: DataFrame) -> DataFrame:
    """Number each listing of a token: 1 for the most recent interview (ties by household and member
    number, so the result never depends on row order); every other listing is a DUPLICATE.

    listings: household_id, member_no, nik_token (not null), interview_start.
    """
    latest = Window.partitionBy("nik_token").orderBy(
        F.col("interview_start").desc(), F.col("household_id").asc(), F.col("member_no").asc()
    )
    return listings.withColumn(LISTING, F.row_number().over(latest))


def registry_event() -> Column:
    """The registry's record of a matched person says they died, live in another village than their household,
    or are on another KK (the verification queue's REGISTRY_EVENT, on a head). The KKs are compared as 64-bit
    hashes (`kk_hash`), so the registry join carries 8 bytes for them instead of two 64-character tokens."""
    return F.coalesce(
        F.col("_r_death").isNotNull()
        | (F.col("_r_village") != F.col("village_code"))
        | (F.col("_r_kk") != F.col(HOUSEHOLD_KK)),
        F.lit(False),
    )


def died_by(death_date: Column, interview_date: Column) -> Column:
    """The registry records the person's death on or before the interview (DECEASED; linkage reviews such a link)."""
    return death_date.isNotNull() & (death_date <= interview_date)


def kk_hash(column: str) -> Column:
    """A KK token as a 64-bit hash, null when it is null (compared, never joined on)."""
    return F.when(F.col(column).isNotNull(), F.xxhash64(F.col(column)))


def match(
    members: DataFrame, registry: DataFrame, listings: DataFrame | None = None, events: bool = False,
    links: DataFrame | None = None,
) -> DataFrame:
    """Add match_status, match_detail and match_probability to members (and `registry_event` when `events`).

    members: household_id, member_no, nik_token (null unless the NIK is well formed), nik_problem,
             birth_date, sex, interview_start, interview_date.
    registry: nik_token, birth_date, sex, death_date (one row per token).
    listings: when only some rosters are matched again (an update round), every current listing of
              their tokens nationally (household_id, member_no, nik_token, interview_start), so that
              the duplicate rule still sees the listings outside those rosters; None: `members` holds
              them all.
    events: also flag `registry_event` (null when the NIK is not matched); members then carry their
            household's village_code and HOUSEHOLD_KK, the registry its village_code and kk_token.
    links: members linked by probabilistic linkage (household_id, member_no, linked_token, match_probability,
           jobs/ingest/linking.py): each is that registry person's from here on, MATCHED_PROBABILISTIC, and
           not a listing for the duplicate rule (linkage only links persons no NIK lists).
    """
    if links is None:
        members = members.withColumn("_linked", F.lit(False)).withColumn(
            "match_probability", F.lit(None).cast("double"))
    else:
        members = (
            members.join(links, ["household_id", "member_no"], "left")
            .withColumn("_linked", F.col("linked_token").isNotNull())
            .withColumn("nik_token", F.coalesce(F.col("linked_token"), F.col("nik_token")))
            .drop("linked_token")
        )
    reg = registry.select(
        F.col("nik_token").alias("_r_token"),
        F.col("birth_date").alias("_r_birth"),
        F.col("sex").alias("_r_sex"),
        F.col("death_date").alias("_r_death"),
        *([F.col("village_code").alias("_r_village"), kk_hash("kk_token").alias("_r_kk")] if events else []),
    )
    valid = members.where(F.col("nik_token").isNotNull())
    invalid = members.where(F.col("nik_token").isNull())
    if listings is None:
        ordered = listing_order(valid)
    else:
        order = listing_order(listings.select("household_id", "member_no", "nik_token", "interview_start"))
        ordered = valid.join(order.select("household_id", "member_no", LISTING), ["household_id", "member_no"], "left")
    joined = ordered.join(reg, F.col("nik_token") == F.col("_r_token"), "left")
    diffs = F.concat_ws(
        ", ",
        F.when(F.col("birth_date") != F.col("_r_birth"), F.lit("birth_date")),
        F.when(F.col("sex") != F.col("_r_sex"), F.lit("sex")),
    )
    status = (
        F.when(F.col(LISTING) > 1, F.lit(DUPLICATE))
        .when(F.col("_r_token").isNull(), F.lit(NOT_FOUND))
        .when(died_by(F.col("_r_death"), F.col("interview_date")), F.lit(DECEASED))
        .when(F.col("_linked"), F.lit(MATCHED_PROBABILISTIC))
        .when(diffs != "", F.lit(MATCHED_WITH_DIFFERENCES))
        .otherwise(F.lit(MATCHED))
    )
    detail = (
        F.when(F.col(LISTING) > 1, F.lit("listed in a more recent interview of another household"))
        .when(F.col("_r_token").isNull(), F.lit("NIK not in the civil registry"))
        .when(died_by(F.col("_r_death"), F.col("interview_date")), F.lit("registry records a death"))
        .when(F.col("_linked"), F.lit("no usable NIK: linked to the registry by name, birth date and place"))
        .when(diffs != "", F.concat(F.lit("differs from registry: "), diffs))
    )
    matched = joined.withColumn("match_status", status).withColumn("match_detail", detail)
    unmatched = invalid.withColumn(
        "match_status", F.when(F.col("nik_problem") == nik.MISSING, F.lit(MISSING_NIK)).otherwise(F.lit(INVALID_NIK))
    ).withColumn("match_detail", F.col("nik_problem")).drop("_linked")
    if events:
        matched = matched.withColumn("registry_event", F.when(F.col("_r_token").isNotNull(), registry_event()))
        unmatched = unmatched.withColumn("registry_event", F.lit(None).cast("boolean"))
    matched = matched.drop("_linked", LISTING, "_r_token", "_r_birth", "_r_sex", "_r_death", "_r_village", "_r_kk")
    return matched.unionByName(unmatched)


def counted(status_col: str = "match_status") -> F.Column:
    """Members counted in household size: living and not listed elsewhere."""
    return ~F.col(status_col).isin(*NOT_COUNTED)
