"""Household features on literal rows (jobs/ingest/features.py): who heads a household, and the counts."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from jobs.ingest import features

DAY = dt.datetime(2026, 3, 1, 9)
MEMBERS = ("household_id string, member_no int, match_status string, birth_date date, sex string, "
           "relationship int, education int, employment int, disability int, pregnant int")


def born(years: int) -> dt.date:
    return dt.date(2026 - years, 1, 1)


def test_the_head_is_the_listed_head_else_the_oldest_counted_member_else_the_lowest_number(spark):
    """h1: the listed head (a woman of 40, education 3) over an older man; h2: no head listed, the oldest
    counted member (the deceased one is not counted); h3: two of the same age, the lower member_no; h4: a
    head with education 0 beside a female spouse; h5: nobody counted, so no head (zeros) and not rankable."""
    households = spark.createDataFrame(
        [(h, "3273011001", DAY, 30.0) for h in ("h1", "h2", "h3", "h4", "h5")],
        "household_id string, village_code string, interview_start timestamp, floor_area double")
    members = spark.createDataFrame([
        ("h1", 1, "MATCHED", born(70), "L", 3, 1, 1, 0, 0),
        ("h1", 2, "MATCHED", born(40), "P", 1, 3, 3, 0, 0),
        ("h2", 1, "DECEASED", born(90), "L", 2, 4, 1, 0, 0),
        ("h2", 2, "MATCHED", born(61), "P", 3, 2, 1, 1, 0),
        ("h2", 3, "NOT_FOUND", born(4), "L", 4, 0, 0, 0, 0),
        ("h3", 7, "MATCHED", born(50), "L", 5, 5, 1, 0, 0),
        ("h3", 2, "MATCHED", born(50), "P", 5, 6, 1, 2, 0),
        ("h4", 1, "MATCHED", born(33), "L", 1, 0, 3, 0, 0),
        ("h4", 2, "MATCHED", born(30), "P", 2, 4, 1, 0, 1),
        ("h5", 1, "DUPLICATE", born(30), "P", 1, 4, 1, 0, 0),
    ], MEMBERS)
    got = features.features(households, members).select(
        "household_id", "hh_size", "head_female", "head_age", "head_education", "n_elderly", "n_children_u5",
        "n_disabled", "n_severe_disabled", "n_pregnant", "rankable").orderBy("household_id")
    expected = spark.createDataFrame([
        ("h1", 2, 1, 40, 3, 1, 0, 0, 0, 0, True),
        ("h2", 2, 1, 61, 2, 1, 1, 1, 0, 0, True),
        ("h3", 2, 1, 50, 6, 0, 0, 1, 1, 0, True),
        ("h4", 2, 0, 33, 0, 0, 0, 0, 0, 1, True),
        ("h5", 0, 0, 0, 0, 0, 0, 0, 0, 0, False),
    ], "household_id string, hh_size int, head_female int, head_age int, head_education int, n_elderly long, "
       "n_children_u5 long, n_disabled long, n_severe_disabled long, n_pregnant long, rankable boolean")
    assert_df_equality(got, expected, ignore_nullable=True)
