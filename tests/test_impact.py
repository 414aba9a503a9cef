"""A shadow ranking's impact on literal households (jobs/policy/impact.py, models/impact.py): who enters and
leaves which programme, and the aggregates the promotion gate reads. Every expected figure is worked out by hand
below."""

from __future__ import annotations

import pandas as pd
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs.policy import impact
from jobs.policy.eligibility import Program, Programs
from models.impact import Impact

# PKH: deciles 1-4 with a child under six; SEMBAKO: deciles 1-5. OLD was published but has no rule any more.
RULES = Programs(rule_version="t-1", programs={
    "PKH": Program(deciles=(1, 4), any_component=("n_children_u6",)),
    "SEMBAKO": Program(deciles=(1, 5)),
})
PROGRAMS = ["OLD", "PKH", "SEMBAKO"]
POPULATION = 20

PUBLISHED = ("household_id string, province_code string, hh_size int, head_female int, n_disabled int, head_age int, "
             "n_children_u6 int, is_urban boolean, welfare_score double, decile int, within_coverage boolean, "
             "candidate_score double")
# The published ranking (P = 20, coverage 0.6) by welfare_score: cumulative persons 4, 6, 11, 14, 20, shares
# 0.20, 0.30, 0.55, 0.70, 1.00: deciles 2, 3, 6, 7, 10; within coverage h1, h2, h3.
HOUSEHOLDS = [
    ("h1", "11", 4, 1, 0, 35, 2, False, 1.0, 2, True, 4.0),
    ("h2", "11", 2, 0, 1, 67, 0, True, 2.0, 3, True, 5.0),
    ("h3", "12", 5, 1, None, 60, 1, True, 3.0, 6, True, 1.0),
    ("h4", "12", 3, 0, 0, 44, 1, None, 4.0, 7, False, 2.0),
    ("h5", "12", 6, 0, 0, 59, 0, False, 5.0, 10, False, 3.0),
]
# The published eligibility under the same rules (h1: decile 2 with children; h2: decile 3, no child), plus OLD.
# h5 has no eligibility row at all.
ELIGIBILITY = [("h1", "OLD", True), ("h1", "PKH", True), ("h1", "SEMBAKO", True),
               ("h2", "OLD", False), ("h2", "PKH", False), ("h2", "SEMBAKO", True),
               ("h3", "OLD", True), ("h3", "PKH", False), ("h3", "SEMBAKO", False),
               ("h4", "OLD", False), ("h4", "PKH", False), ("h4", "SEMBAKO", False)]

MOVES = ("household_id string, province_code string, hh_size int, decile_before int, decile_after int, "
         "female_head boolean, any_disabled boolean, head_60_plus boolean, children_u6 boolean, urban boolean, "
         "rural boolean, e_OLD boolean, l_OLD boolean, e_PKH boolean, l_PKH boolean, e_SEMBAKO boolean, "
         "l_SEMBAKO boolean, e_WITHIN_COVERAGE boolean, l_WITHIN_COVERAGE boolean")


def _published(spark):
    return (spark.createDataFrame(HOUSEHOLDS, PUBLISHED),
            spark.createDataFrame(ELIGIBILITY, "household_id string, program string, eligible boolean"))


def test_household_moves_under_a_candidate_score(spark):
    """household_moves: the candidate's score re-ranks the published households (P and coverage given); each
    household's decile before and after, its subgroup flags (null where the column is null), and per programme
    and the coverage flag whether it enters or leaves; a programme without a rule is left by all its members and
    a household without published eligibility was eligible for nothing."""
    before, eligible = _published(spark)
    got = impact.household_moves(before, eligible, F.col("candidate_score"), POPULATION, 0.6, RULES, PROGRAMS)
    # By candidate_score: h3 (5 persons, share 0.25, decile 3, covered), h4 (8, 0.40, 4, covered), h5 (14, 0.70,
    # 7), h1 (18, 0.90, 9), h2 (20, 1.00, 10).
    # h1: was PKH, SEMBAKO, OLD, covered; now nothing: leaves all four.
    # h2: was SEMBAKO, covered; now nothing: leaves SEMBAKO and coverage.
    # h3: was OLD, covered; now PKH (decile 3, a child) and SEMBAKO, covered: enters PKH, SEMBAKO, leaves OLD.
    # h4: was nothing; now PKH (decile 4, a child), SEMBAKO, covered: enters all three.
    # h5: nothing before (no rows), nothing after.
    assert_df_equality(got.orderBy("household_id"), spark.createDataFrame([
        # id, prov, size, before, after, female_head, any_disabled, head_60_plus, children_u6, urban, rural,
        # e/l OLD, e/l PKH, e/l SEMBAKO, e/l WITHIN_COVERAGE
        ("h1", "11", 4, 2, 9, True, False, False, True, False, True,
         False, True, False, True, False, True, False, True),
        ("h2", "11", 2, 3, 10, False, True, True, False, True, False,
         False, False, False, False, False, True, False, True),
        ("h3", "12", 5, 6, 3, True, None, True, True, True, False,
         False, True, True, False, True, False, False, False),
        ("h4", "12", 3, 7, 4, False, False, False, True, None, None,
         False, False, True, False, True, False, True, False),
        ("h5", "12", 6, 10, 7, False, False, False, False, False, True,
         False, False, False, False, False, False, False, False),
    ], MOVES), ignore_nullable=True)


def test_household_moves_of_a_policy_change_keep_the_published_score(spark):
    """household_moves with no score (a policy change): the published welfare_score is re-ranked as it was, so the
    deciles stay; a lower coverage (0.4) moves only the coverage line and what rests on it."""
    before, eligible = _published(spark)
    got = impact.household_moves(before, eligible, None, POPULATION, 0.4, RULES, PROGRAMS).select(
        "household_id", "decile_before", "decile_after", "e_OLD", "l_OLD", "e_PKH", "l_PKH", "e_SEMBAKO",
        "l_SEMBAKO", "e_WITHIN_COVERAGE", "l_WITHIN_COVERAGE")
    # Shares 0.20, 0.30, 0.55, 0.70, 1.00: at 0.4 only h1 and h2 stay covered, h3 (0.55) leaves coverage.
    # PKH and SEMBAKO follow the unchanged deciles; OLD (no rule) is left by h1 and h3.
    assert_df_equality(got.orderBy("household_id"), spark.createDataFrame([
        ("h1", 2, 2, False, True, False, False, False, False, False, False),
        ("h2", 3, 3, False, False, False, False, False, False, False, False),
        ("h3", 6, 6, False, True, False, False, False, False, False, True),
        ("h4", 7, 7, False, False, False, False, False, False, False, False),
        ("h5", 10, 10, False, False, False, False, False, False, False, False),
    ], "household_id string, decile_before int, decile_after int, e_OLD boolean, l_OLD boolean, e_PKH boolean, "
       "l_PKH boolean, e_SEMBAKO boolean, l_SEMBAKO boolean, e_WITHIN_COVERAGE boolean, l_WITHIN_COVERAGE boolean"),
        ignore_nullable=True)


# Six households' moves, as household_moves gives them, for the programmes PKH and SEMBAKO:
#   id prov size deciles  subgroups                          moves
#   a  11   4    2 -> 4   female head, child u6, rural       -
#   b  11   3    7 -> 6   disabled, head 60+, urban          enters coverage only
#   c  12   5    6 -> 3   female head, 60+, child, urban     enters PKH, SEMBAKO, coverage (disabled unknown)
#   d  12   2    3 -> 7   child u6 (urban/rural unknown)     leaves PKH, SEMBAKO, coverage
#   e  12   6    5 -> 6   rural (female head unknown)        leaves SEMBAKO
#   f  11   1    2 -> 4   urban                              -
MOVED = [
    ("a", "11", 4, 2, 4, True, False, False, True, False, True, False, False, False, False, False, False),
    ("b", "11", 3, 7, 6, False, True, True, False, True, False, False, False, False, False, True, False),
    ("c", "12", 5, 6, 3, True, None, True, True, True, False, True, False, True, False, True, False),
    ("d", "12", 2, 3, 7, False, False, False, True, None, None, False, True, False, True, False, True),
    ("e", "12", 6, 5, 6, None, False, False, False, False, True, False, False, False, True, False, False),
    ("f", "11", 1, 2, 4, False, False, False, False, True, False, False, False, False, False, False, False),
]
MOVED_SCHEMA = MOVES.replace("e_OLD boolean, l_OLD boolean, ", "")


@pytest.fixture(scope="module")
def found(spark):
    """aggregate() of the six households above, computed once for the tests that read it."""
    return impact.aggregate(spark.createDataFrame(MOVED, MOVED_SCHEMA), ["PKH", "SEMBAKO"])


def _counts(rows: list[tuple], key: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["program", key, "entered_households", "entered_persons", "left_households",
                                       "left_persons"])


def test_aggregate_counts_households_persons_churn_and_decile_moves(found):
    """aggregate: households 6, persons 21; persons in households changing a programme (coverage alone does not
    count: b) 5 + 2 + 6 = 13, so churn 13 / 21; moves of two deciles or more (exactly two included) a, c, d, f."""
    assert (found["households"], found["persons"], found["persons_changed"], found["moved_2"]) == (6, 21, 13, 4)
    result = Impact(
        publication_id=3, candidate="dtks_pmt v2", coverage=0.6, households=found["households"],
        persons=found["persons"], persons_changed=found["persons_changed"],
        households_decile_moved_2=found["moved_2"], by_province=found["by_province"],
        by_subgroup=found["by_subgroup"], transitions=found["transitions"], programs=["PKH", "SEMBAKO"])
    assert result.churn == 13 / 21
    assert result.decile_moved_2 == 4 / 6
    # Entries and exits per programme, per province (every province and programme, zeros included) ...
    pd.testing.assert_frame_equal(found["by_province"], _counts([
        ("PKH", "11", 0, 0, 0, 0), ("PKH", "12", 1, 5, 1, 2),  # c enters, d leaves
        ("SEMBAKO", "11", 0, 0, 0, 0), ("SEMBAKO", "12", 1, 5, 2, 8),  # c enters; d and e leave
        ("WITHIN_COVERAGE", "11", 1, 3, 0, 0), ("WITHIN_COVERAGE", "12", 1, 5, 1, 2),  # b; c enter, d leaves
    ], "province_code"))
    # ... and nationally.
    pd.testing.assert_frame_equal(result.totals(), pd.DataFrame(
        [("PKH", 1, 5, 1, 2), ("SEMBAKO", 1, 5, 2, 8), ("WITHIN_COVERAGE", 2, 8, 1, 2)],
        columns=["program", "entered_households", "entered_persons", "left_households", "left_persons"]))


def test_aggregate_decile_transitions(found):
    """aggregate: the decile transition table counts households and persons per (before, after) pair, sorted."""
    expected = pd.DataFrame([(2, 4, 2, 5), (3, 7, 1, 2), (5, 6, 1, 6), (6, 3, 1, 5), (7, 6, 1, 3)],
                            columns=["decile_before", "decile_after", "households", "persons"])
    pd.testing.assert_frame_equal(found["transitions"], expected.astype({"decile_before": "int32",
                                                                         "decile_after": "int32"}))


def test_aggregate_per_subgroup(found):
    """aggregate: entries and exits per subgroup and programme; a household whose subgroup column is unknown (null)
    is in no subgroup (c not among the disabled, d neither urban nor rural, e not a female head)."""
    pd.testing.assert_frame_equal(found["by_subgroup"], _counts([
        # female heads a, c: c enters everything
        ("PKH", "female_head", 1, 5, 0, 0), ("SEMBAKO", "female_head", 1, 5, 0, 0),
        ("WITHIN_COVERAGE", "female_head", 1, 5, 0, 0),
        # disabled: b, entering coverage only
        ("PKH", "any_disabled", 0, 0, 0, 0), ("SEMBAKO", "any_disabled", 0, 0, 0, 0),
        ("WITHIN_COVERAGE", "any_disabled", 1, 3, 0, 0),
        # heads 60+: b, c
        ("PKH", "head_60_plus", 1, 5, 0, 0), ("SEMBAKO", "head_60_plus", 1, 5, 0, 0),
        ("WITHIN_COVERAGE", "head_60_plus", 2, 8, 0, 0),
        # children under six: a, c, d
        ("PKH", "children_u6", 1, 5, 1, 2), ("SEMBAKO", "children_u6", 1, 5, 1, 2),
        ("WITHIN_COVERAGE", "children_u6", 1, 5, 1, 2),
        # urban: b, c, f
        ("PKH", "urban", 1, 5, 0, 0), ("SEMBAKO", "urban", 1, 5, 0, 0), ("WITHIN_COVERAGE", "urban", 2, 8, 0, 0),
        # rural: a, e
        ("PKH", "rural", 0, 0, 0, 0), ("SEMBAKO", "rural", 0, 0, 1, 6), ("WITHIN_COVERAGE", "rural", 0, 0, 0, 0),
    ], "subgroup"))
