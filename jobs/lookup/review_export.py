"""A regional office's linkage review file: its region's pairs awaiting a decision, with both records as the office
needs them to decide (names, birth dates, sex, villages, the NIK as reported and as registered), read from the
restricted identity tables. `dtks export REGION --out DIR --linkage-review`.

Unlike the register's export, it holds personal data: it goes only to the office's hand-over folder, complete or
absent, with a manifest that says so. The office fills `decision` (CONFIRM or REJECT), `decided_by` and
`decided_at`, and returns the rows as the `linkage_decisions` landing source (docs/CONTRACTS.md), which reads those
and the pair's keys, and leaves the rest (the names among them) unread.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.linkage_review import PENDING
from runtime import tables
from runtime.config import DtksConfig

LEVELS = ("level_name", "level_birth_date", "level_sex", "level_village_code", "level_kk", "level_nik")
FILE = "linkage_review"
ORDER = ("household_id", "member_no", "nik_token")  # the file's row order: a household's pairs together


def review_rows(review: DataFrame, members: DataFrame, households: DataFrame, reported: DataFrame,
                persons: DataFrame, registered: DataFrame, code: str) -> DataFrame:
    """Pure: the pending pairs of region `code` (province or regency of the member's household) with both records.

    review: linkage_review; members: silver_members (household_id, member_no, birth_date, sex); households:
    silver_households (household_id, village_code, province_code, regency_code); reported: identity_survey
    (household_id, member_no, nik, full_name); persons: silver_registry (nik_token, birth_date, sex,
    village_code); registered: identity_registry (nik_token, nik, full_name)."""
    keys = ["household_id", "member_no"]
    column = "province_code" if len(code) == 2 else "regency_code"
    place = households.where(F.col(column) == F.lit(code)).select("household_id", "village_code")
    person = persons.select("nik_token", F.col("birth_date").alias("registry_birth_date"),
                            F.col("sex").alias("registry_sex"), F.col("village_code").alias("registry_village_code"))
    return (
        review.where(F.col("review_status") == PENDING)
        .join(place, "household_id")
        .join(members.select(*keys, F.col("birth_date").alias("member_birth_date"), F.col("sex").alias("member_sex")),
              keys, "left")
        .join(reported.select(*keys, F.col("full_name").alias("member_name"), F.col("nik").alias("member_nik")),
              keys, "left")
        .join(person, "nik_token", "left")
        .join(registered.select("nik_token", F.col("full_name").alias("registry_name"),
                                F.col("nik").alias("registry_nik")), "nik_token", "left")
        .select(*keys, "village_code", "member_name", "member_birth_date", "member_sex", "member_nik",
                "nik_token", "registry_name", "registry_birth_date", "registry_sex", "registry_village_code",
                "registry_nik", "match_probability", *LEVELS, "review_reason",
                F.lit(None).cast("string").alias("decision"), F.lit(None).cast("string").alias("decided_by"),
                F.lit(None).cast("timestamp").alias("decided_at"))
    )


def read_review(spark: SparkSession, config: DtksConfig, code: str) -> DataFrame:
    """The region's review rows from the lakehouse (linkage_review must exist: ingest writes it)."""
    def read(name: str) -> DataFrame:
        return tables.read(spark, config, name)

    return review_rows(read(tables.LINKAGE_REVIEW), read(tables.MEMBERS), read(tables.HOUSEHOLDS),
                       read(tables.IDENTITY_SURVEY), read(tables.REGISTRY),
                       read(tables.IDENTITY_REGISTRY), code)
