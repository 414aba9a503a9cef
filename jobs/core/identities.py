"""The restricted identity tables as rows: what ingest's linkage and the office's review file read from them."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def flattened(identity_survey: DataFrame) -> DataFrame:
    """identity_survey's rosters as rows: household_id, member_no, nik (as reported), full_name."""
    return identity_survey.select("household_id", F.explode("members").alias("m")).select(
        "household_id", "m.member_no", "m.nik", "m.full_name")
