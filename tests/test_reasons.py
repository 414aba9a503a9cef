"""The reasons for entering or leaving a programme, on literal rows (jobs/policy/reasons.py)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import functions as F

from jobs.core.change_set import DELETE, WAS_ELIGIBLE, WAS_RULE, was
from jobs.policy import reasons
from jobs.publish.gold import CARRIED

# program_eligibility's change set as gold.eligibility_changes gives it: this run's rows, `_delete`, and what
# the table held (WAS: eligible, rule version).
CHANGE = ("program string, household_id string, province_code string, regency_code string, eligible boolean, "
          f"rule_version string, eligible_since date, updated_run_id string, {DELETE} boolean, {WAS_ELIGIBLE} boolean, "
          f"{WAS_RULE} string")
MOVED = ("program string, household_id string, province_code string, regency_code string, change string, "
         f"rule_version string, {WAS_RULE} string")
# This publication's dtks_households (the columns `reasons` reads), with what the previous one held (CARRIED).
TYPES = {"interview_date": "date", "model_version": "string", "data_hash": "bigint", "decile": "int"}
RANKED = ", ".join(["household_id string", *[f"{c} {TYPES[c]}" for c in CARRIED],
                    *[f"{was(c)} {TYPES[c]}" for c in CARRIED]])
OUT = ("program string, household_id string, province_code string, regency_code string, change string, "
       "reasons array<string>")
D1, D2 = dt.date(2025, 3, 1), dt.date(2026, 5, 1)
DAY = dt.date(2026, 6, 30)


def moved_rows(spark, rows):
    """Moves in province 11 / regency 1101: (program, household_id, change, rule_version, _was_rule)."""
    return spark.createDataFrame([(p, h, "11", "1101", c, r, w) for p, h, c, r, w in rows], MOVED)


def test_moves_are_the_rows_whose_eligibility_flipped_not_a_rule_version_change(spark):
    """moves: an entry is False/absent -> True, an exit True -> False or a deleted row that was eligible; a
    rule-version change that leaves a household eligible (or ineligible) is neither, nor is a new ineligible
    row or a deleted ineligible one. A deleted row keeps the province and the rule it was published under."""
    changes = spark.createDataFrame([
        ("PKH", "h1", "11", "1101", True, "v2", DAY, "run-2", False, None, None),  # new, eligible
        ("PKH", "h2", "11", "1101", False, "v2", None, "run-2", False, None, None),  # new, not eligible
        ("PKH", "h3", "11", "1101", False, "v2", None, "run-2", False, True, "v2"),
        ("PKH", "h4", "11", "1101", True, "v2", DAY, "run-2", False, False, "v2"),
        ("SEMBAKO", "h5", "11", "1101", True, "v2", DAY, "run-2", False, True, "v1"),  # rule only: stays in
        ("SEMBAKO", "h6", "11", "1101", False, "v2", None, "run-2", False, False, "v1"),  # rule only: stays out
        ("SEMBAKO", "h9", "11", "1101", True, "v2", DAY, "run-2", False, False, "v1"),  # rule and eligibility
        ("SEMBAKO", "h7", "12", "1201", None, None, None, None, True, True, "v1"),  # no longer ranked
        ("PBI_JK", "h8", "12", "1201", None, None, None, None, True, False, "v1"),  # gone, was not eligible
    ], CHANGE)
    got = reasons.moves(changes).orderBy("program", "household_id")
    assert_df_equality(got, spark.createDataFrame([
        ("PKH", "h1", "11", "1101", "ENTERED", "v2", None),
        ("PKH", "h3", "11", "1101", "LEFT", "v2", "v2"),
        ("PKH", "h4", "11", "1101", "ENTERED", "v2", "v2"),
        ("SEMBAKO", "h7", "12", "1201", "LEFT", None, "v1"),
        ("SEMBAKO", "h9", "11", "1101", "ENTERED", "v2", "v1"),
    ], MOVED), ignore_nullable=True)


def ranked_rows(spark):
    """This publication's households beside the previous one's: (now..., before...) per household."""
    return spark.createDataFrame([
        ("h1", D2, "3", 101, 2, None, None, None, None),  # new to the ranking
        ("h2", D2, "3", 202, 3, D1, "3", 201, 5),  # re-interviewed (so its data changed too)
        ("h3", D1, "3", 301, 5, D1, "2", 301, 4),  # another model version
        ("h4", D1, "3", 402, 5, D1, "3", 401, 4),  # same interview, its data changed: a registry event
        ("h6", D1, "3", 601, 4, D1, "3", 601, 5),  # nothing of its own changed
        ("h7", D2, "3", 702, 3, D1, "2", 701, 6),  # re-interviewed and another model version
        ("h8", D1, "3", 801, 6, D1, "3", 801, 5),  # nothing of its own changed
        ("h9", D1, "3", 902, 5, D1, "2", 901, 4),  # another model version and a registry event
        ("h10", D1, "3", 1001, 1, D1, "3", 1001, 1),  # did not move
    ], RANKED)


@pytest.mark.parametrize("few", [False, True], ids=["shuffled", "broadcast"])
def test_reasons_of_each_move_several_at_once_and_rank_shift_only_alone(spark, few):
    """reasons: INTERVIEW for a household new to the ranking or re-interviewed (a new interview's changed data
    is not REGISTRY), MODEL for another model version, REGISTRY for changed data under the same interview or
    a household no longer ranked, POLICY where the policy column is true; several at once in that order;
    RANK_SHIFT only when there is no other. `few` (broadcast of the moved households) gives the same rows."""
    moved = moved_rows(spark, [
        ("PKH", "h1", "ENTERED", "v2", "v2"),
        ("PKH", "h2", "ENTERED", "v2", "v2"),
        ("PKH", "h3", "LEFT", "v2", "v2"),
        ("PKH", "h4", "LEFT", "v2", "v2"),
        ("PKH", "h5", "LEFT", None, "v2"),  # not in this publication's ranking
        ("PKH", "h6", "ENTERED", "v2", "v2"),
        ("PKH", "h7", "ENTERED", "v2", "v2"),
        ("PKH", "h9", "LEFT", "v2", "v2"),
        ("SEMBAKO", "h7", "ENTERED", "v2", "v2"),
        ("SEMBAKO", "h8", "LEFT", "v2", "v2"),
    ])
    got = reasons.reasons(moved, ranked_rows(spark), F.col("program") == "SEMBAKO", few=few)
    assert_df_equality(got.orderBy("program", "household_id"), spark.createDataFrame([
        ("PKH", "h1", "11", "1101", "ENTERED", ["INTERVIEW"]),
        ("PKH", "h2", "11", "1101", "ENTERED", ["INTERVIEW"]),
        ("PKH", "h3", "11", "1101", "LEFT", ["MODEL"]),
        ("PKH", "h4", "11", "1101", "LEFT", ["REGISTRY"]),
        ("PKH", "h5", "11", "1101", "LEFT", ["REGISTRY"]),
        ("PKH", "h6", "11", "1101", "ENTERED", ["RANK_SHIFT"]),
        ("PKH", "h7", "11", "1101", "ENTERED", ["INTERVIEW", "MODEL"]),
        ("PKH", "h9", "11", "1101", "LEFT", ["MODEL", "REGISTRY"]),
        ("SEMBAKO", "h7", "11", "1101", "ENTERED", ["INTERVIEW", "MODEL", "POLICY"]),
        ("SEMBAKO", "h8", "11", "1101", "LEFT", ["POLICY"]),
    ], OUT), ignore_nullable=True)


def test_reasons_at_the_first_publish_are_a_new_interview(spark):
    """reasons with `ranked` None (before the first publish): every entry is new, INTERVIEW alone."""
    moved = moved_rows(spark, [("PKH", "h1", "ENTERED", "v1", None), ("SEMBAKO", "h1", "ENTERED", "v1", None),
                               ("SEMBAKO", "h2", "ENTERED", "v1", None)])
    got = reasons.reasons(moved, None, F.lit(False))
    assert_df_equality(got.orderBy("program", "household_id"), spark.createDataFrame([
        ("PKH", "h1", "11", "1101", "ENTERED", ["INTERVIEW"]),
        ("SEMBAKO", "h1", "11", "1101", "ENTERED", ["INTERVIEW"]),
        ("SEMBAKO", "h2", "11", "1101", "ENTERED", ["INTERVIEW"]),
    ], OUT), ignore_nullable=True)


def test_policy_changed_by_a_programme_rule_or_the_coverage_target(spark):
    """policy_changed: with the previous publication's rules recorded, true for the programmes whose rule
    (fingerprint) differs, a new programme included, whatever rule_version says; true everywhere when the
    coverage target changed; before rules were recorded (no `rules`, or null), where the row's rule version
    differs from the one it was published under (a new row has none: false)."""
    moved = moved_rows(spark, [
        ("PKH", "h1", "ENTERED", "v2", "v1"),  # rule_version raised, PKH's rule itself unchanged
        ("SEMBAKO", "h2", "LEFT", "v1", "v1"),  # SEMBAKO's rule changed, rule_version not raised
        ("KARTU", "h3", "ENTERED", "v1", None),  # a programme new in this publish
        ("PBI_JK", "h4", "LEFT", "v1", "v1"),  # unchanged
    ])
    was_rules = {"PKH": "pkh-1", "SEMBAKO": "sembako-1", "PBI_JK": "pbi-1"}
    now_rules = {"PKH": "pkh-1", "SEMBAKO": "sembako-2", "PBI_JK": "pbi-1", "KARTU": "kartu-1"}
    recorded = Row(coverage_target=0.6, rules=was_rules)
    cases = {  # case: (previous publication, this publish's rules, coverage target)
        "rule changed": (recorded, now_rules, 0.6),
        "same rules": (recorded, was_rules, 0.6),
        "coverage changed": (recorded, was_rules, 0.5),
        "no rules recorded": (Row(coverage_target=0.6), now_rules, 0.6),
        "rules null": (Row(coverage_target=0.6, rules=None), now_rules, 0.6),
        "no rules, coverage changed": (Row(coverage_target=0.6), now_rules, 0.65),
    }
    got = None
    for case, (previous, rules, coverage) in cases.items():
        one = moved.select(F.lit(case).alias("case"), "household_id",
                           reasons.policy_changed(previous, rules, coverage).alias("policy"))
        got = one if got is None else got.unionByName(one)
    households = ["h1", "h2", "h3", "h4"]
    want = {  # case: policy for h1 (PKH), h2 (SEMBAKO), h3 (KARTU), h4 (PBI_JK)
        "rule changed": (False, True, True, False),
        "same rules": (False, False, False, False),
        "coverage changed": (True, True, True, True),
        "no rules recorded": (True, False, False, False),
        "rules null": (True, False, False, False),
        "no rules, coverage changed": (True, True, True, True),
    }
    rows = [(case, h, flag) for case, flags in want.items() for h, flag in zip(households, flags, strict=True)]
    assert_df_equality(got, spark.createDataFrame(rows, "case string, household_id string, policy boolean"),
                       ignore_row_order=True, ignore_nullable=True)


def test_of_publish_adds_appeal_which_replaces_rank_shift(spark):
    """of_publish: a resolved appeal adds APPEAL to its household's moves, in place of RANK_SHIFT and beside
    any other reason; a household without one keeps its reasons; an appeal that moved nothing adds no row.
    The policy comes from the previous publication's recorded rules (SEMBAKO's changed)."""
    changes = spark.createDataFrame([
        ("PKH", "h2", "11", "1101", True, "v2", DAY, "run-2", False, False, "v2"),  # re-interviewed
        ("PKH", "h6", "11", "1101", True, "v2", DAY, "run-2", False, False, "v2"),  # rank shift, appealed
        ("PKH", "h8", "11", "1101", False, "v2", None, "run-2", False, True, "v2"),  # rank shift, no appeal
        ("SEMBAKO", "h10", "11", "1101", True, "v2", DAY, "run-2", False, True, "v1"),  # appealed, rule only
        ("SEMBAKO", "h8", "11", "1101", False, "v2", None, "run-2", False, True, "v2"),  # policy
    ], CHANGE)
    previous = Row(coverage_target=0.6, rules={"PKH": "pkh-1", "SEMBAKO": "sembako-1"})
    appealed = spark.createDataFrame([("h2",), ("h6",), ("h10",)], "household_id string")
    got = reasons.of_publish(None, changes, ranked_rows(spark), previous, {"PKH": "pkh-1", "SEMBAKO": "sembako-2"},
                             0.6, appealed)
    assert_df_equality(got.orderBy("program", "household_id"), spark.createDataFrame([
        ("PKH", "h2", "11", "1101", "ENTERED", ["INTERVIEW", "APPEAL"]),
        ("PKH", "h6", "11", "1101", "ENTERED", ["APPEAL"]),
        ("PKH", "h8", "11", "1101", "LEFT", ["RANK_SHIFT"]),
        ("SEMBAKO", "h8", "11", "1101", "LEFT", ["POLICY"]),
    ], OUT), ignore_nullable=True)


def test_of_publish_first_publish_every_eligible_row_enters(spark):
    """of_publish with no change set and no previous publication: every eligible row enters for a new
    interview (ineligible rows are no move), plus APPEAL for an appealed household."""
    elig = spark.createDataFrame([
        ("PKH", "h1", "11", "1101", True, "v1", DAY, "run-1"),
        ("PKH", "h2", "11", "1101", False, "v1", None, "run-1"),
        ("SEMBAKO", "h2", "11", "1101", True, "v1", DAY, "run-1"),
    ], "program string, household_id string, province_code string, regency_code string, eligible boolean, "
       "rule_version string, eligible_since date, updated_run_id string")
    got = reasons.of_publish(elig, None, None, None, {}, 0.6, spark.createDataFrame([("h2",)], "household_id string"))
    assert_df_equality(got.orderBy("program", "household_id"), spark.createDataFrame([
        ("PKH", "h1", "11", "1101", "ENTERED", ["INTERVIEW"]),
        ("SEMBAKO", "h2", "11", "1101", "ENTERED", ["INTERVIEW", "APPEAL"]),
    ], OUT), ignore_nullable=True)


def test_rows_changed_counts_a_merges_changes_or_the_first_writes_rows():
    """rows_changed: a MERGE's inserted + updated + deleted rows (its copied rows aside); a plain write's
    numOutputRows when there are none; 0 without metrics."""
    merge = {"numTargetRowsInserted": "3", "numTargetRowsUpdated": "4", "numTargetRowsDeleted": "2",
             "numTargetRowsCopied": "500", "numOutputRows": "509"}
    assert reasons.rows_changed(merge) == 9
    assert reasons.rows_changed({"numTargetRowsDeleted": "7"}) == 7
    assert reasons.rows_changed({"numOutputRows": "12", "numFiles": "2"}) == 12
    assert reasons.rows_changed({}) == 0


def test_counts_one_household_under_each_of_its_reasons(spark):
    """counts: per programme, reason and change, the households, one with several reasons counted under each."""
    rows = spark.createDataFrame([
        ("PKH", "h1", "11", "1101", "ENTERED", ["INTERVIEW", "MODEL"]),
        ("PKH", "h2", "11", "1101", "ENTERED", ["INTERVIEW"]),
        ("PKH", "h3", "12", "1201", "LEFT", ["REGISTRY"]),
        ("PKH", "h4", "12", "1201", "LEFT", ["INTERVIEW"]),
        ("SEMBAKO", "h1", "11", "1101", "ENTERED", ["RANK_SHIFT"]),
    ], OUT)
    got = reasons.counts(rows).orderBy("program", "reason", "change")
    expected = [
        ("PKH", "INTERVIEW", "ENTERED", 2),
        ("PKH", "INTERVIEW", "LEFT", 1),
        ("PKH", "MODEL", "ENTERED", 1),
        ("PKH", "REGISTRY", "LEFT", 1),
        ("SEMBAKO", "RANK_SHIFT", "ENTERED", 1),
    ]
    assert_df_equality(got, spark.createDataFrame(
        expected, "program string, reason string, change string, count bigint"), ignore_nullable=True)
    # The same rule on the rows as deltalake reads them (the lookups of a local lakehouse, no Spark).
    arrow = pa.Table.from_pandas(rows.toPandas(), preserve_index=False)
    assert reasons.counts_arrow(arrow) == {(p, r, c): n for p, r, c, n in expected}
