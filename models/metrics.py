"""Targeting quality of a welfare score (BRIEF §8), measured on held-out households.

Everything is person-weighted (hh_size x sampling weight), as the national deciles are:
- "poor" at coverage X = truly in the bottom X % of persons by true per-capita consumption;
- "selected" at coverage X = in the bottom X % of persons by predicted score.
Two conventions are reported, each under its own name:
- `inclusion_error_X`  share of the selected who are not poor        (BRIEF §8)
- `exclusion_error_X`  share of the poor who are not selected        (BRIEF §8, Alatas et al.)
- `inclusion_error_nonpoor_X`  share of the non-poor who are selected (Alatas et al. 2012 style)
- `exclusion_error_unselected_X`  share of the not-selected who are poor
Province figures use the *national* poor/selected flags, restricted to the province's households:
how well national targeting serves that province.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COVERAGES = (0.40, 0.60)
CURVE_COVERAGES = tuple(round(0.1 * k, 1) for k in range(1, 10))
LOWER_IS_BETTER = {"inclusion_error", "exclusion_error", "inclusion_error_nonpoor", "exclusion_error_unselected"}

DEFINITIONS = {
    "r2": "weighted R^2 of predicted vs true log per-capita consumption (household sampling weights)",
    "spearman": "person-weighted Spearman rank correlation of predicted vs true per-capita consumption",
    "inclusion_error_X": "share of the selected (predicted bottom X% of persons) who are not poor (true bottom X%)",
    "exclusion_error_X": "share of the poor (true bottom X% of persons) who are not selected (predicted bottom X%)",
    "inclusion_error_nonpoor_X": "other convention: share of the non-poor who are selected",
    "exclusion_error_unselected_X": "other convention: share of the not-selected who are poor",
    "bottom_decile_overlap": "share of the true bottom decile (persons) also in the predicted bottom decile",
    "oracle_spearman": "Spearman of the noise-free generating formula with true consumption (synthetic data only)",
    "spearman_oracle_ratio": "spearman / oracle_spearman",
}


def higher_is_better(metric: str) -> bool:
    base = metric.rsplit("_", 1)[0] if metric[-1].isdigit() else metric
    return base not in LOWER_IS_BETTER


def bottom_share(score: np.ndarray, pop_weight: np.ndarray, coverage: float, tiebreak: np.ndarray) -> np.ndarray:
    """Households whose cumulative population share (ranked by score ascending) is <= coverage.

    Same rule as the national ranking (BRIEF §6): ties broken by household id.
    """
    order = np.lexsort((tiebreak, score))
    cum = np.cumsum(pop_weight[order]) / pop_weight.sum()
    flags = np.zeros(len(score), dtype=bool)
    flags[order] = cum <= coverage + 1e-12
    return flags


def _share(w: np.ndarray, numerator: np.ndarray, denominator: np.ndarray) -> float:
    total = w[denominator].sum()
    return float(w[numerator & denominator].sum() / total) if total > 0 else float("nan")


def targeting_errors(poor: np.ndarray, selected: np.ndarray, w: np.ndarray, suffix: str) -> dict[str, float]:
    return {
        f"inclusion_error_{suffix}": _share(w, ~poor, selected),
        f"exclusion_error_{suffix}": _share(w, ~selected, poor),
        f"inclusion_error_nonpoor_{suffix}": _share(w, selected, ~poor),
        f"exclusion_error_unselected_{suffix}": _share(w, poor, ~selected),
    }


def weighted_rank(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mid-point cumulative weight share: the weighted analogue of a (mid-)rank."""
    order = np.argsort(values, kind="stable")
    sorted_vals, sorted_w = values[order], w[order]
    cum = np.cumsum(sorted_w)
    mid = cum - sorted_w / 2
    # average over ties so equal values get equal ranks
    _, start = np.unique(sorted_vals, return_index=True)
    end = np.r_[start[1:], len(sorted_vals)]
    for s, e in zip(start, end, strict=True):
        if e - s > 1:
            mid[s:e] = (cum[e - 1] - cum[s] + sorted_w[s]) / 2 + (cum[s] - sorted_w[s])
    ranks = np.empty_like(mid)
    ranks[order] = mid / cum[-1]
    return ranks


def weighted_corr(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    if len(a) < 2:
        return float("nan")
    ma, mb = np.average(a, weights=w), np.average(b, weights=w)
    cov = np.average((a - ma) * (b - mb), weights=w)
    va, vb = np.average((a - ma) ** 2, weights=w), np.average((b - mb) ** 2, weights=w)
    return float(cov / np.sqrt(va * vb)) if va > 0 and vb > 0 else float("nan")


def weighted_spearman(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    return weighted_corr(weighted_rank(a, w), weighted_rank(b, w), w)


def weighted_r2(y: np.ndarray, pred: np.ndarray, w: np.ndarray) -> float:
    if len(y) < 2:
        return float("nan")
    ss_res = np.sum(w * (y - pred) ** 2)
    ss_tot = np.sum(w * (y - np.average(y, weights=w)) ** 2)
    return float(1 - ss_res / ss_tot) if ss_tot > 0 else float("nan")


def _flags(frame: pd.DataFrame, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    pop, ids = frame["pop_weight"].to_numpy(), frame["household_id"].astype(str).to_numpy()
    poor = bottom_share(frame["y_true"].to_numpy(), pop, coverage, ids)
    selected = bottom_share(frame["y_pred"].to_numpy(), pop, coverage, ids)
    return poor, selected


def _block(frame: pd.DataFrame, flags: dict[float, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    y, pred = frame["y_true"].to_numpy(), frame["y_pred"].to_numpy()
    w, pop = frame["weight"].to_numpy(), frame["pop_weight"].to_numpy()
    out = {"n": float(len(frame)), "r2": weighted_r2(y, pred, w), "spearman": weighted_spearman(y, pred, pop)}
    for coverage in COVERAGES:
        poor, selected = flags[coverage]
        out.update(targeting_errors(poor, selected, pop, f"{round(coverage * 100)}"))
    poor, selected = flags[0.1]
    out["bottom_decile_overlap"] = _share(pop, selected, poor)
    return out


def evaluation_frame(
    household_id: pd.Series, province: pd.Series, y_true: np.ndarray, y_pred: np.ndarray,
    weight: np.ndarray, hh_size: np.ndarray,
) -> pd.DataFrame:
    return pd.DataFrame({
        "household_id": household_id.astype(str).to_numpy(),
        "province_code": province.astype(str).to_numpy(),
        "y_true": np.asarray(y_true, dtype=np.float64),
        "y_pred": np.asarray(y_pred, dtype=np.float64),
        "weight": np.asarray(weight, dtype=np.float64),
        "pop_weight": np.asarray(hh_size, dtype=np.float64) * np.asarray(weight, dtype=np.float64),
    })


def evaluate(frame: pd.DataFrame) -> tuple[dict[str, float], pd.DataFrame]:
    """Overall metrics and a per-province table, from an `evaluation_frame`."""
    flags = {c: _flags(frame, c) for c in (*COVERAGES, 0.1)}
    overall = _block(frame, flags)
    rows = []
    for province, idx in frame.groupby("province_code").indices.items():
        sub = {c: (p[idx], s[idx]) for c, (p, s) in flags.items()}
        rows.append({"province_code": province, **_block(frame.iloc[idx], sub)})
    by_province = pd.DataFrame(rows).sort_values("province_code").reset_index(drop=True)
    return overall, by_province


def targeting_curve(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    pop = frame["pop_weight"].to_numpy()
    for coverage in CURVE_COVERAGES:
        poor, selected = _flags(frame, coverage)
        errors = targeting_errors(poor, selected, pop, "x")
        rows.append({"coverage": coverage, **{k.removesuffix("_x"): v for k, v in errors.items()}})
    return pd.DataFrame(rows)


def calibration(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean predicted and mean true log consumption by predicted (person-weighted) decile."""
    pop = frame["pop_weight"].to_numpy()
    order = np.lexsort((frame["household_id"].to_numpy(), frame["y_pred"].to_numpy()))
    cum = np.empty(len(frame))
    cum[order] = np.cumsum(pop[order]) / pop.sum()
    decile = np.clip(np.ceil(cum * 10), 1, 10).astype(int)
    df = frame.assign(decile=decile)
    df = df.assign(wp=df["y_pred"] * df["pop_weight"], wt=df["y_true"] * df["pop_weight"])
    sums = df.groupby("decile")[["wp", "wt", "pop_weight"]].sum()
    return pd.DataFrame({
        "mean_predicted": sums["wp"] / sums["pop_weight"],
        "mean_true": sums["wt"] / sums["pop_weight"],
        "persons": sums["pop_weight"],
    }).reset_index()


def evaluate_subgroups(frame: pd.DataFrame, groups: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per subgroup (boolean masks over the frame's rows): its households, persons and the targeting errors of
    both conventions at each coverage, on the *national* poor and selected flags restricted to the subgroup,
    as for provinces."""
    flags = {c: _flags(frame, c) for c in COVERAGES}
    pop = frame["pop_weight"].to_numpy()
    rows = []
    for name, mask in groups.items():
        row: dict[str, float | str] = {"subgroup": name, "n": float(mask.sum()), "persons": float(pop[mask].sum())}
        for coverage, (poor, selected) in flags.items():
            row.update(targeting_errors(poor[mask], selected[mask], pop[mask], f"{round(coverage * 100)}"))
        rows.append(row)
    return pd.DataFrame(rows)


def subgroup_metrics(by_subgroup: pd.DataFrame) -> dict[str, float]:
    """The subgroup table as flat MLflow metrics: `subgroup_<name>_<metric>`, and `subgroup_<name>_n` held out."""
    out: dict[str, float] = {}
    errors = [c for c in by_subgroup.columns if c not in ("subgroup", "persons")]
    for row in by_subgroup.to_dict("records"):
        out.update({f"subgroup_{row['subgroup']}_{c}": float(row[c]) for c in errors})
    return out


def worst_subgroup(metrics: dict[str, float], metric: str, subgroups: list[str],
                   min_households: int) -> tuple[str, float] | None:
    """The subgroup with the highest `metric` among those with at least `min_households` held out (fewer
    give too noisy an error to judge a model by), from flat metrics as `subgroup_metrics` names them."""
    found = [(name, metrics[f"subgroup_{name}_{metric}"]) for name in subgroups
             if metrics.get(f"subgroup_{name}_n", 0) >= min_households
             and np.isfinite(metrics.get(f"subgroup_{name}_{metric}", np.nan))]
    return max(found, key=lambda x: x[1]) if found else None
