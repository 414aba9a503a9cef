"""Linkage's rules in ingest on literal rows (jobs/ingest/linking.py, jobs/ingest/matching.py): which pairs
become links and which go to review, and what a link makes of a member in the match."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import functions as F

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


SIDES = ("_side string, household_id string, member_no int, nik_token string, interview_date date, "
         "village_code string, kk long, birth_date date, sex string, death_date date")


def test_the_sides_are_the_members_no_registry_token_matches_and_the_persons_no_member_lists(spark):
    """link_sides: left, the members with no token or a token the registry lacks; right, the registry persons
    nobody lists. A first round finds both in one full outer join, an update round (`listed`: the national
    listings) by anti-joins: the same rows either way."""
    from jobs.ingest import rematch

    d = D(2025, 3, 1)
    members = spark.createDataFrame([
        ("H1", 1, "tA", d, "3201010001", 7, D(1980, 1, 1), "L"),  # listed: in neither side
        ("H1", 2, None, d, "3201010001", 7, D(1985, 2, 1), "P"),  # no token: left
        ("H1", 3, "tX", d, "3201010001", 7, D(2010, 5, 5), "L"),  # not in the registry: left
    ], f"household_id string, member_no int, nik_token string, interview_date date, village_code string, "
       f"{matching.HOUSEHOLD_KK} long, birth_date date, sex string")
    registry = spark.createDataFrame([
        ("tA", D(1980, 1, 1), "L", "3201010001", "kA", None),
        ("tB", D(1985, 1, 2), "P", "3201010002", "kB", D(2020, 1, 1)),  # nobody lists B: right
    ], "nik_token string, birth_date date, sex string, village_code string, kk_token string, death_date date")
    kk_b = registry.select(matching.kk_hash("kk_token")).where("nik_token = 'tB'").first()[0]
    expected = spark.createDataFrame([
        (linking.MEMBER, "H1", 2, None, d, "3201010001", 7, D(1985, 2, 1), "P", None),
        (linking.MEMBER, "H1", 3, "tX", d, "3201010001", 7, D(2010, 5, 5), "L", None),
        (linking.PERSON, None, None, "tB", None, "3201010002", kk_b, D(1985, 1, 2), "P", D(2020, 1, 1)),
    ], SIDES)
    first = rematch.link_sides(members, registry)
    update = rematch.link_sides(members, registry, members.select("nik_token").where("nik_token is not null"))
    for got in (first, update):
        assert_df_equality(got.select(*linking.SIDE_COLUMNS), expected, ignore_row_order=True,
                           ignore_nullable=True)


def test_an_update_round_compares_only_the_persons_a_blocking_rule_reaches(spark, tmp_path):
    """reachable: of the registry persons, those sharing every key of one blocking rule with a member (village and
    birth date; KK; district, birth year and the name's first-word key, the name from identity_registry; the NIK's
    first 12 digits), and those of confirmed decisions; no other person can be in a scored pair."""
    from jobs.ingest import rematch
    from runtime import tables

    d, born = D(2025, 3, 1), D(1985, 2, 1)
    registry = spark.createDataFrame([
        ("tA", born, "P", "3201010001", "kA", None),  # village and birth date
        ("tB", D(1960, 1, 1), "L", "3201020001", "kH", None),  # the household's KK
        ("tC", D(1985, 9, 9), "P", "3201010009", "kC", None),  # district, birth year, SITI ~ SITTI
        ("tC2", D(1985, 9, 9), "P", "3201010009", "kC2", None),  # district and year, another name: not reached
        ("tD", D(1990, 1, 1), "P", "3302010001", "kD", None),  # the NIK's first 12 digits
        ("tE", D(1970, 1, 1), "L", "3302010001", "kE", None),  # nothing shared: not reached
        ("tF", D(1971, 1, 1), "L", "3302010001", "kF", None),  # nothing shared, but a confirmed decision's
    ], "nik_token string, birth_date date, sex string, village_code string, kk_token string, death_date date")
    kk = registry.where("nik_token = 'tB'").select(matching.kk_hash("kk_token")).first()[0]
    listed_members = spark.createDataFrame(
        [("H1", 2, None, d, "3201010001", kk, born, "P")],
        f"household_id string, member_no int, nik_token string, interview_date date, village_code string, "
        f"{matching.HOUSEHOLD_KK} long, birth_date date, sex string")
    members = linking.member_side(listed_members)
    reported = spark.createDataFrame([("H1", 2, "3302010101850001", "Sitti Aminah"), ("H9", 1, None, "Budi")],
                                     "household_id string, member_no int, nik string, full_name string")
    identities = spark.createDataFrame([
        ("tA", "3201014101850001", "SITI A"), ("tB", "3201020101600001", "BUDI"),
        ("tC", "3201014909850001", "SITI RAHMA"), ("tC2", "3201014909850002", "BUDI SANTOSO"),
        ("tD", "3302010101859999", "JOKO"), ("tE", "3302010101700001", "ANI"), ("tF", "3302010101710001", "ANI"),
    ], "nik_token string, nik string, name string")
    keys = [("village_code", "birth_date"), ("kk",), ("district_code", "birth_year", "name_key"), ("nik_prefix",)]
    put = tables.Staging(spark, str(tmp_path / "staging")).put
    also = spark.createDataFrame([("tF",)], "nik_token string")
    persons = linking.person_side(registry)
    got = linking.reachable(members, persons, reported, identities, keys, put, also)
    reached = "nik_token IN ('tA', 'tB', 'tC', 'tD', 'tF')"
    assert_df_equality(got.persons, persons.where(reached), ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(got.identities, identities.where(reached), ignore_row_order=True, ignore_nullable=True)
    # In link_sides, the update round's persons are those reached and listed by nobody.
    class Reach:
        def reach(self, m, p):
            return m, linking.reachable(m, p, reported, identities, keys, put).persons

    sides = rematch.link_sides(listed_members, registry, spark.createDataFrame([("tB",)], "nik_token string"),
                               Reach().reach)
    assert sorted(r.nik_token or "-" for r in sides.collect()) == ["-", "tA", "tC", "tD"]


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


DECISION = ("household_id string, member_no int, nik_token string, decision string, decided_by string, "
            "decided_at timestamp")


def test_a_decision_names_a_reviewed_pair_and_the_latest_stands(spark):
    """validation.decisions: one reason per row, the first rule it breaks; a pair decided twice keeps its latest
    decision; an accepted row carries the pair's province and probability from the review."""
    from jobs.core import quarantine as q
    from jobs.ingest import landing, validation

    t = dt.datetime(2026, 5, 1, 10)
    known = spark.createDataFrame([("H1", 2, "tB", "32", 0.97), ("H2", 1, "tC", "11", 0.98)],
                                  "household_id string, member_no int, nik_token string, province_code string, "
                                  "match_probability double")
    rows = spark.createDataFrame([
        ("H1", 2, "tB", "REJECT", "officer-1", t),  # superseded by the next row
        ("H1", 2, "tB", "CONFIRM", "officer-2", t + dt.timedelta(days=1)),  # kept
        ("H2", 1, "tC", "MAYBE", "officer-1", t),  # BAD_VALUE
        ("H2", 1, "tX", "CONFIRM", "officer-1", t),  # never sent for review
        ("H2", 1, "tC", "REJECT", None, t),  # MISSING_VALUE
        ("H1", 2, "tB", "CONFIRM", "officer-3", dt.datetime(2026, 8, 1)),  # after the as-of date
    ], DECISION).withColumn(landing.BAD_COLUMNS, F.array().cast("array<string>"))
    got = validation.decisions(rows, known, D(2026, 6, 30)).select(
        "decided_by", "decision", "province_code", "match_probability", validation.REASON)
    assert_df_equality(got, spark.createDataFrame([
        ("officer-1", "REJECT", "32", 0.97, q.DUPLICATE_RECORD),
        ("officer-2", "CONFIRM", "32", 0.97, None),
        ("officer-1", "MAYBE", "11", 0.98, q.BAD_VALUE),
        ("officer-1", "CONFIRM", None, None, q.UNKNOWN_PAIR),
        (None, "REJECT", "11", 0.98, q.MISSING_VALUE),
        ("officer-3", "CONFIRM", "32", 0.97, q.OUT_OF_RANGE),
    ], "decided_by string, decision string, province_code string, match_probability double, _reason string"),
        ignore_row_order=True, ignore_nullable=True)


def test_a_confirmed_pair_is_a_link_while_both_are_unmatched_and_a_rejected_one_is_never_scored(spark):
    """confirmed: a link per member and per person (the latest decision first) while the member is still on the
    left and the person on the right; unrejected: the rejected pair leaves the scored pairs, the member's other
    pairs stay."""
    t = dt.datetime(2026, 5, 1, 10)
    decisions = spark.createDataFrame([
        ("H1", 1, "tA", "CONFIRM", "o1", t, 0.9),  # linked
        ("H1", 2, "tA", "CONFIRM", "o1", t - dt.timedelta(days=1), 0.8),  # tA is H1:1's (a later decision)
        ("H2", 1, "tB", "CONFIRM", "o1", t, 0.7),  # H2:1 now has a usable NIK: not on the left
        ("H3", 1, "tL", "CONFIRM", "o1", t, 0.6),  # tL is listed by NIK now: not on the right
        ("H4", 1, "tC", "REJECT", "o1", t, 0.5),
    ], DECISION + ", match_probability double")
    members = spark.createDataFrame([("H1", 1), ("H1", 2), ("H3", 1), ("H4", 1)], "household_id string, member_no int")
    persons = spark.createDataFrame([("tA",), ("tB",), ("tC",)], "nik_token string")
    assert_df_equality(linking.confirmed(decisions, members, persons), spark.createDataFrame(
        [("H1", 1, "tA", 0.9)], "household_id string, member_no int, linked_token string, match_probability double"),
        ignore_nullable=True)
    pairs = spark.createDataFrame([("H4:1", "tC", 0.97), ("H4:1", "tD", 0.6), ("H1:2", "tC", 0.9)],
                                  "member_id string, registry_id string, match_probability double")
    kept = {(r.member_id, r.registry_id) for r in linking.unrejected(pairs, decisions).collect()}
    assert kept == {("H4:1", "tD"), ("H1:2", "tC")}
