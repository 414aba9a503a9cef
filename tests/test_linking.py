"""Linkage's rules in ingest on literal rows (jobs/ingest/linking.py, jobs/ingest/matching.py): which pairs
become links and which go to review, and what a link makes of a member in the match."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from jobs.core import contract
from jobs.core.linkage_review import LINK_TO_DECEASED, PENDING, UNCERTAIN
from jobs.ingest import linking, matching
from models import linkage

D = dt.date
PAIR = ("member_id string, registry_id string, match_probability double, match_weight double, level_name int, "
        "level_birth_date int, level_sex int, level_village_code int, level_kk int, level_nik int")
LEFT = "household_id string, member_no int, interview_date date, province_code string, _member_id string"


def test_links_above_the_upper_threshold_and_reviews_the_rest_and_links_to_the_dead(spark):
    """At or above upper: a link, unless the registry records the person's death by the interview (then a
    review, LINK_TO_DECEASED); between the thresholds: a review (UNCERTAIN). A death after the interview
    does not stop the link."""
    pairs = spark.createDataFrame([
        ("H1:1", "tA", 0.9995, 11.0, 5, 4, 1, 2, 1, None),  # linked
        ("H1:2", "tB", 0.9999, 14.0, 5, 4, 1, 2, 1, None),  # B died before the interview: review
        ("H2:1", "tC", 0.97, 5.0, 3, 4, 1, 1, 0, None),  # between the thresholds: review
        ("H2:2", "tD", 0.9999, 14.0, 5, 4, 1, 2, 1, 1),  # D died after the interview: linked
    ], PAIR)
    left = spark.createDataFrame([
        ("H1", 1, D(2025, 3, 1), "32", "H1:1"), ("H1", 2, D(2025, 3, 1), "32", "H1:2"),
        ("H2", 1, D(2025, 3, 2), "11", "H2:1"), ("H2", 2, D(2025, 3, 2), "11", "H2:2"),
    ], LEFT)
    persons = spark.createDataFrame(
        [("tA", None), ("tB", D(2024, 12, 31)), ("tC", None), ("tD", D(2025, 6, 1))],
        "nik_token string, death_date date")
    found = linking.decided(pairs, left, persons, linkage.Thresholds(upper=0.999, lower=0.5))
    assert_df_equality(found.links, spark.createDataFrame(
        [("H1", 1, "tA", 0.9995), ("H2", 2, "tD", 0.9999)],
        "household_id string, member_no int, linked_token string, match_probability double"),
        ignore_row_order=True, ignore_nullable=True)
    review = {(r.household_id, r.member_no): (r.nik_token, r.review_reason, r.review_status, r.level_kk)
              for r in found.review.collect()}
    assert review == {("H1", 2): ("tB", LINK_TO_DECEASED, PENDING, 1),
                      ("H2", 1): ("tC", UNCERTAIN, PENDING, 0)}


MEMBERS = ("household_id string, member_no int, nik_token string, nik_problem string, birth_date date, sex string, "
           "interview_start timestamp, interview_date date")


def test_a_linked_member_is_the_persons_and_matched_probabilistically(spark):
    """The link gives the member the person's token and MATCHED_PROBABILISTIC with its probability (even where
    the birth date differs, which linkage already weighed); it is not a second listing of the person, and a
    member without a link keeps its NIK status."""
    t = dt.datetime(2025, 3, 1, 9)
    members = spark.createDataFrame([
        ("H1", 1, "tA", None, D(1980, 1, 1), "L", t, t.date()),  # by NIK
        ("H1", 2, None, "missing", D(1985, 2, 1), "P", t, t.date()),  # linked to tB (birth date swapped)
        ("H1", 3, "tX", None, D(2010, 5, 5), "L", t, t.date()),  # NOT_FOUND, no link
        ("H2", 1, None, "malformed", D(1990, 1, 1), "L", t, t.date()),  # INVALID_NIK, no link
    ], MEMBERS)
    registry = spark.createDataFrame([("tA", D(1980, 1, 1), "L", None), ("tB", D(1985, 1, 2), "P", None)],
                                     "nik_token string, birth_date date, sex string, death_date date")
    links = spark.createDataFrame([("H1", 2, "tB", 0.9993)],
                                  "household_id string, member_no int, linked_token string, match_probability double")
    got = matching.match(members, registry, links=links).select(
        "household_id", "member_no", "nik_token", "match_status", "match_probability")
    expected = spark.createDataFrame([
        ("H1", 1, "tA", contract.MATCHED, None),
        ("H1", 2, "tB", contract.MATCHED_PROBABILISTIC, 0.9993),
        ("H1", 3, "tX", contract.NOT_FOUND, None),
        ("H2", 1, None, contract.INVALID_NIK, None),
    ], "household_id string, member_no int, nik_token string, match_status string, match_probability double")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_unmatched_are_the_members_no_registry_token_matches(spark):
    members = spark.createDataFrame([("H1", 1, "tA"), ("H1", 2, None), ("H1", 3, "tX")],
                                    "household_id string, member_no int, nik_token string")
    registry = spark.createDataFrame([("tA",), ("tB",)], "nik_token string")
    got = linking.unmatched(members, registry)
    assert sorted((r.household_id, r.member_no) for r in got.collect()) == [("H1", 2), ("H1", 3)]


def test_the_review_file_holds_the_regions_pending_pairs_with_both_records(spark):
    """review_rows: a pending pair of the region with the member's name and birth data as reported and the
    person's as registered, `decision` empty for the office; a decided pair and another region's are left out."""
    from jobs.lookup.review_export import review_rows

    review = spark.createDataFrame([
        ("H1", 2, "tB", "32", 0.97, 5, 4, 1, 2, 1, None, UNCERTAIN, PENDING),
        ("H2", 1, "tC", "11", 0.98, 5, 4, 1, 2, 1, None, UNCERTAIN, PENDING),  # another province
        ("H1", 3, "tD", "32", 0.96, 5, 4, 1, 2, 1, None, UNCERTAIN, "REJECTED"),  # decided
    ], "household_id string, member_no int, nik_token string, province_code string, match_probability double, "
       "level_name int, level_birth_date int, level_sex int, level_village_code int, level_kk int, level_nik int, "
       "review_reason string, review_status string")
    members = spark.createDataFrame([("H1", 2, D(1985, 2, 1), "P")],
                                    "household_id string, member_no int, birth_date date, sex string")
    households = spark.createDataFrame([("H1", "3273011001", "32", "3273"), ("H2", "1101012001", "11", "1101")],
                                       "household_id string, village_code string, province_code string, "
                                       "regency_code string")
    reported = spark.createDataFrame([("H1", 2, None, "Sitti Aminah")],
                                     "household_id string, member_no int, nik string, full_name string")
    persons = spark.createDataFrame([("tB", D(1985, 1, 2), "P", "3273011001")],
                                    "nik_token string, birth_date date, sex string, village_code string")
    registered = spark.createDataFrame([("tB", "3273014201850002", "Siti Aminah")],
                                       "nik_token string, nik string, full_name string")
    for code in ("32", "3273"):
        got = [r.asDict() for r in review_rows(review, members, households, reported, persons, registered,
                                               code).collect()]
        assert len(got) == 1, code
        row = got[0]
        assert (row["member_name"], row["member_birth_date"], row["member_nik"], row["registry_name"],
                row["registry_birth_date"], row["registry_nik"], row["decision"]) == (
            "Sitti Aminah", D(1985, 2, 1), None, "Siti Aminah", D(1985, 1, 2), "3273014201850002", None)
    assert review_rows(review, members, households, reported, persons, registered, "3201").count() == 0
