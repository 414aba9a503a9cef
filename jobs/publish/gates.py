"""Write-audit-publish gates: checks on the staged outputs that must pass before anything is published.

Each gate looks only at small aggregates (per province or regency), never at household rows on
the driver. A failed gate names itself and says why; publish then leaves the gold tables untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from jobs.core.contract import MATCHED_STATUSES
from runtime import tables
from runtime.config import DtksConfig, ThresholdsConfig
from runtime.errors import GateFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


def matched() -> F.Column:
    """Members matched to the registry (padan): by NIK, with or without differences, or linked automatically."""
    return F.col("match_status").isin(*MATCHED_STATUSES)


def reconciliation(last_ingest: dict | None) -> GateResult:
    """The ingest this publish rests on succeeded and balanced rows for every source."""
    if not last_ingest:
        return GateResult("reconciliation", False, "no successful ingest recorded in pipeline_runs")
    details = last_ingest.get("details") or {}
    sources = {k.split(".")[0] for k in details if k.endswith(".read")}
    broken = [
        s
        for s in sorted(sources)
        if int(details[f"{s}.read"]) != int(details[f"{s}.accepted"]) + int(details[f"{s}.quarantined"])
    ]
    if not sources:
        return GateResult("reconciliation", False, "the last ingest recorded no row counts")
    if broken:
        return GateResult("reconciliation", False, f"rows read != accepted + quarantined for: {', '.join(broken)}")
    return GateResult("reconciliation", True, f"balanced for {len(sources)} sources (run {last_ingest['run_id']})")


def match_rates(by_province: dict[str, tuple[int, int]], thresholds: ThresholdsConfig) -> list[GateResult]:
    """by_province: province code -> (members matched, members listed), of the ranked households."""
    matched = sum(m for m, _ in by_province.values())
    listed = sum(n for _, n in by_province.values())
    national = matched / listed if listed else 0.0
    results = [
        GateResult(
            "national_match_rate",
            national >= thresholds.min_national_match_rate,
            f"{national:.3f} against minimum {thresholds.min_national_match_rate:.3f}",
        )
    ]
    rates = {p: (m / n if n else 0.0) for p, (m, n) in by_province.items()}
    low = sorted((p, r) for p, r in rates.items() if r < thresholds.min_region_match_rate)
    results.append(
        GateResult(
            "region_match_rate",
            not low,
            "all provinces at or above minimum"
            if not low
            else f"{len(low)} province(s) below {thresholds.min_region_match_rate:.2f}: "
            + ", ".join(f"{p}={r:.2f}" for p, r in low[:10]),
        )
    )
    return results


def regions_covered(surveyed: Iterable[str], ranked: Iterable[str]) -> GateResult:
    """Every regency with surveyed households has ranked households (regency codes, at most 514)."""
    missing = sorted(set(surveyed) - set(ranked))
    return GateResult(
        "regions_ranked",
        not missing,
        "every surveyed regency has ranked households"
        if not missing
        else f"{len(missing)} surveyed regency(ies) with no ranked household: {', '.join(missing[:10])}",
    )


def model_registered(name: str, version: str) -> GateResult:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient().get_model_version(name, version)
        return GateResult("model_registered", True, f"{name} v{version} is registered")
    except MlflowException:
        return GateResult("model_registered", False, f"{name} v{version} is not in the model registry")


def last_ingest(spark: SparkSession, config: DtksConfig) -> dict | None:
    if not tables.exists(spark, config, tables.PIPELINE_RUNS):
        return None
    row = (
        tables.read(spark, config, tables.PIPELINE_RUNS)
        .where("stage = 'ingest' AND status = 'SUCCEEDED'")
        .orderBy(F.col("finished_at").desc())
        .first()
    )
    return row.asDict() if row else None


@dataclass(frozen=True)
class Audit:
    """What the gates saw: the ranked households' totals (also the stage's summary) and each gate."""

    stats: Row  # households, persons, covered, cutoff_score, d1..d10, p_<programme>, models, regencies
    surveyed: Row  # regencies, n: the survey households behind the ranking
    models_used: list[tuple[str, str]]
    results: list[GateResult]


def audit(spark: SparkSession, config: DtksConfig, households: DataFrame, members: DataFrame, gold_hh: DataFrame,
          programs: dict[str, Column]) -> Audit:
    """Every gate on small aggregates of the staged gold rows; raises GateFailed naming each failed gate."""
    size = F.col("hh_size")
    # One pass over the ranked households: everything the gates and the summary need (small).
    stats = gold_hh.agg(
        F.count(F.lit(1)).alias("households"),
        F.sum(size).alias("persons"),
        F.sum(F.when(F.col("within_coverage"), size).otherwise(0)).alias("covered"),
        F.max(F.when(F.col("within_coverage"), F.col("welfare_score"))).alias("cutoff_score"),
        *[F.sum(F.when(F.col("decile") == d, size).otherwise(0)).alias(f"d{d}") for d in range(1, 11)],
        *[F.count_if(cond).alias(f"p_{name}") for name, cond in programs.items()],
        F.collect_set(F.struct("model_name", "model_version")).alias("models"),
        F.collect_set("regency_code").alias("regencies"),
    ).first()
    # From the members' three narrow columns, not the wide gold rows (those are written once, later).
    ranked_members = members.select("household_id", "province_code", "match_status").join(
        gold_hh.select("household_id"), "household_id"
    )
    by_province = {
        r.province_code: (int(r.matched), int(r.listed))
        for r in ranked_members.groupBy("province_code")
        .agg(F.count_if(matched()).alias("matched"), F.count(F.lit(1)).alias("listed"))
        .collect()
    }
    surveyed = households.agg(F.collect_set("regency_code").alias("regencies"), F.count(F.lit(1)).alias("n")).first()
    models_used = sorted((m.model_name, m.model_version) for m in stats.models)
    results = [reconciliation(last_ingest(spark, config))]
    results += match_rates(by_province, config.thresholds)
    results.append(regions_covered(surveyed.regencies, stats.regencies))
    results += [model_registered(n, v) for n, v in models_used] or [
        GateResult("model_registered", False, "no scored household")
    ]
    for g in results:
        log.info("gate %-20s %s: %s", g.name, "PASS" if g.passed else "FAIL", g.detail)
    failed = [g for g in results if not g.passed]
    if failed:
        raise GateFailed(
            "publish stopped, gold tables unchanged; failed gate(s): "
            + "; ".join(f"{g.name}: {g.detail}" for g in failed)
        )
    return Audit(stats, surveyed, models_used, results)
