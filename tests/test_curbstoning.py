"""The curbstoning rule and the enumerator re-visit measures on literal rows (jobs/core/curbstoning.py,
jobs/report/quality.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import Window
from pyspark.sql import functions as F

from jobs.core import curbstoning, questionnaire
from jobs.report import quality
from tests.conftest import make_config

# One household's answers to conf/questionnaire.yaml's household section, all within its codes and ranges.
ANSWERS = {
    "floor_area": 36.0, "floor_material": 4, "wall_material": 1, "roof_material": 2, "water_source": 3,
    "sanitation": 1, "lighting": 2, "cooking_fuel": 2, "tenure": 1, "refrigerator": 0, "motorcycle": 1, "car": 0,
    "air_conditioner": 0, "gold": 0, "land": 0, "livestock": 0, "computer": 0,
}


@pytest.fixture(scope="module")
def q(tmp_path_factory):
    """conf/questionnaire.yaml, loaded as the report and the verification queue load it."""
    return questionnaire.load(make_config(tmp_path_factory.mktemp("questionnaire")))


def _answers_ddl(q) -> str:
    return ", ".join(f"{v.name} {v.spark_type.simpleString()}" for v in q.household)


def _answers(q, pattern: int = 0, **changed) -> tuple:
    """The answers in the questionnaire's column order; `pattern` k picks floor and wall materials (35 patterns)."""
    values = ANSWERS | {"floor_material": 1 + pattern % 7, "wall_material": 1 + pattern // 7} | changed
    return tuple(values[v.name] for v in q.household)


def test_answer_pattern_is_every_coded_answer_and_leaves_the_floor_area_out(spark, q):
    """answer_pattern: changing any one coded household answer gives a pattern of its own (shared with no other
    row); changing the floor area, the one uncoded answer, does not."""
    coded = [v for v in q.household if v.codes is not None]
    assert [v.name for v in q.household if v.codes is None] == ["floor_area"]
    base = dict(zip([v.name for v in q.household], _answers(q), strict=True))
    rows = [("base", *_answers(q)), ("floor_area", *_answers(q, floor_area=250.0))]
    for v in coded:
        other = next(c for c in v.codes if c != base[v.name])
        rows.append((v.name, *_answers(q, **{v.name: other})))
    patterns = spark.createDataFrame(rows, f"changed string, {_answers_ddl(q)}").select(
        "changed", curbstoning.answer_pattern(q).alias("_pattern"))
    reference = patterns.where("changed = 'base'").select(F.col("_pattern").alias("_base"))
    got = patterns.crossJoin(reference).select(
        "changed", (F.col("_pattern") == F.col("_base")).alias("same_pattern"),
        F.count(F.lit(1)).over(Window.partitionBy("_pattern")).alias("sharing"))
    assert_df_equality(
        got,
        spark.createDataFrame([("base", True, 2), ("floor_area", True, 2)] + [(v.name, False, 1) for v in coded],
                              "changed string, same_pattern boolean, sharing bigint"),
        ignore_row_order=True, ignore_nullable=True)


def test_top_pattern_counts_each_enumerators_most_repeated_pattern(spark):
    """top_pattern: per enumerator, the number of its households sharing its most common pattern."""
    hh = spark.createDataFrame(
        [("E1", 7), ("E1", 7), ("E1", 7), ("E1", 8), ("E1", 9), ("E2", 7), ("E2", 6), ("E3", 4)],
        "enumerator_id string, _pattern bigint")
    assert_df_equality(
        quality.top_pattern(hh),
        spark.createDataFrame([("E1", 3), ("E2", 1), ("E3", 1)], "enumerator_id string, top_pattern_households bigint"),
        ignore_row_order=True, ignore_nullable=True)


def test_curbstoning_suspect_at_above_and_below_both_thresholds(spark):
    """curbstoning.suspect: at least 5 households AND at least half of them repeating one pattern."""
    rows = [
        (5, 0.5, True),  # at both thresholds
        (6, 0.5, True),
        (50, 1.0, True),
        (4, 0.5, False),  # one household too few
        (4, 1.0, False),  # a small enumerator is never a suspect, whatever its share
        (5, 0.49, False),  # just under the share
        (50, 0.3, False),
    ]
    df = spark.createDataFrame([r[:2] for r in rows], "households bigint, repeated_share double")
    got = df.select("households", "repeated_share",
                    curbstoning.suspect(F.col("households"), F.col("repeated_share")).alias("suspect"))
    assert_df_equality(got, spark.createDataFrame(rows, "households bigint, repeated_share double, suspect boolean"),
                       ignore_row_order=True, ignore_nullable=True)


def test_curbstoning_suspects_are_enumerators_whose_households_repeat_one_pattern(spark, q):
    """curbstoning.suspects: from households' answers, the enumerators the rule flags (share at 0.5, above, below,
    too few households, the floor area not part of the pattern, patterns counted per enumerator)."""
    plan = {
        "E_AT": [0, 0, 0, 1, 2, 3],  # 3 of 6: exactly half
        "E_ABOVE": [0, 0, 0, 0, 1],  # 4 of 5
        "E_BELOW": [0, 0, 0, 1, 2, 3, 4],  # 3 of 7
        "E_SMALL": [0, 0, 0, 0],  # all alike, but only 4 households
        "E_MIN": [5, 5, 5, 5, 5],  # all alike, 5 households
        "E_SPREAD": [0, 1, 2, 3, 4],  # no pattern repeats
    }
    rows = [(e, *_answers(q, p)) for e, patterns in plan.items() for p in patterns]
    # Five households with the same coded answers and five different floor areas: one pattern.
    rows += [("E_FLOOR", *_answers(q, 9, floor_area=area)) for area in (20.0, 30.0, 40.0, 50.0, 60.0)]
    households = spark.createDataFrame(rows, f"enumerator_id string, {_answers_ddl(q)}")
    assert_df_equality(
        curbstoning.suspects(households, q),
        spark.createDataFrame([("E_AT",), ("E_ABOVE",), ("E_MIN",), ("E_FLOOR",)], "enumerator_id string"),
        ignore_row_order=True, ignore_nullable=True)


def test_household_frame_marks_interviews_shorter_than_min_minutes_and_counts_failed_matches(spark, q):
    """household_frame: `_short` is an interview strictly shorter than min_minutes (exactly 10 minutes is not);
    members counted per household, NOT_FOUND/INVALID_NIK/MISSING_NIK as failed matches."""
    at = dt.datetime(2026, 3, 1, 9, 0)
    households = spark.createDataFrame(
        [(h, "32", "3273", "E1", "S1", "C1", True, 3, at, at + length, *_answers(q))
         for h, length in (("H1", dt.timedelta(minutes=9, seconds=30)), ("H2", dt.timedelta(minutes=10)),
                           ("H3", dt.timedelta(hours=1)))],
        "household_id string, province_code string, regency_code string, enumerator_id string, supervisor_id string, "
        f"coordinator_id string, rankable boolean, hh_size int, interview_start timestamp, interview_end timestamp, "
        f"{_answers_ddl(q)}")
    members = spark.createDataFrame(
        [("H1", "MATCHED"), ("H1", "NOT_FOUND"), ("H1", "INVALID_NIK"), ("H1", "MISSING_NIK"), ("H1", "DECEASED"),
         ("H3", "MATCHED_WITH_DIFFERENCES"), ("H3", "DUPLICATE")],
        "household_id string, match_status string")
    got = quality.household_frame(households, members, None, q, 10.0).select(
        "household_id", "_minutes", "_short", "_listed", "_failed", "_n_deceased")
    assert_df_equality(
        got,
        spark.createDataFrame(
            [("H1", 9.5, True, 5, 3, 1), ("H2", 10.0, False, None, None, None), ("H3", 60.0, False, 2, 0, 0)],
            "household_id string, _minutes double, _short boolean, _listed bigint, _failed bigint, _n_deceased bigint"),
        ignore_row_order=True, ignore_nullable=True)


def test_enumerator_quality_scores_and_reasons(spark):
    """enumerator_quality: households, median length, short share, repeated pattern share, match failures above
    the province median, the re-visit score (2 x repeated share from 5 households, 1.5 x short share, 1 x excess)
    and its reasons (curbstoning rule; short share from 20 %; excess from 10 points)."""

    def enumerator(e, sup, province, regency, patterns, minutes, failed, listed):
        return [(e, sup, "C1", province, regency, float(m), m < 10, p, f, n)
                for p, m, f, n in zip(patterns, minutes, failed, listed, strict=True)]

    rows = [
        # 8 households, 4 alike (exactly half), 2 of 8 interviews short, 1 of 16 members not matched.
        *enumerator("E1", "S1", "11", "1101", [7, 7, 7, 7, 1, 2, 3, 4], [8, 9, 20, 30, 30, 50, 60, 70],
                    [1, 0, 0, 0, 0, 0, 0, 0], [2] * 8),
        # 4 households all alike (too few to count), half of its members not matched.
        *enumerator("E2", "S1", "11", "1101", [7, 7, 7, 7], [20, 25, 25, 40], [2, 2, 2, 2], [4, 4, 4, 4]),
        *enumerator("E3", "S2", "11", "1102", [1, 2], [45, 45], [0, 0], [4, 4]),
        # 5 households, 2 alike (40 %: under the rule, yet scored), 1 of 5 short (exactly 20 %).
        *enumerator("E4", "S3", "32", "3273", [1, 1, 2, 2, 3], [5, 12, 14, 20, 30], [0] * 5, [2] * 5),
    ]
    hh = spark.createDataFrame(
        rows, "enumerator_id string, supervisor_id string, coordinator_id string, province_code string, "
              "regency_code string, _minutes double, _short boolean, _pattern bigint, _failed bigint, _listed bigint")
    got = quality.enumerator_quality(hh, 10.0).select(
        "enumerator_id", "supervisor_id", "province_code", "regency_code", "households", "median_minutes",
        "short_interview_share", "top_pattern_households", "repeated_answer_share", "match_failure_share",
        "match_failure_excess", "revisit_score", "revisit_reasons")
    # Province 11's median match failure share is E1's 1/16: E2 is 7/16 (43.75 points) above it.
    expected = [
        ("E1", "S1", "11", "1101", 8, 30.0, 0.25, 4, 0.5, 1 / 16, 0.0, 2.0 * 0.5 + 1.5 * 0.25 + 0.0,
         "50% of households share one answer pattern; 25% interviews under 10.0 min"),
        ("E2", "S1", "11", "1101", 4, 25.0, 0.0, 4, 1.0, 0.5, 0.4375, 0.4375,
         "match failures 44 points above the province median"),
        ("E3", "S2", "11", "1102", 2, 45.0, 0.0, 1, 0.5, 0.0, 0.0, 0.0, ""),
        ("E4", "S3", "32", "3273", 5, 14.0, 1 / 5, 2, 2 / 5, 0.0, 0.0, 2.0 * (2 / 5) + 1.5 * (1 / 5) + 0.0,
         "20% interviews under 10.0 min"),
    ]
    assert_df_equality(
        got,
        spark.createDataFrame(
            expected, "enumerator_id string, supervisor_id string, province_code string, regency_code string, "
                      "households bigint, median_minutes double, short_interview_share double, "
                      "top_pattern_households bigint, repeated_answer_share double, match_failure_share double, "
                      "match_failure_excess double, revisit_score double, revisit_reasons string"),
        ignore_row_order=True, ignore_nullable=True)


def test_revisit_lists_keep_flagged_enumerators_first_at_most_per_province(spark):
    """revisit_lists: per province, enumerators with a reason first (by score, then id), then the others by score,
    at most `per_province` rows, each with its province's counts of enumerators assessed and to re-visit."""
    enumerators = spark.createDataFrame([
        ("A1", "11", 1.0, "r"), ("A2", "11", 3.0, "r"), ("A3", "11", 5.0, ""), ("A4", "11", 0.1, ""),
        ("A5", "11", 1.0, "r"),  # ties A1's score: after it by id
        ("B1", "32", 0.5, ""), ("B2", "32", 0.7, ""),  # nobody to re-visit: the province still arrives
        ("C1", "33", 2.0, "r"), ("C2", "33", 0.0, ""),  # one to re-visit, the other fills the list
    ], "enumerator_id string, province_code string, revisit_score double, revisit_reasons string")
    schema = ("enumerator_id string, province_code string, revisit_score double, revisit_reasons string, "
              "province_assessed bigint, province_revisit bigint, to_revisit boolean")
    assert_df_equality(
        quality.revisit_lists(enumerators, 2),
        spark.createDataFrame([
            ("A2", "11", 3.0, "r", 5, 3, True), ("A1", "11", 1.0, "r", 5, 3, True),
            ("B2", "32", 0.7, "", 2, 0, False), ("B1", "32", 0.5, "", 2, 0, False),
            ("C1", "33", 2.0, "r", 2, 1, True), ("C2", "33", 0.0, "", 2, 1, False),
        ], schema),
        ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(
        quality.revisit_lists(enumerators.where("province_code = '11'"), 4),
        spark.createDataFrame([
            ("A2", "11", 3.0, "r", 5, 3, True), ("A1", "11", 1.0, "r", 5, 3, True),
            ("A5", "11", 1.0, "r", 5, 3, True), ("A3", "11", 5.0, "", 5, 3, False),
        ], schema),
        ignore_row_order=True, ignore_nullable=True)
