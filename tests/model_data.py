"""A small synthetic `silver_training` frame with a known generating formula, for the model tests.

Columns follow docs/CONTRACTS.md (silver_training), plus the truth: `log_consumption_per_capita`
(formula + noise) and `oracle_log_consumption` (the formula without noise). Used until the
generator and ingest exist, and kept afterwards because the formula is known exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# province -> (share of households, effect); one small province to exercise the shrinkage
PROVINCES = {"11": (0.20, -0.10), "32": (0.30, 0.15), "33": (0.20, 0.0), "52": (0.15, -0.20), "94": (0.10, -0.35),
             "64": (0.05, 0.25)}
URBAN_EFFECT = 0.20
NUMERIC_EFFECTS = {
    "log_hh_size": -0.35, "log_floor_area_per_capita": 0.25, "dependency_ratio": -0.10, "share_children_u5": -0.20,
    "share_elderly": -0.05, "n_disabled": -0.05, "head_female": -0.05, "head_age": 0.002, "head_education": 0.08,
    "share_working_formal": 0.25, "refrigerator": 0.15, "motorcycle": 0.10, "car": 0.35, "air_conditioner": 0.25,
    "gold": 0.10, "land": 0.05, "livestock": 0.03, "computer": 0.20,
}
CATEGORICAL_LEVELS = {"floor_material": 7, "wall_material": 5, "roof_material": 5, "water_source": 5, "sanitation": 4,
                      "lighting": 4, "cooking_fuel": 4, "tenure": 4}


def make_training_frame(n: int = 3000, seed: int = 7, noise_sd: float = 0.30, prefix: str = "T") -> pd.DataFrame:
    """Households with correlated features, a known log-linear consumption formula and sampling weights."""
    rng = np.random.default_rng(seed)
    codes = list(PROVINCES)
    shares = np.array([PROVINCES[p][0] for p in codes])
    province = rng.choice(codes, size=n, p=shares / shares.sum())
    is_urban = rng.random(n) < 0.45
    latent = rng.normal(size=n) + 0.5 * is_urban  # wealth drives assets and housing

    def binary(strength: float, base: float) -> np.ndarray:
        return (rng.random(n) < 1 / (1 + np.exp(-(base + strength * latent)))).astype(np.int32)

    hh_size = np.clip(rng.poisson(np.clip(3.8 - 0.4 * latent, 1.0, None)), 1, 12).astype(np.int32)
    n_u5 = rng.binomial(np.maximum(hh_size - 1, 0), 0.15).astype(np.int32)
    n_elderly = rng.binomial(hh_size, 0.08).astype(np.int32)
    n_school = rng.binomial(np.maximum(hh_size - 1 - n_u5, 0), 0.3).astype(np.int32)
    floor_area = np.clip(np.exp(3.8 + 0.35 * latent + rng.normal(0, 0.3, n)), 6, 1500)
    working_age = np.maximum(hh_size - n_u5 - n_elderly - n_school, 1)
    df = pd.DataFrame({
        "household_id": [f"{prefix}{i:06d}" for i in range(n)],
        "province_code": province,
        "is_urban": is_urban,
        "hh_size": hh_size,
        "floor_area": np.round(floor_area, 1),
        "n_children_u5": n_u5,
        "n_children_u6": n_u5 + rng.binomial(n_school, 0.1).astype(np.int32),
        "n_school_age": n_school,
        "n_elderly": n_elderly,
        "n_disabled": rng.binomial(hh_size, 0.03).astype(np.int32),
        "n_pregnant": rng.binomial(1, 0.05, n).astype(np.int32),
        "head_female": rng.binomial(1, 0.15, n).astype(np.int32),
        "head_age": rng.integers(20, 80, n).astype(np.int32),
        "head_education": np.clip(np.round(1.8 + 0.8 * latent + rng.normal(0, 0.7, n)), 0, 4).astype(np.int32),
    })
    df["n_severe_disabled"] = rng.binomial(df["n_disabled"], 0.3).astype(np.int32)
    df["log_hh_size"] = np.log(hh_size)
    df["floor_area_per_capita"] = df["floor_area"] / hh_size
    df["log_floor_area_per_capita"] = np.log(df["floor_area_per_capita"])
    df["dependency_ratio"] = (n_u5 + n_school + n_elderly) / working_age
    df["share_children_u5"] = n_u5 / hh_size
    df["share_elderly"] = n_elderly / hh_size
    formal = rng.binomial(working_age, 1 / (1 + np.exp(-(latent - 0.5))))
    df["share_working_formal"] = np.clip(formal / working_age, 0, 1)
    for name, base in (("refrigerator", 0.3), ("motorcycle", 0.8), ("car", -2.0), ("air_conditioner", -1.5),
                       ("gold", -0.5), ("land", 0.0), ("livestock", -0.3), ("computer", -1.2)):
        df[name] = binary(1.2, base)
    for name, levels in CATEGORICAL_LEVELS.items():
        # better material/source = lower code, more likely for wealthier households
        raw = (levels - 1) / 2 - 0.9 * latent + rng.normal(0, 1.0, n)
        df[name] = np.clip(np.round(raw) + 1, 1, levels).astype(np.int32)

    oracle = 13.3 + np.array([PROVINCES[p][1] for p in province]) + URBAN_EFFECT * is_urban
    oracle = oracle + 0.10 * is_urban * np.isin(province, ["32", "64"])  # a province x urban interaction
    for name, beta in NUMERIC_EFFECTS.items():
        oracle = oracle + beta * df[name].to_numpy(dtype=float)
    for name, levels in CATEGORICAL_LEVELS.items():
        effects = -np.linspace(0.0, 0.06 * (levels - 1), levels)  # code 1 best
        oracle = oracle + effects[df[name].to_numpy() - 1]
    log_c = oracle + rng.normal(0, noise_sd, n)

    regency = np.where(is_urban, "71", "01")
    village_part = np.where(is_urban, "1001", "2001")
    start = pd.Timestamp("2025-08-01 08:00:00") + pd.to_timedelta(rng.integers(0, 60 * 24 * 30, n), unit="m")
    df = df.assign(
        village_code=[f"{p}{r}01{v}" for p, r, v in zip(province, regency, village_part, strict=True)],
        regency_code=[f"{p}{r}" for p, r in zip(province, regency, strict=True)],
        district_code=[f"{p}{r}01" for p, r in zip(province, regency, strict=True)],
        kk_number=[f"{p}{r}01{i:010d}" for i, (p, r) in enumerate(zip(province, regency, strict=True))],
        enumerator_id=[f"E{p}{i % 7}" for i, p in enumerate(province)],
        supervisor_id=[f"S{p}" for p in province],
        coordinator_id=[f"C{p}" for p in province],
        interview_start=start,
        interview_end=start + pd.Timedelta(minutes=35),
        interview_date=[d.date() for d in start],
        questionnaire_version="VV2025.2",
        consumption_per_capita=np.exp(log_c),
        log_consumption_per_capita=log_c,
        weight=np.round(rng.uniform(20, 200, n) * np.where(is_urban, 0.8, 1.2), 3),
        oracle_log_consumption=oracle,
    )
    return df


def write_training_table(spark, config, frame: pd.DataFrame) -> int:
    """Write the frame as the `silver_training` Delta table; returns the table version."""
    from runtime import tables

    tables.overwrite(spark.createDataFrame(frame), config, tables.TRAINING)
    return tables.version(spark, config, tables.TRAINING)


def degraded_questionnaire(conf_dir: str, target_dir, numeric: list[str]) -> str:
    """A copy of the questionnaire whose model keeps only `numeric` (no categorical, no region effects)."""
    import pathlib

    import yaml

    data = yaml.safe_load((pathlib.Path(conf_dir) / "questionnaire.yaml").read_text())
    data["model"] = {"target": data["model"]["target"], "numeric": numeric, "categorical": [], "region_effects": []}
    path = pathlib.Path(target_dir) / "questionnaire_degraded.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)

