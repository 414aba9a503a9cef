"""Write-audit-publish gates: checks on the staged outputs that must pass before anything is published.

Each gate looks only at small aggregates (per province or regency), never at household rows on
the driver. A failed gate names itself and says why; publish then leaves the gold tables untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import functions as F

from jobs.matching import MATCHED, MATCHED_WITH_DIFFERENCES
from jobs.runtime.config import ThresholdsConfig


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    detail: str


def matched() -> F.Column:
    """Members matched to the registry (padan), with or without differences."""
    return F.col("match_status").isin(MATCHED, MATCHED_WITH_DIFFERENCES)


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
