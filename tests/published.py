"""Readers of a published lakehouse that several end-to-end modules share: eligibility snapshots, the moves
between two of them, the reasons a publish recorded, and the generated appeals' truth."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from runtime import tables

# The gold tables a publish writes, and the silver tables ingest writes that a second identical run must leave as
# they are (test_pipeline.py, test_console.py).
GOLD = (tables.DTKS_HOUSEHOLDS, tables.DTKS_MEMBERS, tables.PROGRAM_ELIGIBILITY)
SILVER = (tables.REGISTRY, tables.HOUSEHOLDS, tables.MEMBERS, tables.QUARANTINE, tables.IDENTITY_VAULT, tables.TRAINING)


def eligible_at(spark, config, version: int | None = None) -> dict[tuple[str, str], bool]:
    """(program, household) -> eligible, in program_eligibility at `version` (default: the latest)."""
    rows = tables.read(spark, config, tables.PROGRAM_ELIGIBILITY, version).select("program", "household_id", "eligible")
    return {(r.program, r.household_id): r.eligible for r in rows.collect()}


def net_moves(before: dict, after: dict) -> dict[tuple[str, str], str]:
    """Who entered and who left between two eligibility snapshots."""
    keys = set(before) | set(after)
    return {k: "ENTERED" if after.get(k) else "LEFT" for k in keys if bool(before.get(k)) != bool(after.get(k))}


def reasons_of_run(spark, config, run_id: str) -> dict[tuple[str, str], tuple[str, set[str]]]:
    """(program, household) -> (change, reasons) that the publish of `run_id` recorded."""
    rows = tables.read(spark, config, tables.ELIGIBILITY_REASONS).where(F.col("run_id") == run_id)
    found = {(r.program, r.household_id): (r.change, set(r.reasons)) for r in rows.collect()}
    assert rows.count() == len(found)  # one row per programme and household
    return found


def appeals_truth(spark, landing) -> pd.DataFrame:
    return spark.read.parquet(str(landing / "truth" / "appeals")).toPandas()
