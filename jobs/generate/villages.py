"""The village plan: which villages are populated, with how many households, by which enumerators.

Why: the only driver-side work of the generator, bounded by the region reference (a few thousand villages):
N households are split over the provinces by their census population, then over districts and villages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.core import regions
from jobs.core.regions import RegionReference
from jobs.generate.delivery import output_files
from jobs.generate.world import (
    CURBSTONER_MIN_HOUSEHOLDS,
    ELDERLY_ONE,
    ELDERLY_TWO,
    ENUMERATORS_PER_SUPERVISOR,
    HOUSEHOLDS_PER_VILLAGE,
    KELURAHAN_WEIGHT,
    KIDS_MAX,
    KIDS_MEAN,
    KIDS_NO_SPOUSE,
    KIDS_SD,
    KIDS_WEALTH,
    OTHER_SHARE,
    PROVINCE_EFFECT,
    SPOUSE_SHARE,
    VILLAGES_PER_DISTRICT,
    WEALTH_PROVINCE,
    WEALTH_URBAN,
)


@dataclass(frozen=True)
class Plan:
    """Which villages are populated and how: one row per populated village, plus the district list."""

    villages: pd.DataFrame
    districts: pd.DataFrame  # district_idx, district_code: issuing districts for migrants' NIKs
    n_files: int
    parameters: dict = field(default_factory=dict)


def read_population(path: Path) -> pd.DataFrame:
    pop = pd.read_csv(path, dtype={"province_code": str})
    if len(pop) != pop["province_code"].nunique() or (pop["population"] <= 0).any():
        raise ValueError(f"{path}: one positive population per province expected")
    return pop


def expected_household_size(mean_wealth: np.ndarray) -> np.ndarray:
    """Expected persons per household (living and dead: the registry's rows) for a mean latent wealth.

    The same composition `households` draws: head, spouse, kids, one other, elderly. Only the number of
    kids depends on wealth: round(KIDS_MEAN + KIDS_WEALTH * wealth + KIDS_SD * z (- KIDS_NO_SPOUSE)),
    clamped to [0, KIDS_MAX], with wealth ~ N(mean_wealth, 1); E[clamped round(X)] = sum of P(X >= k - 1/2).
    """
    mean_wealth = np.asarray(mean_wealth, dtype=float)
    sd = math.hypot(KIDS_WEALTH, KIDS_SD)
    phi = np.vectorize(lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)), otypes=[float])

    def kids(shift: float) -> np.ndarray:
        mean = KIDS_MEAN + KIDS_WEALTH * mean_wealth + shift
        return sum(phi((mean - k + 0.5) / sd) for k in range(1, KIDS_MAX + 1))

    elderly = 2 * ELDERLY_TWO + (ELDERLY_ONE - ELDERLY_TWO)
    return (1.0 + SPOUSE_SHARE + SPOUSE_SHARE * kids(0.0) + (1 - SPOUSE_SHARE) * kids(-KIDS_NO_SPOUSE)
            + OTHER_SHARE + elderly)


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """`total` split in proportion to `weights` exactly: floors, then one more for the largest remainders."""
    share = total * weights / weights.sum()
    n = np.floor(share).astype(np.int64)
    n[np.argsort(-(share - n), kind="stable")[: total - int(n.sum())]] += 1
    return n


def _spread(total: int, caps: np.ndarray) -> np.ndarray:
    """`total` (at most sum(caps)) split as evenly as possible, none above its cap; extras go to the first."""
    quota = np.zeros(len(caps), dtype=np.int64)
    left = min(total, int(caps.sum()))
    while left:
        open_ = np.flatnonzero(quota < caps)
        even = left // len(open_)
        if not even:
            quota[open_[:left]] += 1
            break
        add = np.minimum(even, caps[open_] - quota[open_])
        quota[open_] += add
        left -= int(add.sum())
    return quota


def province_households(vil: pd.DataFrame, households: int) -> pd.Series:
    """Households per province (those with in-scope villages, by code): N split exactly (largest remainder)
    in proportion to the people the in-scope villages hold over their expected household size, so that
    persons, not households, follow the census (poorer and rural households are larger)."""
    need = (vil["people"] / vil["size"]).groupby(vil["province_code"]).sum().sort_index()
    return pd.Series(_largest_remainder(households, need.to_numpy()), index=need.index)


def _pick_villages(rng: np.random.Generator, vil: pd.DataFrame, households: int) -> pd.DataFrame:
    """One province's villages: ~100 households each, in districts of ~10 (fewer where districts are smaller),
    urban and rural districts drawn by the people they hold; at least one village."""
    dist = (
        vil.groupby("district_code")
        .agg(people=("people", "sum"), n=("village_code", "size"), urban=("is_urban", "mean"))
        .reset_index()
        .sort_values("district_code", ignore_index=True)
    )
    target = min(len(vil), max(1, round(households / HOUSEHOLDS_PER_VILLAGE)))
    n_districts = min(len(dist), math.ceil(target / VILLAGES_PER_DISTRICT))
    urban = (dist["urban"] >= 0.5).to_numpy()
    n_urban = round(n_districts * dist.loc[urban, "people"].sum() / dist["people"].sum())
    if n_districts >= 2:
        n_urban = min(max(n_urban, 1), n_districts - 1)  # both kelurahan and desa, where the province has both
    n_urban = max(min(n_urban, int(urban.sum())), n_districts - int((~urban).sum()))
    picked = []
    for stratum, k in ((dist[urban], n_urban), (dist[~urban], n_districts - n_urban)):
        if k:
            p = stratum["people"].to_numpy() / stratum["people"].sum()
            picked.append(stratum.iloc[np.sort(rng.choice(len(stratum), k, replace=False, p=p))])
    picked_d = pd.concat(picked)
    # Districts smaller than ~10 villages (Jakarta's hold about six): more of them, until they can hold the target.
    rest = dist[~dist["district_code"].isin(picked_d["district_code"])]
    while picked_d["n"].sum() < target and len(rest):
        i = rng.choice(len(rest), p=rest["people"].to_numpy() / rest["people"].sum())
        picked_d, rest = pd.concat([picked_d, rest.iloc[[i]]]), rest.drop(rest.index[i])
    picked_d = picked_d.sort_values("district_code", ignore_index=True)
    quota = _spread(target, picked_d["n"].to_numpy())
    chosen = []
    for code, k in zip(picked_d["district_code"], quota, strict=True):
        cand = vil[vil["district_code"] == code]
        p = cand["w"].to_numpy() / cand["w"].sum()
        chosen.append(cand.iloc[np.sort(rng.choice(len(cand), k, replace=False, p=p))])
    plan = pd.concat(chosen).sort_values("village_code", ignore_index=True)
    # Households per village: random weights, larger in kelurahan, the province's share split exactly.
    weight = rng.uniform(0.5, 1.5, len(plan)) * np.where(plan["is_urban"], 1.4, 1.0)
    plan["n"] = _largest_remainder(households, weight)
    return plan


def village_plan(ref: RegionReference, population: pd.DataFrame, households: int, seed: int,
                 curbstoning_rate: float, scope: tuple[str, ...] = ()) -> Plan:
    """Split N over the provinces by their census population (persons), then pick each one's districts
    (weighted by people, urban and rural strata), ~10 villages each, ~100 households per village.

    With a trial scope only villages in those provinces or regencies are populated, N split among them by the
    people they hold.
    """
    rng = np.random.default_rng([seed, 20250701])
    missing = set(ref.provinces["province_code"]) - set(population["province_code"])
    if missing:
        raise ValueError(f"province population missing for {sorted(missing)}")
    pop = population.set_index("province_code")["population"].astype(float)
    vil = ref.villages[["village_code", "district_code", "province_code", "is_urban"]].copy()
    vil["w"] = np.where(vil["is_urban"], KELURAHAN_WEIGHT, 1.0)
    vil["people"] = vil["province_code"].map(pop) * vil["w"] / vil.groupby("province_code")["w"].transform("sum")
    vil = vil[regions.scope_mask(vil["village_code"], scope)]
    province_effect = vil["province_code"].map(PROVINCE_EFFECT).fillna(0.0)
    vil["size"] = expected_household_size(WEALTH_PROVINCE * province_effect + WEALTH_URBAN * vil["is_urban"])
    per_province = province_households(vil, households)
    parts = [_pick_villages(rng, vil[vil["province_code"] == code], int(n))
             for code, n in per_province.items() if n > 0]
    plan = pd.concat(parts).sort_values("village_code", ignore_index=True)
    plan = plan[plan["n"] > 0].reset_index(drop=True)
    plan["slot"] = np.arange(len(plan), dtype=np.int64)
    plan["start"] = np.concatenate([[0], np.cumsum(plan["n"].to_numpy())[:-1]]).astype(np.int64)
    plan["district_start"] = plan.groupby("district_code")["start"].transform("min")
    rank = plan.groupby("district_code").cumcount()
    plan["enumerator_id"] = "E" + plan["village_code"]
    plan["supervisor_id"] = "S" + plan["district_code"] + (rank // ENUMERATORS_PER_SUPERVISOR + 1).map("{:02d}".format)
    plan["coordinator_id"] = "C" + plan["district_code"]
    plan["province_effect"] = plan["province_code"].map(PROVINCE_EFFECT).fillna(0.0)
    in_scope = np.sort(vil["district_code"].unique())
    d_effect = dict(zip(in_scope, rng.normal(0.0, 0.08, len(in_scope)), strict=True))
    plan["district_effect"] = plan["district_code"].map(d_effect).round(4)
    plan["day_offset"] = rng.integers(0, 60, len(plan))
    # Curbstoners among the villages large enough for the report to judge (it needs five households
    # of an enumerator), or among all of them if too few are.
    n_curb = 0 if curbstoning_rate <= 0 else min(len(plan), max(1, round(curbstoning_rate * len(plan))))
    able = np.flatnonzero(plan["n"].to_numpy() >= CURBSTONER_MIN_HOUSEHOLDS)
    able = able if len(able) >= n_curb else np.arange(len(plan))
    plan["curbstoner"] = False
    plan.loc[np.sort(rng.choice(able, n_curb, replace=False)), "curbstoner"] = True
    # Migrants' NIK districts: all districts of the other provinces, as an index range to skip.
    districts = ref.districts[["district_code"]].sort_values("district_code", ignore_index=True)
    districts["district_idx"] = np.arange(len(districts), dtype=np.int64)
    prov = districts["district_code"].str[:2]
    lo = prov.reset_index().groupby("district_code")["index"].min()
    cnt = prov.value_counts()
    plan["own_lo"] = plan["province_code"].map(lo).astype(np.int64)
    plan["own_n"] = plan["province_code"].map(cnt).astype(np.int64)
    plan["n_all"] = len(districts)
    plan["is_urban"] = plan["is_urban"].astype(bool)
    cols = ["slot", "village_code", "district_code", "province_code", "is_urban", "n", "start",
            "district_start", "enumerator_id", "supervisor_id", "coordinator_id", "province_effect",
            "district_effect", "day_offset", "curbstoner", "own_lo", "own_n", "n_all"]
    params = {
        "populated_villages": int(len(plan)),
        "populated_districts": int(plan["district_code"].nunique()),
        "populated_provinces": int(plan["province_code"].nunique()),
        "kelurahan_villages": int(plan["is_urban"].sum()),
        "curbstoning_enumerators": sorted(plan.loc[plan["curbstoner"], "enumerator_id"].tolist()),
    }
    return Plan(plan[cols], districts, output_files(households), params)
