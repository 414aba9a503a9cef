"""Why a household entered or left a programme at a publish: every entry and exit carries its reasons, in
eligibility_reasons beside program_eligibility's change feed (`dtks diff` counts them).

A household's own change is read from the previous publication's dtks_households and this one's:
- INTERVIEW: new to the ranking, or interviewed again (a new or re-surveyed interview);
- MODEL: scored by another model version;
- REGISTRY: its own data changed without a new interview, or it is no longer ranked: a registry event
  (a death, a duplicate, a move) changed its roster;
- POLICY: the coverage target or this programme's rule changed;
- APPEAL: an appeal about it was resolved by this publish (its re-survey came in: jobs/publish/queue.py);
- RANK_SHIFT: none of these: it crossed the line because other households, or the population P, changed.

A change may carry several reasons; RANK_SHIFT only when it carries no other.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from jobs.core.change_set import DELETE, WAS_ELIGIBLE, WAS_RULE, was

INTERVIEW, MODEL, REGISTRY, POLICY, APPEAL, RANK_SHIFT = (
    "INTERVIEW", "MODEL", "REGISTRY", "POLICY", "APPEAL", "RANK_SHIFT")
REASONS = {
    INTERVIEW: "new or re-surveyed interview",
    MODEL: "model version changed",
    REGISTRY: "registry event (death, duplicate, move)",
    POLICY: "policy changed (coverage target or programme rule)",
    APPEAL: "appeal outcome: re-surveyed after an usul or sanggah",
    RANK_SHIFT: "re-ranked: other households or the population changed",
}
ENTERED, LEFT = "ENTERED", "LEFT"
# The most eligibility rows a publish may change for its households' ids to be broadcast (a few MB; the
# commit's metrics say how many it changed, so a national policy change falls back to a shuffle).
FEW_ROWS = 200_000


def moves(changes: DataFrame) -> DataFrame:
    """Pure: the entries and exits in an eligibility change set (gold.eligibility_changes): a rule-version
    change that leaves a household eligible, or ineligible, is neither."""
    was = F.coalesce(F.col(WAS_ELIGIBLE), F.lit(False))
    now = ~F.col(DELETE) & F.coalesce(F.col("eligible"), F.lit(False))
    return changes.where(was != now).select(
        "program", "household_id", "province_code", "regency_code",
        F.when(now, F.lit(ENTERED)).otherwise(F.lit(LEFT)).alias("change"),
        F.col("rule_version"), F.col(WAS_RULE))


def reasons(moved: DataFrame, ranked: DataFrame | None, policy: Column, few: bool = False) -> DataFrame:
    """Pure: `moved` (moves) with `reasons`, an array of codes. `ranked`: this publication's households with
    their own interview, model version and data hash (gold.data_hash), and beside them (gold.CARRIED, as
    change_set.was) what the previous publication held; None before the first publish, when every entry is
    new.
    A moved household not ranked now was ranked before (it held eligibility rows). `policy`: a boolean
    Column over `program` and `rule_version`/`_was_rule`, true where the programme's rule or the coverage
    target changed. `few`: the moves are known to be few (a broadcast's worth), so the nation's rows are
    filtered by a broadcast of their households instead of shuffled to meet them."""
    if ranked is None:
        found = moved.withColumn("reasons", F.array(F.lit(INTERVIEW)))
    else:
        if few:
            ranked = ranked.join(F.broadcast(moved.select("household_id").distinct()), "household_id", "left_semi")
        own = ["interview_date", "model_version", "data_hash"]
        joined = moved.join(ranked.select("household_id", *[F.col(c).alias(f"_a_{c}") for c in own],
                                          *[F.col(was(c)).alias(f"_b_{c}") for c in own]), "household_id", "left")
        ranked_now = F.col("_a_model_version").isNotNull()
        ranked_before = F.col("_b_model_version").isNotNull() | ~ranked_now
        interview = ranked_now & (~ranked_before | (F.col("_a_interview_date") != F.col("_b_interview_date")))
        model = ranked_now & ranked_before & (F.col("_a_model_version") != F.col("_b_model_version"))
        same_interview = F.col("_a_interview_date") == F.col("_b_interview_date")
        registry = ranked_before & (~ranked_now | (same_interview & (F.col("_a_data_hash") != F.col("_b_data_hash"))))
        codes = [F.when(cond, F.lit(code)) for cond, code in
                 ((interview, INTERVIEW), (model, MODEL), (registry, REGISTRY), (policy, POLICY))]
        found = joined.withColumn("reasons", F.filter(F.array(*codes), lambda c: c.isNotNull()))
    own_reasons = F.col("reasons")
    return found.select(
        "program", "household_id", "province_code", "regency_code", "change",
        F.when(F.size(own_reasons) == 0, F.array(F.lit(RANK_SHIFT))).otherwise(own_reasons).alias("reasons"))


def policy_changed(previous: Row, rules: dict[str, str], coverage: float) -> Column:
    """True where the coverage target or the programme's rule (eligibility.fingerprints) differs from the
    previous publication's; before rules were recorded there, where the rule version differs."""
    was_rules = previous.asDict().get("rules")
    if was_rules is None:
        rule = F.col("rule_version") != F.coalesce(F.col(WAS_RULE), F.col("rule_version"))
    else:
        rule = F.col("program").isin([p for p, r in rules.items() if was_rules.get(p) != r] or [""])
    return F.lit(previous.coverage_target != coverage) | rule


def of_publish(elig: DataFrame, changes: DataFrame | None, gold_hh: DataFrame, previous: Row | None,
               rules: dict[str, str], coverage: float, appealed: DataFrame | None = None, few: bool = False
               ) -> DataFrame:
    """Pure: this publish's entries and exits with their reasons. `elig`: its eligibility rows; `changes`:
    the change set against the previous publication (None at the first, when every eligible row enters);
    `gold_hh`: this publication's households with what the previous held (as in `reasons`); `appealed`:
    household_ids whose appeal this publish resolved; `few`: as in `reasons`."""
    if changes is None or previous is None:
        first = (elig.withColumn(DELETE, F.lit(False)).withColumn(WAS_ELIGIBLE, F.lit(None).cast("boolean"))
                 .withColumn(WAS_RULE, F.lit(None).cast("string")))
        found = reasons(moves(first), None, F.lit(False))
    else:
        found = reasons(moves(changes), gold_hh, policy_changed(previous, rules, coverage), few)
    if appealed is None:
        return found
    flagged = found.join(appealed.select("household_id", F.lit(True).alias("_appeal")), "household_id", "left")
    own_reasons = F.filter("reasons", lambda c: c != RANK_SHIFT)
    return flagged.select(*[F.when(F.col("_appeal"), F.array_union(own_reasons, F.array(F.lit(APPEAL))))
                            .otherwise(F.col("reasons")).alias("reasons") if c == "reasons" else F.col(c)
                            for c in found.columns])


def rows_changed(metrics: dict[str, str]) -> int:
    """About as many rows as an eligibility commit changed (a MERGE's) or wrote (the first publish's)."""
    merged = sum(int(metrics.get(k, 0)) for k in ("numTargetRowsInserted", "numTargetRowsUpdated",
                                                  "numTargetRowsDeleted"))
    return merged or int(metrics.get("numOutputRows", 0))


def counts(rows: DataFrame) -> DataFrame:
    """Per programme, reason and change: households (one counted under each of its reasons)."""
    return (rows.select("program", "change", F.explode("reasons").alias("reason"))
            .groupBy("program", "reason", "change").count())


def counts_arrow(rows: pa.Table) -> dict[tuple[str, str, str], int]:
    """`counts` on rows read without Spark (the lookups of a local lakehouse): (program, reason, change) ->
    households; tests/test_reasons.py holds both to one answer."""
    at = pc.list_parent_indices(rows["reasons"])
    flat = pa.table({"program": pc.take(rows["program"], at), "change": pc.take(rows["change"], at),
                     "reason": pc.list_flatten(rows["reasons"])})
    grouped = flat.group_by(["program", "reason", "change"]).aggregate([([], "count_all")])
    return {(r["program"], r["reason"], r["change"]): r["count_all"] for r in grouped.to_pylist()}
