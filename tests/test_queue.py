"""The verification queue's outcomes on literal rows (jobs/publish/queue.py)."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs.publish import queue
from runtime.config import load_config


def test_outcomes_take_the_decile_before_from_the_carried_column_or_the_previous_publication(spark):
    day = dt.date(2026, 11, 28)
    entry = ("entry_id string, household_id string, head_token string, province_code string, regency_code string, "
             "village_code string, reasons array<string>, appeal_ids array<string>, opened_on date, deadline date, "
             "interview_date date, resurvey_date date, status string, priority int, closed_on date")
    out = spark.createDataFrame([
        ("h1:2026-01-01", "h1", None, "11", "1101", "1101010001", ["SANGGAH"], ["a1"], dt.date(2026, 1, 1),
         dt.date(2026, 1, 15), dt.date(2025, 6, 1), day, "RESOLVED", 1, day),
        # h2 left the ranking with its re-survey: its decile before is read from the previous publication.
        ("h2:2026-01-01", "h2", None, "11", "1101", "1101010001", ["NEAR_CUTOFF"], [], dt.date(2026, 1, 1),
         dt.date(2026, 12, 1), dt.date(2025, 6, 1), day, "RESURVEYED", 5, day),
        ("h3:2026-01-01", "h3", None, "11", "1101", "1101010001", ["STALE_INTERVIEW"], [], dt.date(2026, 1, 1),
         dt.date(2026, 12, 1), dt.date(2025, 6, 1), None, "OPEN", 6, None),
    ], entry)
    after = spark.createDataFrame([("h1", 4, 3), ("h3", 2, 2)], "household_id string, decile int, _was_decile int")
    before = spark.createDataFrame([("h1", 3), ("h2", 5), ("h3", 2)], "household_id string, decile int")
    # The eligibility change set: h1 entered PKH at this publish (the table held False).
    changes = spark.createDataFrame([("h1", "PKH", False)],
                                    "household_id string, program string, _was_eligible boolean")
    found = queue.Inputs(surveyed=None, ranked=None, heads=None, listed=None, suspects=None, appeals=None,
                         previous=None, closed=None, before=before, changes=changes, after=after,
                         programs={"PKH": F.col("decile") <= 4, "SEMBAKO": F.col("decile") <= 6})
    got = queue.outcomes(out, found).select("household_id", "decile_before", "decile_after", "eligible_before",
                                            "eligible_after", "appeal_types", "detail").orderBy("household_id")
    assert_df_equality(got, spark.createDataFrame([
        ("h1", 3, 4, {"PKH": False, "SEMBAKO": True}, {"PKH": True, "SEMBAKO": True}, ["SANGGAH"],
         "re-surveyed on 2026-11-28: decile 3 -> 4"),
        ("h2", 5, None, None, None, [], "re-surveyed on 2026-11-28: decile 5 -> -"),
        ("h3", None, None, None, None, [], None),
    ], "household_id string, decile_before int, decile_after int, eligible_before map<string,boolean>, "
       "eligible_after map<string,boolean>, appeal_types array<string>, detail string"),
        ignore_nullable=True)


def test_a_household_with_a_pair_awaiting_review_is_queued_for_it(spark):
    """signals: LINKAGE_REVIEW for a household in linkage_review's pending pairs, beside its other reasons; a
    household without one gets none."""
    day = dt.date(2026, 6, 30)
    surveyed = spark.createDataFrame([
        ("h1", "32", "3273", "3273011001", dt.date(2026, 1, 1), "e1"),
        ("h2", "32", "3273", "3273011001", dt.date(2020, 1, 1), "e1"),  # stale, and a pair to review
        ("h3", "32", "3273", "3273011001", dt.date(2026, 1, 1), "e1"),
    ], "household_id string, province_code string, regency_code string, village_code string, interview_date date, "
       "enumerator_id string")
    ranked = spark.createDataFrame([], "household_id string, province_code string, regency_code string, "
                                   "village_code string, interview_date date, persons_to_cutoff long")
    nobody = spark.createDataFrame([], "household_id string")
    inputs = queue.Inputs(surveyed=surveyed, ranked=ranked, heads=nobody, listed=None,
                          suspects=spark.createDataFrame([], "enumerator_id string"), appeals=None, previous=None,
                          closed=None, before=None, changes=None, after=ranked, programs={},
                          reviews=spark.createDataFrame([("h1",), ("h2",)], "household_id string"))
    got = queue.signals(inputs, day, 1000, queue.settings(load_config("test")))
    assert sorted((r.subject, r.reason) for r in got.collect()) == [
        ("h1", "LINKAGE_REVIEW"), ("h2", "LINKAGE_REVIEW"), ("h2", "STALE_INTERVIEW")]
