"""The household's welfare proxies (floor area, housing materials, water, sanitation, tenure, assets), drawn
from its latent wealth: richer households have better housing and more assets.

Why: the survey's answers for the first round and for the update's re-surveyed and new households.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from jobs.generate.draws import Draws, add_columns, case, clamp, double

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


def _ordered(score: str, cuts: tuple) -> str:
    return case([(f"{score} > {double(cut)}", str(code)) for code, cut in cuts[:-1]], str(cuts[-1][0]))


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
    out["floor_area"] = f"round({clamp(area, 8.0, 1500.0)}, 1)"
    for name, cuts in ORDERED_CUTS.items():
        score = f"(0.8D * {wealth} + 0.6D * {prefix}z_{name} + {double(URBAN_SHIFT.get(name, 0.0))} * {u_num})"
        out[name] = f"CAST({_ordered(score, cuts)} AS INT)"
    t = f"{prefix}u_tenure"
    owned, rented = f"(CASE WHEN {urban} THEN 0.70D ELSE 0.88D END)", f"(CASE WHEN {urban} THEN 0.20D ELSE 0.04D END)"
    out["tenure"] = case([(f"{t} < {owned}", "1"), (f"{t} < {owned} + {rented}", "2"),
                           (f"{t} < {owned} + {rented} + 0.08D", "3")], "4")
    for name, (a, b, shift) in ASSET_MODEL.items():
        out[name] = (f"CAST({double(a)} + {double(b)} * {wealth} + {double(shift)} * {u_num} + {prefix}z_{name} > 0"
                     " AS INT)")
    return out


def with_proxies(df: DataFrame, r: Draws, key: list[str], out_prefix: str, wealth: str, size: str) -> DataFrame:
    draws = proxy_draws(r, key, "d_")
    df = add_columns(df, draws)
    answers = proxies("d_", wealth, "is_urban", size)
    return add_columns(df, {f"{out_prefix}{k}": v for k, v in answers.items()}).drop(*draws)
