"""A synthetic nation with a known answer: registry, verval survey, training sample, truth and defects.

Why: the pipeline must be tested and demonstrated without personal data, on inputs whose welfare truth
and defects are known exactly. Everything here is a DataFrame transform built from `spark.range` and
column expressions; randomness is hash-based (xxhash64 of seed, row key and a salt), so every value
depends only on the seed and the row's key, never on partitioning, cores or execution order. The only
driver-side work is the village plan (which villages are populated), bounded by the region reference.

Welfare truth: a latent wealth per household (region dependent) drives its housing, assets and family
composition; log consumption per capita is then a fixed linear formula of those proxies plus province,
urban and district effects and Gaussian noise (`oracle_log_consumption` is the formula without noise).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from jobs.core import nik, regions
from jobs.core.regions import RegionReference
from jobs.generate.appeals import appeals as filed_appeals
from runtime.config import DefectRates

REFERENCE_DATE = dt.date(2025, 6, 30)  # ages are drawn as of this date; every birth is on or before it
SURVEY_START = dt.datetime(2025, 7, 1)  # interviews start here (UTC) and run for about three months
SURVEY_DAYS = 92
QUESTIONNAIRE_VERSIONS = ("VV2025.1", "VV2025.2")  # .2 from SURVEY_SWITCH_DAY on
SURVEY_SWITCH_DAY = 46
HOUSEHOLDS_PER_VILLAGE = 100
VILLAGES_PER_DISTRICT = 10
ENUMERATORS_PER_SUPERVISOR = 5
INTERVIEWS_PER_DAY = 6
KELURAHAN_WEIGHT = 3.0  # a kelurahan (urban village) holds about three times the people of a desa
CURBSTONER_MIN_HOUSEHOLDS = 20  # a curbstoner's village has at least this many households, where there are such
MIGRANT_SHARE = 0.05  # persons whose NIK was first issued in another province
MISSING_KK_SHARE = 0.02  # survey households that do not report their KK number (allowed, not a defect)
TRAINING_RATE = 0.04  # default mean inclusion probability of the consumption-module sample
NOISE_SD = 0.35  # sd of log consumption around the oracle formula
DEATH_SHARE = 0.009  # approximate share of survey-household persons who died (calibrates deceased_listed)
MEMBERS_PER_HOUSEHOLD = 3.9  # approximate living members per household (calibrates duplicate_person)
MAX_FILES = 64

MEMBER_DEFECTS = (  # drawn per survey member row from disjoint intervals of one uniform
    "nik_missing", "nik_malformed", "nik_placeholder", "nik_not_in_registry",
    "birth_date_sex_mismatch", "future_birth_date",
)
DUPLICATE = "duplicate_person"  # recorded on the older of the two listings
DECEASED = "deceased_listed"
HOUSEHOLD_DEFECTS = ("unknown_village", "negative_floor_area", "short_interview")
CURBSTONING = "curbstoning"
DEFECTS = (*MEMBER_DEFECTS, DUPLICATE, DECEASED, *HOUSEHOLD_DEFECTS, CURBSTONING)

# Province welfare effects on log consumption: synthetic, loosely following published provincial
# poverty rates (richer Jakarta, Bali, Kalimantan; poorer NTT, Maluku, Papua).
_POVERTY_PCT = {
    "11": 14.2, "12": 8.0, "13": 5.9, "14": 6.4, "15": 7.3, "16": 11.0, "17": 13.6, "18": 10.6, "19": 4.5,
    "21": 5.4, "31": 4.3, "32": 7.5, "33": 10.5, "34": 10.8, "35": 9.8, "36": 5.8, "51": 4.0, "52": 12.9,
    "53": 19.0, "61": 6.3, "62": 5.1, "63": 4.0, "64": 5.8, "65": 6.2, "71": 7.3, "72": 11.8, "73": 8.1,
    "74": 11.0, "75": 14.6, "76": 11.2, "81": 16.0, "82": 6.3, "91": 19.0, "92": 20.0, "93": 18.0,
    "94": 28.0, "95": 32.0, "96": 18.0,
}
PROVINCE_EFFECT = {code: round(-0.25 * math.log(pct / 9.0), 3) for code, pct in _POVERTY_PCT.items()}

FIRST_NAMES_L = (
    "Agus", "Budi", "Dedi", "Eko", "Fajar", "Hendra", "Iwan", "Joko", "Rudi", "Slamet", "Teguh", "Wahyu",
    "Yusuf", "Ahmad", "Bambang", "Dimas", "Gilang", "Hadi", "Irfan", "Muhammad", "Rizki", "Sutrisno",
)
FIRST_NAMES_P = (
    "Ani", "Dewi", "Endang", "Fitri", "Indah", "Lestari", "Nur", "Putri", "Rina", "Siti", "Sri", "Wulan",
    "Yanti", "Ayu", "Dian", "Eka", "Kartini", "Maya", "Ratna", "Sari", "Tuti", "Umi",
)
SECOND_NAMES = (
    "Saputra", "Pratama", "Hidayat", "Santoso", "Wijaya", "Kurniawan", "Setiawan", "Nugroho", "Lubis",
    "Siregar", "Nasution", "Harahap", "Simanjuntak", "Sinaga", "Manurung", "Rahman", "Hasibuan", "Tanjung",
    "Wati", "Rahayu", "Susanti", "Handayani", "Purnama", "Utami", "Maharani", "Kusuma", "Permata", "Lim",
)

# Households (drawn in `households`; the plan allocates by the expected size, `expected_household_size`):
# latent wealth = WEALTH_PROVINCE * province effect + WEALTH_URBAN * urban + district effect + N(0, 1);
# head, spouse (SPOUSE_SHARE), kids round(KIDS_MEAN + KIDS_WEALTH * wealth + KIDS_SD * N(0, 1), less
# KIDS_NO_SPOUSE without a spouse) in [0, KIDS_MAX], one other (OTHER_SHARE), two elderly parents
# (ELDERLY_TWO) or one (ELDERLY_ONE - ELDERLY_TWO).
WEALTH_PROVINCE, WEALTH_URBAN = 1.5, 0.35
SPOUSE_SHARE, OTHER_SHARE = 0.83, 0.08
KIDS_MEAN, KIDS_WEALTH, KIDS_SD, KIDS_NO_SPOUSE, KIDS_MAX = 1.7, -0.35, 1.1, 0.8, 6
ELDERLY_TWO, ELDERLY_ONE = 0.05, 0.22

# Generating formula: effects on log consumption per capita (codes not listed have effect 0).
INTERCEPT = 13.70
URBAN_EFFECT = 0.15
CATEGORY_EFFECTS = {
    "floor_material": {1: 0.25, 2: 0.12, 3: 0.10, 5: -0.05, 6: -0.10, 7: -0.15},
    "wall_material": {1: 0.06, 3: -0.03, 4: -0.08, 5: -0.10},
    "roof_material": {1: 0.08, 2: 0.03, 4: -0.03, 5: -0.08},
    "water_source": {1: 0.06, 2: 0.08, 4: -0.06, 5: -0.10},
    "sanitation": {1: 0.06, 3: -0.05, 4: -0.12},
    "lighting": {1: 0.10, 2: -0.04, 3: -0.08, 4: -0.15},
    "cooking_fuel": {1: 0.15, 3: -0.05, 4: -0.10},
    "tenure": {2: 0.04, 3: -0.05, 4: -0.05},
}
ASSET_EFFECTS = {
    "refrigerator": 0.12, "motorcycle": 0.08, "car": 0.30, "air_conditioner": 0.20, "gold": 0.08,
    "computer": 0.15, "land": 0.03, "livestock": 0.0,
}
RURAL_ASSET_EFFECTS = {"land": 0.07, "livestock": 0.06}  # added for desa households: region-specific slopes
DEMOGRAPHIC_EFFECTS = {
    "log_hh_size": -0.35, "log_floor_area_per_capita": 0.12, "share_dependants": -0.25,
    "head_education": 0.05, "share_working_formal": 0.20, "n_disabled": -0.05,
}
# Ordered categories: a wealth score above a cut point gives that code (best first); else the last code.
ORDERED_CUTS = {
    "floor_material": ((1, 2.3), (2, -0.3), (3, -0.4), (4, -1.3), (5, -1.6), (6, -1.8), (7, None)),
    "wall_material": ((1, -0.8), (2, -1.1), (3, -1.6), (4, -2.0), (5, None)),
    "roof_material": ((1, 1.8), (2, 0.2), (3, -1.5), (4, -2.0), (5, None)),
    "water_source": ((1, 1.0), (2, 0.0), (3, -1.0), (4, -1.8), (5, None)),
    "sanitation": ((1, -0.6), (2, -1.0), (3, -1.5), (4, None)),
    "lighting": ((1, 0.0), (2, -1.8), (3, -2.2), (4, None)),
    "cooking_fuel": ((1, 1.2), (2, -1.0), (3, -1.3), (4, None)),
}
URBAN_SHIFT = {"water_source": 0.5, "sanitation": 0.3, "cooking_fuel": 0.5, "lighting": 0.3}
# Assets: owned when a + b * wealth + (urban shift) + N(0, 1) > 0.
ASSET_MODEL = {
    "refrigerator": (0.3, 1.0, 0.3), "motorcycle": (0.9, 0.6, 0.0), "car": (-1.6, 0.9, 0.0),
    "air_conditioner": (-1.8, 1.0, 0.4), "gold": (-0.6, 0.7, 0.0), "land": (0.0, 0.3, -0.8),
    "livestock": (-0.3, 0.0, -0.8), "computer": (-1.4, 1.0, 0.3),
}
PROXIES = ("floor_area", *ORDERED_CUTS, "tenure", *ASSET_MODEL)
MEMBER_COLUMNS = (
    "household_id", "member_no", "nik", "full_name", "birth_date", "sex", "relationship", "education",
    "employment", "disability", "chronic_illness", "pregnant", "in_school",
)
HOUSEHOLD_HEAD_COLUMNS = (
    "household_id", "village_code", "kk_number", "enumerator_id", "supervisor_id", "coordinator_id",
    "interview_start", "interview_end", "questionnaire_version",
)
REGISTRY_COLUMNS = (
    "nik", "kk_number", "full_name", "birth_date", "sex", "village_code", "relationship", "death_date",
    "updated_at",
)


# ---------------------------------------------------------------- hash-based randomness, as SQL text
#
# Expressions are built as SQL text and handed to Spark one stage at a time: building them operator by
# operator through py4j costs a JVM round trip each, which made planning take longer than the work.


def _d(x: float) -> str:
    """A double literal (bare 0.5 is a DECIMAL in Spark SQL)."""
    text = format(float(x), ".12f").rstrip("0").rstrip(".")
    return f"{text}D"


def _clamp(x: str, lo: float, hi: float) -> str:
    return f"least(greatest({x}, {_d(lo)}), {_d(hi)})"


def _case(pairs: list[tuple[str, str]], default: str | None = None) -> str:
    body = " ".join(f"WHEN {cond} THEN {value}" for cond, value in pairs)
    return f"CASE {body}" + (f" ELSE {default}" if default is not None else "") + " END"


def _pick(values: tuple[str, ...], idx: str) -> str:
    return "element_at(array(" + ", ".join(f"'{v}'" for v in values) + f"), {idx} + 1)"


def _effect(col: str, effects: dict[int, float]) -> str:
    return _case([(f"{col} = {code}", _d(value)) for code, value in effects.items()], "0.0D")


class Draws:
    """Uniform and normal draws from xxhash64(seed, key..., salt): reproducible on any partitioning."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def u(self, salt: str, *key: str) -> str:
        """Uniform on (0, 1): the top 53 bits of the hash."""
        h = f"xxhash64(CAST({self.seed} AS BIGINT), {', '.join(key)}, '{salt}')"
        return f"((CAST(shiftrightunsigned({h}, 11) AS DOUBLE) + 0.5D) / {_d(1 << 53)})"

    def normal(self, salt: str, *key: str) -> str:
        """Standard normal by Box-Muller from the two 26-bit halves of one hash."""
        h = f"xxhash64(CAST({self.seed} AS BIGINT), {', '.join(key)}, '{salt}')"
        u1 = f"((CAST(shiftrightunsigned({h}, 38) AS DOUBLE) + 0.5D) / {_d(1 << 26)})"
        u2 = f"((CAST(shiftrightunsigned({h}, 12) & {(1 << 26) - 1} AS DOUBLE) + 0.5D) / {_d(1 << 26)})"
        return f"(sqrt(-2.0D * ln({u1})) * cos({_d(2 * math.pi)} * {u2}))"

    def index(self, salt: str, n: str | int, *key: str) -> str:
        """Uniform integer in [0, n)."""
        return f"CAST(floor({self.u(salt, *key)} * ({n})) AS INT)"


def _add(df: DataFrame, columns: dict[str, str]) -> DataFrame:
    """Add (or replace) columns given as SQL text, in one projection."""
    kept = [f"`{c}`" for c in df.columns if c not in columns]
    return df.selectExpr(*kept, *[f"{sql} AS `{name}`" for name, sql in columns.items()])


# ---------------------------------------------------------------- village plan (driver, bounded)


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


def output_files(households: int) -> int:
    """A fixed number of files per folder, from the size only (never from cores or partitions)."""
    return max(1, min(MAX_FILES, math.ceil(households / 250_000)))


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


# ---------------------------------------------------------------- households


def _ordered(score: str, cuts: tuple) -> str:
    return _case([(f"{score} > {_d(cut)}", str(code)) for code, cut in cuts[:-1]], str(cuts[-1][0]))


def proxy_draws(r: Draws, key: list[str], prefix: str) -> dict[str, str]:
    """The random parts of the proxies, as columns of their own (referenced, not repeated, below)."""
    draws = {f"{prefix}z_{name}": r.normal(name, *key) for name in ("area", *ORDERED_CUTS, *ASSET_MODEL)}
    draws[f"{prefix}u_tenure"] = r.u("tenure", *key)
    return draws


def proxies(prefix: str, wealth: str, urban: str, size: str) -> dict[str, str]:
    """Housing and asset answers conditional on latent wealth (richer: better housing, more assets)."""
    u_num = f"CAST({urban} AS INT)"
    out: dict[str, str] = {}
    area = f"exp(3.3D + 0.45D * ln(CAST({size} AS DOUBLE)) + 0.3D * {wealth} + 0.3D * {prefix}z_area)"
    out["floor_area"] = f"round({_clamp(area, 8.0, 1500.0)}, 1)"
    for name, cuts in ORDERED_CUTS.items():
        score = f"(0.8D * {wealth} + 0.6D * {prefix}z_{name} + {_d(URBAN_SHIFT.get(name, 0.0))} * {u_num})"
        out[name] = f"CAST({_ordered(score, cuts)} AS INT)"
    t = f"{prefix}u_tenure"
    owned, rented = f"(CASE WHEN {urban} THEN 0.70D ELSE 0.88D END)", f"(CASE WHEN {urban} THEN 0.20D ELSE 0.04D END)"
    out["tenure"] = _case([(f"{t} < {owned}", "1"), (f"{t} < {owned} + {rented}", "2"),
                           (f"{t} < {owned} + {rented} + 0.08D", "3")], "4")
    for name, (a, b, shift) in ASSET_MODEL.items():
        out[name] = f"CAST({_d(a)} + {_d(b)} * {wealth} + {_d(shift)} * {u_num} + {prefix}z_{name} > 0 AS INT)"
    return out


def _with_proxies(df: DataFrame, r: Draws, key: list[str], out_prefix: str, wealth: str, size: str) -> DataFrame:
    draws = proxy_draws(r, key, "d_")
    df = _add(df, draws)
    answers = proxies("d_", wealth, "is_urban", size)
    return _add(df, {f"{out_prefix}{k}": v for k, v in answers.items()}).drop(*draws)


def villages_frame(spark: SparkSession, plan: Plan, seed: int) -> DataFrame:
    """The plan as a small DataFrame, with each village's curbstoning template answers."""
    return _with_proxies(spark.createDataFrame(plan.villages), Draws(seed), ["'template'", "slot"], "tpl_", "0.0D", "4")


def households(spark: SparkSession, plan: Plan, seed: int, rates: DefectRates, min_minutes: float,
               partitions: int, training_rate: float = TRAINING_RATE) -> DataFrame:
    """One row per household of the nation: region, composition, true proxies, listing, schedule, defects."""
    r = Draws(seed)
    v = F.broadcast(villages_frame(spark, plan, seed))
    base = spark.range(0, len(plan.villages), 1, partitions).withColumnRenamed("id", "slot").join(v, "slot")
    hh = base.selectExpr("*", "explode(sequence(start, start + n - 1)) AS hh_idx")
    h = "hh_idx"
    hh = _add(hh, {
        "wealth": f"{_d(WEALTH_PROVINCE)} * province_effect + {_d(WEALTH_URBAN)} * CAST(is_urban AS DOUBLE)"
                  f" + district_effect + {r.normal('wealth', h)}",
        "has_spouse": f"{r.u('spouse', h)} < {_d(SPOUSE_SHARE)}",
        "u_elderly": r.u("elderly", h),
        "u_head_sex": r.u("hsex", h),
        "u_hh_defect": r.u("hh_defect", h),
        "n_other": f"CAST({r.u('other', h)} < {_d(OTHER_SHARE)} AS INT)",
        "head_age_drawn": "CAST(" + _clamp("round(44 + 12 * " + r.normal("hage", h) + ")", 18, 85) + " AS INT)",
    })
    pi = f"CASE WHEN is_urban THEN {_d(0.7 * training_rate)} ELSE {_d(min(1.25 * training_rate, 1.0))} END"
    hh = _add(hh, {
        "n_kids": "CAST(" + _clamp(f"round({_d(KIDS_MEAN)} + {_d(KIDS_WEALTH)} * wealth + {_d(KIDS_SD)}"
                                   f" * {r.normal('kids', h)} - CASE WHEN has_spouse THEN 0.0D"
                                   f" ELSE {_d(KIDS_NO_SPOUSE)} END)", 0, KIDS_MAX) + " AS INT)",
        "n_elderly": f"CASE WHEN u_elderly < {_d(ELDERLY_TWO)} THEN 2 WHEN u_elderly < {_d(ELDERLY_ONE)} THEN 1"
                     " ELSE 0 END",
        "head_sex": "CASE WHEN has_spouse THEN (CASE WHEN u_head_sex < 0.04D THEN 'P' ELSE 'L' END)"
                    " ELSE (CASE WHEN u_head_sex < 0.5D THEN 'P' ELSE 'L' END) END",
        # Listing: poorer households are more likely to be in the verval survey (about three quarters).
        "listed": f"{r.u('listed', h)} < 1.0D / (1.0D + exp(-(1.25D - 1.1D * wealth)))",
        "train_pi": pi,
        "in_training": f"{r.u('training', h)} < {pi}",
    })
    hh = _add(hh, {
        "head_age": "CASE WHEN n_elderly > 0 THEN least(head_age_drawn, 62) ELSE head_age_drawn END",
        "size": "1 + CAST(has_spouse AS INT) + n_kids + n_other + n_elderly",
    })
    # The last member may have died (often the elderly parent): the dead stay in the registry only.
    p_death = "CASE WHEN n_elderly > 0 THEN 0.15D ELSE 0.012D END"
    hh = _add(hh, {"dead_last": f"size >= 2 AND {r.u('death', h)} < {p_death}"})
    # KK: district + issue date + serial; the serial is the household's rank in its district (unique
    # while a district has fewer than 10,000 households).
    issued = f"date_sub(DATE'2024-12-31', {r.index('kk_date', 7300, h)})"
    hh = _add(hh, {
        "living_size": "size - CAST(dead_last AS INT)",
        "kk_number": f"concat(district_code, date_format({issued}, 'ddMMyy'),"
                     " lpad(CAST((hh_idx - district_start) % 9999 + 1 AS STRING), 4, '0'))",
        "household_id": "concat('H', lpad(CAST(hh_idx AS STRING), 10, '0'))",
        "training_id": "concat('T', lpad(CAST(hh_idx AS STRING), 10, '0'))",
        **_schedule(r, min_minutes),
        **_household_defects(r, rates),
    })
    hh = _with_proxies(hh, r, [h], "", "wealth", "living_size")
    p_dup = min(1.0, rates.duplicate_person * MEMBERS_PER_HOUSEHOLD / 0.7)
    return _add(hh, {
        "roster_size": "living_size + CAST(deceased_listed AS INT)",
        # Duplicate: one living non-head member is also listed in the partner household (hh_idx xor 1).
        "dup_member_no": f"CASE WHEN listed AND living_size >= 2 AND {r.u('dup', h)} < {_d(p_dup)}"
                         f" THEN 2 + {r.index('dup_member', 'living_size - 1', h)} END",
    })


def _schedule(r: Draws, min_minutes: float) -> dict[str, str]:
    """One enumerator per village works through its households, six interviews a day, 100 min apart."""
    h = "hh_idx"
    day = f"(day_offset + (hh_idx - start) div {INTERVIEWS_PER_DAY})"
    t0 = int(SURVEY_START.replace(tzinfo=dt.UTC).timestamp())
    slot = f"((hh_idx - start) % {INTERVIEWS_PER_DAY}) * 6000"
    start = f"{t0}L + {day} * 86400 + {8 * 3600} + {slot} + {r.index('jitter', 600, h)}"
    normal_min = max(25.0, min_minutes + 1.0)
    t_day = r.index("tday", SURVEY_DAYS, h)
    first, second = QUESTIONNAIRE_VERSIONS
    version = f"CASE WHEN {{}} < {SURVEY_SWITCH_DAY} THEN '{first}' ELSE '{second}' END"
    return {
        "interview_start_s": f"CAST({start} AS BIGINT)",
        "interview_minutes": f"{_d(normal_min)} + {r.u('duration', h)} * {_d(90.0 - normal_min)}",
        "short_minutes": f"{_d(min_minutes)} * (0.3D + 0.6D * {r.u('short', h)})",
        "questionnaire_version": version.format(day),
        "training_start_s": f"CAST({t0}L + {t_day} * 86400 + {8 * 3600} + {r.index('tstart', 9 * 3600, h)} AS BIGINT)",
        "training_minutes": f"{_d(normal_min)} + {r.u('tduration', h)} * {_d(90.0 - normal_min)}",
        "training_version": version.format(t_day),
    }


def _household_defects(r: Draws, rates: DefectRates) -> dict[str, str]:
    """Household defects from disjoint intervals; a curbstoner's households get only `curbstoning`."""
    u = "u_hh_defect"
    pairs = [("curbstoner", f"'{CURBSTONING}'")]
    lo = 0.0
    for name in HOUSEHOLD_DEFECTS:
        hi = lo + getattr(rates, name)
        pairs.append((f"{u} >= {_d(lo)} AND {u} < {_d(hi)}", f"'{name}'"))
        lo = hi
    p_dead = min(1.0, rates.deceased_listed / DEATH_SHARE)
    return {
        "hh_defect": f"CASE WHEN listed THEN {_case(pairs)} END",
        # Deceased listed: the household's dead member appears on the roster.
        "deceased_listed": f"listed AND dead_last AND {r.u('dlist', 'hh_idx')} < {_d(p_dead)}",
    }


# ---------------------------------------------------------------- persons


def persons(hh: DataFrame, plan_districts: DataFrame, seed: int, rates: DefectRates) -> DataFrame:
    """Everyone in every household (living and dead), with registry NIKs unique by construction."""
    r = Draws(seed)
    keep = ["hh_idx", "household_id", "training_id", "village_code", "district_code", "province_code",
            "is_urban", "kk_number", "wealth", "has_spouse", "n_kids", "n_other", "n_elderly", "head_sex",
            "head_age", "size", "dead_last", "listed", "in_training", "deceased_listed", "dup_member_no",
            "interview_start_s", "own_lo", "own_n", "n_all"]
    p = hh.selectExpr(*keep, "explode(sequence(1, size)) AS member_no")
    k = ("hh_idx", "member_no")
    p = _add(p, {
        "role": "CASE WHEN member_no = 1 THEN 'head' WHEN member_no = 2 AND has_spouse THEN 'spouse'"
                " WHEN member_no <= 1 + CAST(has_spouse AS INT) + n_kids THEN 'kid'"
                " WHEN member_no <= 1 + CAST(has_spouse AS INT) + n_kids + n_other THEN 'other' ELSE 'elder' END",
        "u_age": r.u("age", *k),
        "u_sex": r.u("sex", *k),
    })
    p = _add(p, {
        "relationship": _case([
            ("role = 'head'", "1"),
            ("role = 'spouse'", "CASE WHEN head_sex = 'L' THEN 3 ELSE 2 END"),
            ("role = 'kid'", f"CASE WHEN head_age >= 58 AND {r.u('grandchild', *k)} < 0.5D THEN 6 ELSE 4 END"),
            ("role = 'other'",
             f"CASE WHEN wealth > 1.8D THEN 10 WHEN {r.u('other_rel', *k)} < 0.2D THEN 11 ELSE 9 END"),
        ], f"CASE WHEN {r.u('elder_rel', *k)} < 0.6D THEN 7 ELSE 8 END"),
        "sex": _case([
            ("role = 'head'", "head_sex"),
            ("role = 'spouse'", "CASE WHEN head_sex = 'L' THEN 'P' ELSE 'L' END"),
            ("role = 'elder'", "CASE WHEN u_sex < 0.62D THEN 'P' ELSE 'L' END"),
        ], "CASE WHEN u_sex < 0.5D THEN 'P' ELSE 'L' END"),
    })
    spouse_age = _clamp(f"head_age + CASE WHEN head_sex = 'L' THEN -3 ELSE 3 END + round(3 * {r.normal('sp_age', *k)})",
                        17, 90)
    p = _add(p, {"age": "CAST(" + _case([
        ("role = 'head'", "head_age"),
        ("role = 'spouse'", spouse_age),
        ("relationship = 6", "floor(u_age * 16)"),
        ("role = 'kid'", f"floor(u_age * {_clamp('head_age - 18', 1, 30)})"),
        ("role = 'other'", "10 + floor(u_age * 60)"),
    ], _clamp("head_age + 22 + floor(u_age * 14)", 60, 95)) + " AS INT)"})
    days_old = f"CAST(floor((age + {r.u('birthday', *k)}) * 365.25D) AS INT)"
    p = _add(p, {
        "birth_date": f"date_sub(DATE'{REFERENCE_DATE.isoformat()}', {days_old})",
        "in_school": "CAST(" + r.u("school", *k) + " < " + _case([
            ("age BETWEEN 7 AND 15", "0.97D"),
            ("age BETWEEN 16 AND 18", _clamp("0.65D + 0.1D * wealth", 0.2, 0.98)),
            ("age BETWEEN 19 AND 23", _clamp("0.25D + 0.12D * wealth", 0.02, 0.7)),
        ], "0.0D") + " AS INT)",
        "is_dead": "dead_last AND member_no = size",
        "z_edu": r.normal("edu", *k),
        "z_sector": r.normal("sector", *k),
        "u_disability": r.u("disability", *k),
        "mig_other": r.index("mig_district", "n_all - own_n", *k),
    })
    p = _add(p, {
        "adult_edu": _clamp("round(1.7D + 0.7D * wealth - 0.025D * (age - 40) + 0.9D * z_edu)", 0, 4),
        "sector": "0.7D * wealth + 0.6D * CAST(is_urban AS INT) - 0.3D + z_sector",
    })
    # Issuing district: home district, or for migrants a district of another province.
    other = "mig_other"
    start = f"DATE'{SURVEY_START.date().isoformat()}'"
    span = f"greatest(least(datediff({start}, birth_date) - 1, 1500), 1)"
    p = _add(p, {
        **_member_answers(r, k),
        # Death on a day between the birth (or four years back) and the eve of the survey.
        "death_date": f"CASE WHEN is_dead THEN date_sub({start}, 1 + {r.index('death_day', span, *k)}) END",
        "mig_idx": f"CASE WHEN {r.u('migrant', *k)} < {_d(MIGRANT_SHARE)} THEN"
                   f" CAST(CASE WHEN {other} < own_lo THEN {other} ELSE {other} + own_n END AS BIGINT) END",
    })
    p = p.join(F.broadcast(plan_districts.withColumnRenamed("district_code", "mig_district")),
               F.col("mig_idx") == F.col("district_idx"), "left")
    p = _add(p, {
        "nik_district": "coalesce(mig_district, district_code)",
        "full_name": "concat_ws(' ', CASE WHEN sex = 'L' THEN "
                     + _pick(FIRST_NAMES_L, r.index("first", len(FIRST_NAMES_L), *k)) + " ELSE "
                     + _pick(FIRST_NAMES_P, r.index("first", len(FIRST_NAMES_P), *k)) + " END, "
                     + _pick(SECOND_NAMES, r.index("second", len(SECOND_NAMES), *k)) + ")",
        "updated_at": f"timestamp_seconds({int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())}L"
                      f" + {r.index('updated', 545 * 86400, *k)})",
    })
    p = _add(p, {"serial": "row_number() OVER (PARTITION BY nik_district, birth_date, sex ORDER BY hh_idx, member_no)"})
    p = p.withColumn("nik", nik.make_nik(F.col("nik_district"), F.col("birth_date"), F.col("sex"), F.col("serial")))
    p = p.drop("mig_idx", "district_idx", "mig_district", "role", "u_age", "u_sex", "serial", "z_edu", "z_sector",
               "u_disability", "mig_other", "adult_edu", "sector")
    return _member_defects(p, r, rates)


def _member_answers(r: Draws, k: tuple[str, ...]) -> dict[str, str]:
    """Education, work, disability, illness, pregnancy: by age, sex and household wealth."""
    adult_edu = "adult_edu"
    edu = _case([
        ("age < 7", "0"), ("age <= 12", "1"), ("age <= 15", "2"),
        ("age <= 18", f"CASE WHEN in_school = 1 THEN 3 ELSE least({adult_edu}, 2) END"),
        ("age <= 23 AND in_school = 1", "4"),
    ], adult_edu)
    works_p = "CASE WHEN sex = 'L' THEN 0.85D ELSE 0.52D END * CASE WHEN age > 65 THEN 0.6D ELSE 1.0D END"
    works = f"age >= 15 AND in_school = 0 AND {r.u('works', *k)} < {works_p}"
    sector = "sector"
    agri = f"{r.normal('agri', *k)} + 0.9D * CAST(is_urban AS INT) + 0.3D * wealth"
    informal = f"CASE WHEN {agri} > -0.2D THEN 2 ELSE 1 END"
    d = "u_disability"
    sev = "(0.006D + 0.03D * CAST(age >= 65 AS INT))"
    mod = "(0.02D + 0.08D * CAST(age >= 65 AS INT))"
    return {
        "education": f"CAST({edu} AS INT)",
        "employment": f"CAST(CASE WHEN NOT ({works}) THEN 0 WHEN {sector} > 1.8D THEN 4 WHEN {sector} > 0.3D THEN 3"
                      f" ELSE {informal} END AS INT)",
        "disability": f"CASE WHEN {d} < {sev} THEN 2 WHEN {d} < {sev} + {mod} THEN 1 ELSE 0 END",
        "chronic_illness": f"CAST({r.u('chronic', *k)} < least(0.03D + 0.004D * greatest(age - 30, 0), 0.4D) AS INT)",
        "pregnant": f"CAST(sex = 'P' AND age BETWEEN 15 AND 45 AND {r.u('pregnant', *k)} < 0.05D AS INT)",
    }


def _member_defects(p: DataFrame, r: Draws, rates: DefectRates) -> DataFrame:
    """Which survey member row gets which defect, and the reported values that carry it."""
    k = ("hh_idx", "member_no")
    p = _add(p, {"u_member_defect": r.u("member_defect", *k), "u_value": r.u("defect_value", *k)})
    u = "u_member_defect"
    eligible = "listed AND NOT is_dead AND NOT coalesce(member_no = dup_member_no, false)"
    pairs = []
    lo = 0.0
    for name in MEMBER_DEFECTS:
        hi = lo + getattr(rates, name)
        pairs.append((f"{eligible} AND {u} >= {_d(lo)} AND {u} < {_d(hi)}", f"'{name}'"))
        lo = hi
    pairs.append(("listed AND is_dead AND deceased_listed", f"'{DECEASED}'"))
    p = _add(p, {"member_defect": _case(pairs)})
    malformed = _case([("u_value < 1.0D / 3", "substr(nik, 1, 15)"),
                       ("u_value < 2.0D / 3", "concat(substr(nik, 1, 7), 'O', substr(nik, 9, 8))")],
                      "concat(nik, '0')")
    placeholders = tuple(sorted(nik.PLACEHOLDERS))
    flip = "(member_defect = 'birth_date_sex_mismatch' AND u_value < 0.5D AND pregnant = 0)"
    shift = f"(member_defect = 'birth_date_sex_mismatch' AND NOT {flip})"
    interview_date = "to_date(timestamp_seconds(interview_start_s))"
    p = _add(p, {
        "reported_nik": _case([
            ("member_defect = 'nik_missing'", "CAST(NULL AS STRING)"),
            ("member_defect = 'nik_malformed'", malformed),
            ("member_defect = 'nik_placeholder'", _pick(placeholders, r.index("placeholder", len(placeholders), *k))),
            ("member_defect = 'nik_not_in_registry'",
             f"concat(substr(nik, 1, 12), CAST(9000 + {r.index('ghost', 999, *k)} AS STRING))"),
        ], "nik"),
        "reported_birth_date": _case([
            (shift, f"date_sub(birth_date, 30 + {r.index('shift', 1000, *k)})"),
            ("member_defect = 'future_birth_date'", f"date_add({interview_date}, 30 + {r.index('future', 365, *k)})"),
        ], "birth_date"),
        "reported_sex": f"CASE WHEN {flip} THEN (CASE WHEN sex = 'L' THEN 'P' ELSE 'L' END) ELSE sex END",
    })
    return p.drop("u_value", "u_member_defect")


# ---------------------------------------------------------------- welfare truth


def with_consumption(hh: DataFrame, people: DataFrame, seed: int) -> DataFrame:
    """Add the household's living-member features, the oracle formula and true consumption."""
    r = Draws(seed)
    demo = people.filter("NOT is_dead").groupBy("hh_idx").agg(
        F.expr("count(1) AS hh_size"),
        F.expr("sum(CAST(age < 15 OR age >= 65 AS INT)) AS n_dependants"),
        F.expr("sum(CAST(disability > 0 AS INT)) AS n_disabled"),
        F.expr("sum(CAST(employment IN (3, 4) AS INT)) AS n_formal"),
        F.expr("max(CASE WHEN relationship = 1 THEN education END) AS head_education"),
    )
    hh = hh.join(demo, "hh_idx")
    size = "CAST(hh_size AS DOUBLE)"
    features = {
        "log_hh_size": f"ln({size})",
        "log_floor_area_per_capita": f"ln(floor_area / {size})",
        "share_dependants": f"n_dependants / {size}",
        "head_education": "CAST(head_education AS DOUBLE)",
        "share_working_formal": f"n_formal / {size}",
        "n_disabled": "CAST(n_disabled AS DOUBLE)",
    }
    terms = [_d(INTERCEPT), "province_effect", f"{_d(URBAN_EFFECT)} * CAST(is_urban AS INT)", "district_effect"]
    terms += [f"{_d(beta)} * {features[name]}" for name, beta in DEMOGRAPHIC_EFFECTS.items()]
    terms += [f"({_d(beta)} + {_d(RURAL_ASSET_EFFECTS.get(name, 0.0))} * CAST(NOT is_urban AS INT)) * {name}"
              for name, beta in ASSET_EFFECTS.items()]
    terms += [_effect(name, effects) for name, effects in CATEGORY_EFFECTS.items()]
    hh = _add(hh, {"oracle_log_consumption": " + ".join(f"({t})" for t in terms)})
    hh = _add(hh, {"consumption_per_capita":
                   f"round(exp(oracle_log_consumption + {_d(NOISE_SD)} * {r.normal('consumption', 'hh_idx')}), 0)"})
    return _add(hh, {"log_consumption_per_capita": "ln(consumption_per_capita)"})


# ---------------------------------------------------------------- the landing tables


def survey_households(hh: DataFrame, seed: int) -> DataFrame:
    """Listed households as reported, with household defects applied; keeps hh_idx and hh_defect."""
    r = Draws(seed)
    fake = r.index("fake_village", 1000, "hh_idx")
    fake_village = f"concat(district_code, '9', lpad(CAST({fake} AS STRING), 3, '0'))"
    minutes = "CASE WHEN hh_defect = 'short_interview' THEN short_minutes ELSE interview_minutes END"
    answers = []
    for name in PROXIES:
        template = f"tpl_{name}"
        if name == "floor_area":  # a curbstoner's copied answers: floor area within 2 %
            template = f"round(tpl_floor_area * (0.99D + 0.02D * {r.u('tpl_area', 'hh_idx')}), 1)"
        reported = f"CASE WHEN hh_defect = '{CURBSTONING}' THEN {template} ELSE {name} END"
        if name == "floor_area":
            reported = f"CASE WHEN hh_defect = 'negative_floor_area' THEN -floor_area ELSE {reported} END"
        answers.append(f"{reported} AS {name}")
    no_kk = f"{r.u('kk_missing', 'hh_idx')} < {_d(MISSING_KK_SHARE)}"
    kk = f"CASE WHEN {no_kk} THEN CAST(NULL AS STRING) ELSE kk_number END"
    return hh.filter("listed").selectExpr(
        "hh_idx", "hh_defect", "roster_size", "dup_member_no", "village_code AS true_village_code", "household_id",
        f"CASE WHEN hh_defect = 'unknown_village' THEN {fake_village} ELSE village_code END AS village_code",
        f"{kk} AS kk_number", "enumerator_id", "supervisor_id", "coordinator_id",
        "timestamp_seconds(interview_start_s) AS interview_start",
        f"timestamp_seconds(interview_start_s + CAST(round(({minutes}) * 60) AS BIGINT)) AS interview_end",
        "questionnaire_version", *answers,
    )


def survey_members(people: DataFrame, survey_hh: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Roster rows as reported (with defects) and the duplicate listings' truth rows."""
    rows = people.filter("listed AND (NOT is_dead OR deceased_listed)").selectExpr(
        "household_id", "member_no", "reported_nik AS nik", "full_name", "reported_birth_date AS birth_date",
        "reported_sex AS sex", "relationship", "education", "employment", "disability", "chronic_illness",
        "pregnant", "in_school", "member_defect AS defect",
    )
    # Duplicates: the source member also appears in the partner household (hh_idx xor 1, same village).
    source = people.filter("listed AND member_no = dup_member_no")
    partner = survey_hh.selectExpr(
        "hh_idx AS p_idx", "true_village_code AS p_village", "household_id AS p_household_id",
        "roster_size AS p_roster", "interview_start AS p_start")
    own = survey_hh.selectExpr("hh_idx AS o_idx", "interview_start AS o_start")
    pairs = (
        source.join(partner, (F.col("p_idx") == F.expr("hh_idx ^ 1")) & (F.col("p_village") == F.col("village_code")))
        .join(own, F.col("o_idx") == F.col("hh_idx"))
    )
    extra = pairs.selectExpr(
        "p_household_id AS household_id", "CAST(p_roster + 1 AS INT) AS member_no", "nik", "full_name",
        "birth_date", "sex", "9 AS relationship", "education", "employment", "disability", "chronic_illness",
        "pregnant", "in_school", "CAST(NULL AS STRING) AS defect",
    )
    truth = pairs.selectExpr(  # the older listing is the one the pipeline must flag
        "'survey_members' AS source",
        "CASE WHEN o_start < p_start THEN household_id ELSE p_household_id END AS household_id",
        "CAST(CASE WHEN o_start < p_start THEN member_no ELSE p_roster + 1 END AS INT) AS member_no",
        f"'{DUPLICATE}' AS defect",
    )
    return rows.unionByName(extra), truth


def registry(people: DataFrame) -> DataFrame:
    return people.select(*REGISTRY_COLUMNS)


def training(hh: DataFrame, people: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The consumption-module sample: true answers, own ids ('T...'), weight = 1 / inclusion probability."""
    households_df = hh.filter("in_training").selectExpr(
        "training_id AS household_id", "village_code", "kk_number", "enumerator_id", "supervisor_id",
        "coordinator_id", "timestamp_seconds(training_start_s) AS interview_start",
        "timestamp_seconds(training_start_s + CAST(round(training_minutes * 60) AS BIGINT)) AS interview_end",
        "training_version AS questionnaire_version", *PROXIES, "consumption_per_capita",
        "1.0D / train_pi AS weight",
    )
    members = people.filter("in_training AND NOT is_dead").selectExpr(
        "training_id AS household_id", *MEMBER_COLUMNS[1:])
    return households_df, members


def truth_households(hh: DataFrame) -> DataFrame:
    return hh.filter("listed").select(
        "household_id", "consumption_per_capita", "log_consumption_per_capita", "oracle_log_consumption")


def truth_defects(survey_hh: DataFrame, members: DataFrame, duplicates: DataFrame) -> DataFrame:
    hh_rows = survey_hh.filter("hh_defect IS NOT NULL").selectExpr(
        "'survey_households' AS source", "household_id", "CAST(NULL AS INT) AS member_no", "hh_defect AS defect")
    member_rows = members.filter("defect IS NOT NULL").selectExpr(
        "'survey_members' AS source", "household_id", "member_no", "defect")
    return hh_rows.unionByName(member_rows).unionByName(duplicates)


def materialize(df: DataFrame) -> DataFrame:
    """Compute `df` once and keep its rows (memory, spilling to disk) under a plan that starts from them.

    Why: every landing table reads the same households and persons. A columnar cache spends more on
    encoding and decoding these wide rows than they cost to compute, and it keeps the whole lineage in
    every later plan, so each query that reads it is analysed, optimised and explained again in full.
    Unlike a cache, rows lost with an executor are not recomputed: the query fails and the stage is re-run.
    """
    return df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)


def release(df: DataFrame) -> None:
    """Drop the rows `materialize` kept, now rather than whenever the JVM collects them."""
    df._jdf.queryExecution().analyzed().rdd().unpersist(False)


@dataclass
class Nation:
    """The landing tables (as DataFrames, in contract column order) and what produced them."""

    tables: dict[str, DataFrame]
    keys: dict[str, list[str]]
    plan: Plan
    materialized: list[DataFrame]

    def release(self) -> None:
        """Free the materialized rows once written: under `dtks run` the session goes on to other stages."""
        for df in self.materialized:
            release(df)


# Household columns the landing tables need beyond the village's own (joined back by `slot`).
_DRAW_ONLY = ("u_elderly", "u_head_sex", "u_hh_defect", "head_age_drawn")
# Person columns the landing tables and the household features read.
PERSON_COLUMNS = (
    "hh_idx", "member_no", "household_id", "training_id", "village_code", "kk_number", "listed", "in_training",
    "is_dead", "deceased_listed", "dup_member_no", "nik", "full_name", "birth_date", "sex", "relationship", "age",
    "education", "employment", "disability", "chronic_illness", "pregnant", "in_school", "death_date",
    "updated_at", "reported_nik", "reported_birth_date", "reported_sex", "member_defect",
)


def build(spark: SparkSession, ref: RegionReference, population: pd.DataFrame, households_n: int, seed: int,
          rates: DefectRates, min_interview_minutes: float, training_rate: float = TRAINING_RATE,
          scope: tuple[str, ...] = (), appeal_share: float = 0.0) -> Nation:
    """The whole synthetic nation as DataFrames; nothing that grows with N reaches the driver.

    Households, persons and the consumption truth are computed once each (`materialize`); households
    keep only their own columns, the village's (a few thousand rows) are joined back by broadcast.
    """
    plan = village_plan(ref, population, households_n, seed, rates.curbstoning, scope)
    partitions = max(spark.sparkContext.defaultParallelism, math.ceil(households_n / 50_000))
    villages = F.broadcast(villages_frame(spark, plan, seed))
    every = households(spark, plan, seed, rates, min_interview_minutes, partitions, training_rate)
    own = [c for c in every.columns if c not in villages.columns and c not in _DRAW_ONLY]
    hh_own = materialize(every.select("slot", *own))
    hh = hh_own.join(villages, "slot")
    people = materialize(persons(hh, spark.createDataFrame(plan.districts), seed, rates).select(*PERSON_COLUMNS))
    consumption = materialize(with_consumption(hh, people, seed).select(
        "hh_idx", "household_id", "listed", "consumption_per_capita", "log_consumption_per_capita",
        "oracle_log_consumption"))
    s_hh = survey_households(hh, seed)
    s_members, dup_truth = survey_members(people, s_hh)
    t_hh, t_members = training(hh.join(consumption.select("hh_idx", "consumption_per_capita"), "hh_idx"), people)
    tables = {
        "registry": registry(people),
        "survey_households": s_hh.select(*HOUSEHOLD_HEAD_COLUMNS, *PROXIES),
        "survey_members": s_members.select(*MEMBER_COLUMNS),
        "training_households": t_hh,
        "training_members": t_members,
        "truth/households": truth_households(consumption),
        "truth/defects": truth_defects(s_hh, s_members, dup_truth),
    }
    keys = {
        "registry": ["nik"],
        "survey_households": ["household_id"],
        "survey_members": ["household_id", "member_no"],
        "training_households": ["household_id"],
        "training_members": ["household_id", "member_no"],
        "truth/households": ["household_id"],
        "truth/defects": ["source", "household_id", "member_no", "defect"],
    }
    if appeal_share > 0:
        tables["appeals"], tables["truth/appeals"] = filed_appeals(s_hh, people, Draws(seed), appeal_share,
                                                                   rates.appeal_invalid)
        keys |= {"appeals": ["appeal_id", "filed_at"], "truth/appeals": ["appeal_id"]}
    return Nation(tables, keys, plan, [hh_own, people, consumption])
