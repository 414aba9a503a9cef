"""The promotion rule on literal values (models/registry.py): the metric decision, the churn and subgroup limits
of `promotion:` in the config, and the gate combining them, with their exact reason texts.

tests/test_models.py already proves the metric rule's verdicts on a few values and both limits failing at once
(exclusion_error_60, custom limits); these cover the reason texts, the margin's edges, both directions, each
limit on its own at, above and below its default, and the gate on every combination."""

from __future__ import annotations

import math

from models import registry
from models.registry import Decision
from runtime.config import load_config

LIMITS = load_config("test").promotion  # conf/base.yaml: max_churn 0.15, max_subgroup_error 0.5 on exclusion_error_60


# ---------------------------------------------------------------- decide


def test_decide_without_a_champion_promotes_the_first_version():
    """decide: with no champion value the new version is promoted, whatever its value and the margin."""
    assert registry.decide("exclusion_error_60", 0.9, None, False, 0.5) == Decision(
        True, "first version: no champion yet")


def test_decide_refuses_an_undefined_new_value():
    """decide: a NaN metric of the new version is refused, naming the metric."""
    assert registry.decide("r2", math.nan, 0.4, True, 0.0) == Decision(False, "r2 of the new version is undefined")


def test_decide_promotes_over_an_undefined_champion_value():
    """decide: a NaN champion value is beaten by any defined new value."""
    assert registry.decide("spearman", 0.5, math.nan, True, 0.0) == Decision(
        True, "beats champion: spearman 0.5000 vs champion nan (higher is better, required margin > 0)")


def test_decide_lower_is_better_needs_more_than_the_margin():
    """decide, lower is better: an improvement equal to the margin is not enough, more is, less or worse is not;
    the reason quotes both values, the direction and the margin."""
    def reason(verdict: str, new: str) -> str:
        return f"{verdict}: exclusion_error_40 {new} vs champion 0.5000 (lower is better, required margin > 0.125)"

    assert registry.decide("exclusion_error_40", 0.375, 0.5, False, 0.125) == Decision(
        False, reason("does not beat champion", "0.3750"))  # improvement 0.125: at the margin
    assert registry.decide("exclusion_error_40", 0.25, 0.5, False, 0.125) == Decision(
        True, reason("beats champion", "0.2500"))  # 0.25 above it
    assert registry.decide("exclusion_error_40", 0.4375, 0.5, False, 0.125) == Decision(
        False, reason("does not beat champion", "0.4375"))  # 0.0625 below it
    assert registry.decide("exclusion_error_40", 0.625, 0.5, False, 0.0) == Decision(
        False, "does not beat champion: exclusion_error_40 0.6250 vs champion 0.5000 (lower is better, required "
        "margin > 0)")  # worse


def test_decide_higher_is_better_needs_more_than_the_margin():
    """decide, higher is better: the same margin rule the other way round; the same values under lower-is-better
    are refused."""
    def reason(verdict: str, new: str, direction: str = "higher") -> str:
        return f"{verdict}: spearman {new} vs champion 0.5000 ({direction} is better, required margin > 0.25)"

    assert registry.decide("spearman", 0.75, 0.5, True, 0.25) == Decision(
        False, reason("does not beat champion", "0.7500"))  # at the margin
    assert registry.decide("spearman", 0.875, 0.5, True, 0.25) == Decision(True, reason("beats champion", "0.8750"))
    assert registry.decide("spearman", 0.625, 0.5, True, 0.25) == Decision(
        False, reason("does not beat champion", "0.6250"))
    assert registry.decide("spearman", 0.875, 0.5, False, 0.25) == Decision(
        False, reason("does not beat champion", "0.8750", "lower"))


# ---------------------------------------------------------------- limits_exceeded


def test_the_default_limits_are_the_ones_these_tests_assume():
    """conf/base.yaml's promotion limits: churn at most 15 % of persons, worst subgroup's exclusion_error_60 at
    most 0.5."""
    assert (LIMITS.max_churn, LIMITS.subgroup_error, LIMITS.max_subgroup_error) == (0.15, "exclusion_error_60", 0.5)


def test_churn_limit_at_above_and_below():
    """limits_exceeded, churn: at max_churn (3 persons of 20) or below passes, above fails naming
    promotion.max_churn; the subgroup limit is not judged when no subgroup was measured."""
    assert registry.limits_exceeded(3 / 20, None, LIMITS) == []
    assert registry.limits_exceeded(0.1499, None, LIMITS) == []
    assert registry.limits_exceeded(0.1501, None, LIMITS) == [
        "churn 15.01% of persons exceeds promotion.max_churn 15.00%"]
    assert registry.limits_exceeded(1.0, ("rural", 0.5), LIMITS) == [
        "churn 100.00% of persons exceeds promotion.max_churn 15.00%"]


def test_subgroup_limit_at_above_and_below():
    """limits_exceeded, subgroup: the worst subgroup's error at max_subgroup_error or below passes, above fails
    naming the subgroup, promotion.subgroup_error's metric and promotion.max_subgroup_error; churn is not judged
    when no publication was there to measure it."""
    assert registry.limits_exceeded(None, ("rural", 0.5), LIMITS) == []
    assert registry.limits_exceeded(None, ("rural", 0.4999), LIMITS) == []
    assert registry.limits_exceeded(None, ("urban", 0.625), LIMITS) == [
        "subgroup urban exclusion_error_60 0.625 exceeds promotion.max_subgroup_error 0.5"]
    hair = registry.limits_exceeded(None, ("urban", 0.5001), LIMITS)
    assert len(hair) == 1 and hair[0].startswith("subgroup urban exclusion_error_60 ")
    assert registry.limits_exceeded(0.15, ("head_60_plus", 0.75), LIMITS) == [
        "subgroup head_60_plus exclusion_error_60 0.750 exceeds promotion.max_subgroup_error 0.5"]


def test_limits_follow_the_configured_keys():
    """limits_exceeded: the limits and the subgroup metric are the config's: promotion.subgroup_error
    exclusion_error_40 is named in the reason, and both limits fail at once, churn first."""
    limits = LIMITS.model_copy(update={"max_churn": 0.05, "subgroup_error": "exclusion_error_40",
                                      "max_subgroup_error": 0.25})
    assert registry.limits_exceeded(0.05, ("children_u6", 0.25), limits) == []
    assert registry.limits_exceeded(0.0625, ("children_u6", 0.3), limits) == [
        "churn 6.25% of persons exceeds promotion.max_churn 5.00%",
        "subgroup children_u6 exclusion_error_40 0.300 exceeds promotion.max_subgroup_error 0.25"]


def test_a_zero_churn_limit_allows_no_change_at_all():
    """limits_exceeded: with promotion.max_churn 0 no churn passes and any churn fails."""
    limits = LIMITS.model_copy(update={"max_churn": 0.0})
    assert registry.limits_exceeded(0.0, None, limits) == []
    assert registry.limits_exceeded(0.001, None, limits) == [
        "churn 0.10% of persons exceeds promotion.max_churn 0.00%"]


# ---------------------------------------------------------------- gate


def test_gate_within_the_limits_keeps_the_decision_and_quotes_the_churn():
    """gate: no limit exceeded keeps the metric decision, promoting or not, and adds the measured churn."""
    assert registry.gate(Decision(True, "beats champion: x"), [], 0.1234) == Decision(
        True, "beats champion: x; within the limits (churn 12.34%)")
    assert registry.gate(Decision(False, "does not beat champion: x"), [], 0.05) == Decision(
        False, "does not beat champion: x; within the limits (churn 5.00%)")


def test_gate_holds_back_and_names_every_exceeded_limit():
    """gate: any exceeded limit holds the version back, whatever the metric said, and the reason lists each
    limit in order after the metric's reason."""
    failed = ["limit a", "limit b"]
    assert registry.gate(Decision(True, "beats champion: x"), failed, 0.3) == Decision(
        False, "beats champion: x; held back: limit a; limit b")
    assert registry.gate(Decision(False, "does not beat champion: x"), failed[:1], 0.3) == Decision(
        False, "does not beat champion: x; held back: limit a")


def test_promotion_end_to_end_with_both_limits_exceeded():
    """decide, limits_exceeded and gate together: a version beating the champion but over both default limits is
    held back, the reason naming the metric comparison and both config keys."""
    decision = registry.decide("exclusion_error_60", 0.25, 0.5, False, 0.0)
    failed = registry.limits_exceeded(0.25, ("female_head", 0.625), LIMITS)
    assert registry.gate(decision, failed, 0.25) == Decision(
        False, "beats champion: exclusion_error_60 0.2500 vs champion 0.5000 (lower is better, required margin > 0); "
        "held back: churn 25.00% of persons exceeds promotion.max_churn 15.00%; "
        "subgroup female_head exclusion_error_60 0.625 exceeds promotion.max_subgroup_error 0.5")


def test_promotion_end_to_end_at_both_limits():
    """decide, limits_exceeded and gate together: a version exactly at both default limits is promoted."""
    decision = registry.decide("exclusion_error_60", 0.25, 0.5, False, 0.0)
    failed = registry.limits_exceeded(0.15, ("rural", 0.5), LIMITS)
    assert registry.gate(decision, failed, 0.15) == Decision(
        True, "beats champion: exclusion_error_60 0.2500 vs champion 0.5000 (lower is better, required margin > 0); "
        "within the limits (churn 15.00%)")


def test_first_version_is_held_back_by_the_subgroup_limit_without_a_publication():
    """decide, limits_exceeded and gate together: the first version, with no publication to measure churn
    against, is still held back by its worst subgroup."""
    decision = registry.decide("exclusion_error_60", 0.25, None, False, 0.0)
    failed = registry.limits_exceeded(None, ("rural", 0.75), LIMITS)
    assert registry.gate(decision, failed, None) == Decision(
        False, "first version: no champion yet; held back: subgroup rural exclusion_error_60 0.750 exceeds "
        "promotion.max_subgroup_error 0.5")
