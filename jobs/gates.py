"""Write-audit-publish gates: checks on the staged outputs that must pass before anything is published.

Each gate looks only at small aggregates (per province or regency), never at household rows on
the driver. A failed gate names itself and says why; publish then leaves the gold tables untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.matching import MATCHED, MATCHED_WITH_DIFFERENCES
from jobs.runtime.config import ThresholdsConfig


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


def match_rate(members: DataFrame) -> F.Column:
    matched = F.sum(F.when(F.col("match_status").isin(MATCHED, MATCHED_WITH_DIFFERENCES), 1).otherwise(0))
    return matched / F.count(F.lit(1))


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


def match_rates(members: DataFrame, thresholds: ThresholdsConfig) -> list[GateResult]:
    national = members.agg(match_rate(members).alias("r")).first().r or 0.0
    results = [
        GateResult(
            "national_match_rate",
            national >= thresholds.min_national_match_rate,
            f"{national:.3f} against minimum {thresholds.min_national_match_rate:.3f}",
        )
    ]
    by_province = members.groupBy("province_code").agg(match_rate(members).alias("r")).collect()
    low = sorted((r.province_code, r.r) for r in by_province if r.r < thresholds.min_region_match_rate)
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


def regions_covered(surveyed: DataFrame, ranked: DataFrame) -> GateResult:
    """Every regency with surveyed households has ranked households."""
    have = surveyed.select("regency_code").distinct()
    got = ranked.select("regency_code").distinct()
    missing = sorted(r.regency_code for r in have.join(got, "regency_code", "left_anti").collect())
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
