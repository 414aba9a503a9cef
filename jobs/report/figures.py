"""What the report page is made from: the small pandas frames the stage collects (per regency, per province,
the enumerators to re-visit per province, quarantine counts by province and reason; never a table that grows
with the nation), and the figures summed from them (per province, national).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jobs.core import contract

TILES_FILE = "reference/province_tiles.csv"  # under conf/: province_code, iso, col, row (38 provinces)
ENUMERATOR_COLUMNS = [
    "enumerator_id",
    "supervisor_id",
    "coordinator_id",
    "province_code",
    "regency_code",
    "households",
    "median_minutes",
    "short_interview_share",
    "repeated_answer_share",
    "match_failure_share",
    "revisit_score",
    "revisit_reasons",
]
SUMMED = [
    "households_accepted",
    "members_listed",
    "persons_ranked",
    "persons_covered",
    *[f"persons_decile_{d}" for d in range(1, 11)],
]
STATUS_SHARES = [f"share_{s.lower()}" for s in contract.STATUSES]
UNKNOWN = "unknown"  # the id of the "province unknown" section (quarantined rows that cannot be placed)


@dataclass(kw_only=True)
class Report:
    """Everything the page shows; each frame is small (a row per regency, province or listed enumerator)."""

    run_id: str
    regions: pd.DataFrame  # quality_by_region rows of this run (one per regency)
    revisit: pd.DataFrame  # quality.revisit_lists rows: ENUMERATOR_COLUMNS + province counts, to_revisit
    quarantine: pd.DataFrame  # quality.quarantine_by_province: province_code (None: unknown), source, reason_code, rows
    households_quarantined: int  # survey households quarantined and not accepted since
    provinces: pd.DataFrame  # reference: province_code, province_name
    regencies: pd.DataFrame  # reference: regency_code, regency_name
    tiles: pd.DataFrame  # province_code, iso, col, row
    population: int
    target: float
    min_match: float
    publication: dict | None  # publication_id, published_at of the publication reported on; None before one
    reference_version: str
    appeals: pd.DataFrame | None = None  # queue_status.appeal_status: province_code, appeal_type, status, appeals
    queue: pd.DataFrame | None = None  # queue_status.queue_size: reason, status, entries, overdue
    impact: dict | None = None  # model, summary, by_province of the published model version (stage.model_impact)
    by_province: pd.DataFrame = field(init=False)  # `regions` summed to provinces (by_province below)

    def __post_init__(self) -> None:
        self.by_province = by_province(self.regions)
        self._province_names = self.provinces.set_index("province_code")["province_name"].to_dict()
        self._regency_names = self.regencies.set_index("regency_code")["regency_name"].to_dict()

    def province(self, code: str | None) -> str:
        if code is None or (isinstance(code, float) and math.isnan(code)):
            return "province unknown"
        return f"{code} {self._province_names.get(code, '(not in the region reference)')}"

    def regency(self, code: str) -> str:
        return f"{code} {self._regency_names.get(code, '(not in the region reference)')}"

    @property
    def published(self) -> bool:
        return self.publication is not None

    def national(self) -> dict[str, float]:
        p, q, r = self.by_province, self.quarantine, self.revisit
        listed = float(p["members_listed"].sum())
        counts = r.drop_duplicates("province_code") if len(r) else r
        return {
            "households": int(p["households_accepted"].sum()),
            "ranked": int(p["persons_ranked"].sum()),
            "covered": int(p["persons_covered"].sum()),
            "coverage": float(p["persons_covered"].sum()) / self.population if self.population else 0.0,
            "listed": int(listed),
            "match": float((p["match_rate"] * p["members_listed"]).sum() / listed) if listed else 0.0,
            "quarantined_rows": int(q["rows"].sum()) if len(q) else 0,
            "assessed": int(counts["province_assessed"].sum()) if len(r) else 0,
            "to_revisit": int(counts["province_revisit"].sum()) if len(r) else 0,
        }

    def unplaced_rows(self) -> int:
        """Quarantined rows in no known province."""
        q = self.quarantine
        return int(q.loc[q["province_code"].isna(), "rows"].sum()) if len(q) else 0


def by_province(regions: pd.DataFrame) -> pd.DataFrame:
    """quality_by_region's rows (one per regency) summed to provinces; match rate and status shares
    weighted by members listed; coverage = persons within coverage / persons ranked."""
    reg = regions.copy()
    for col in [*SUMMED, *STATUS_SHARES]:
        if col not in reg:
            reg[col] = 0
    weighted = ["match_rate", *STATUS_SHARES]
    for col in weighted:
        reg[f"_w_{col}"] = reg[col].astype(float).fillna(0) * reg["members_listed"].astype(float)
    out = reg.groupby("province_code", as_index=False)[[*SUMMED, *[f"_w_{c}" for c in weighted]]].sum(min_count=1)
    out = out.fillna(0)
    for col in weighted:
        out[col] = (out.pop(f"_w_{col}") / out["members_listed"].where(out["members_listed"] > 0)).fillna(0)
    out["coverage"] = out["persons_covered"] / out["persons_ranked"].where(out["persons_ranked"] > 0)
    return out.sort_values("province_code").reset_index(drop=True)


def read_tiles(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"province_code": str, "iso": str, "col": int, "row": int})
