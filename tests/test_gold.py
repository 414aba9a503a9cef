"""The gold rows' run ids and what the previous publication held (jobs/publish/gold.py)."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs.core.change_set import was
from jobs.publish import gold
from runtime import tables


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


MEMBER = ("household_id string, member_no int, nik_token string, match_status string, sex int, age int, "
          "relationship int, disability int, pregnant int, chronic_illness int, in_school int, province_code string, "
          "regency_code string, row_hash string")


def _member(household: str, no: int, row_hash: str, age: int = 30) -> tuple:
    return (household, no, f"t-{household}-{no}", "MATCHED", 1, age, 1, 0, 0, 0, 0, "11", "1101", row_hash)


def test_member_changes_hold_new_changed_and_gone_members_of_ranked_households_only(spark, tmp_path):
    """h1 is unchanged, h2's member 2 changed and its member 3 left the roster, h3 is new, h4 is surveyed but not
    ranked (its member stays out of gold, and its published member is deleted), h5 left the survey. The change
    set holds the members to insert or update (with this run's id) and the keys to delete, nothing else."""
    members = spark.createDataFrame([
        _member("h1", 1, "a"), _member("h2", 1, "b"), _member("h2", 2, "c2", age=5), _member("h3", 1, "d"),
        _member("h4", 1, "e"),
    ], MEMBER)
    gold_hh = spark.createDataFrame([("h1",), ("h2",), ("h3",)], "household_id string")
    put = tables.Staging(spark, str(tmp_path / "staging")).put  # publish's staging area
    assert [r.household_id for r in gold.unranked_households(members, gold_hh).collect()] == ["h4"]
    published = gold.build_members(spark.createDataFrame([
        _member("h1", 1, "a"), _member("h2", 1, "b"), _member("h2", 2, "c1", age=5), _member("h2", 3, "x"),
        _member("h4", 1, "e"), _member("h5", 1, "f"),
    ], MEMBER)).withColumn("run_id", F.lit("run-1"))
    got = gold.member_changes(members, gold_hh, published, "run-2", put)
    assert_df_equality(
        got.select("household_id", "member_no", "row_hash", "is_child_u6", "run_id", "_delete"),
        spark.createDataFrame([
            ("h2", 2, "c2", True, "run-2", False), ("h3", 1, "d", False, "run-2", False),
            ("h2", 3, None, None, None, True), ("h4", 1, None, None, None, True), ("h5", 1, None, None, None, True),
        ], "household_id string, member_no int, row_hash string, is_child_u6 boolean, run_id string, "
           "_delete boolean"),
        ignore_row_order=True, ignore_nullable=True,
    )
    assert {(r.household_id, r.province_code, r.regency_code) for r in got.where("_delete").collect()} == {
        ("h2", "11", "1101"), ("h4", "11", "1101"), ("h5", "11", "1101")}
    first = gold.member_changes(members, gold_hh, None, "run-1", put)
    assert first.count() == 4 and first.where("_delete").count() == 0
