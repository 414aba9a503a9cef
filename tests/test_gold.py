"""The gold rows' run ids and what the previous publication held (jobs/publish/gold.py)."""

from __future__ import annotations

from chispa import assert_df_equality

from jobs.core.change_set import was
from jobs.publish import gold


def test_with_run_keeps_unchanged_rows_run_and_carries_what_was_published(spark):
    rows = spark.createDataFrame(
        [("h1", "2026-01-05", 1), ("h2", "2026-03-01", 2), ("h3", "2026-02-01", 3)],
        "household_id string, interview_date string, decile int",
    )
    first = gold.with_run(rows, None, ["household_id"], "run-1", carry=["interview_date"])
    assert_df_equality(
        first.drop("row_hash"),
        spark.createDataFrame(
            [("h1", "2026-01-05", 1, "run-1", None), ("h2", "2026-03-01", 2, "run-1", None),
             ("h3", "2026-02-01", 3, "run-1", None)],
            "household_id string, interview_date string, decile int, run_id string, _was_interview_date string",
        ),
        ignore_row_order=True, ignore_nullable=True,
    )
    # h1 unchanged, h2 re-interviewed, h3 gone, h4 new
    now = spark.createDataFrame(
        [("h1", "2026-01-05", 1), ("h2", "2026-06-01", 2), ("h4", "2026-06-02", 4)],
        "household_id string, interview_date string, decile int",
    )
    second = gold.with_run(now, first.drop(was("interview_date")), ["household_id"], "run-2",
                           carry=["interview_date", "decile"])
    assert_df_equality(
        second.drop("row_hash"),
        spark.createDataFrame(
            [("h1", "2026-01-05", 1, "run-1", "2026-01-05", 1), ("h2", "2026-06-01", 2, "run-2", "2026-03-01", 2),
             ("h4", "2026-06-02", 4, "run-2", None, None)],
            "household_id string, interview_date string, decile int, run_id string, _was_interview_date string, "
            "_was_decile int",
        ),
        ignore_row_order=True, ignore_nullable=True,
    )
