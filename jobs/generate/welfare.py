"""The welfare truth: log consumption per capita as a fixed linear formula of the household's proxies and
members, province, urban and district effects, plus Gaussian noise.

Why: the known answer models are measured against; `oracle_log_consumption` is the formula without noise.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from jobs.generate.draws import Draws, add_columns, case, double

NOISE_SD = 0.35  # sd of log consumption around the oracle formula
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


def _effect(col: str, effects: dict[int, float]) -> str:
    return case([(f"{col} = {code}", double(value)) for code, value in effects.items()], "0.0D")


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
    terms = [double(INTERCEPT), "province_effect", f"{double(URBAN_EFFECT)} * CAST(is_urban AS INT)", "district_effect"]
    terms += [f"{double(beta)} * {features[name]}" for name, beta in DEMOGRAPHIC_EFFECTS.items()]
    terms += [f"({double(beta)} + {double(RURAL_ASSET_EFFECTS.get(name, 0.0))} * CAST(NOT is_urban AS INT)) * {name}"
              for name, beta in ASSET_EFFECTS.items()]
    terms += [_effect(name, effects) for name, effects in CATEGORY_EFFECTS.items()]
    hh = add_columns(hh, {"oracle_log_consumption": " + ".join(f"({t})" for t in terms)})
    hh = add_columns(hh, {"consumption_per_capita":
                   f"round(exp(oracle_log_consumption + {double(NOISE_SD)} * {r.normal('consumption', 'hh_idx')}), 0)"})
    return add_columns(hh, {"log_consumption_per_capita": "ln(consumption_per_capita)"})
