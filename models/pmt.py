"""The estimators: a ridge PMT with region effects, a quantile-regression PMT on the same design, and a
gradient-boosting alternative.

Both fit on a pandas frame on the driver. The training table is the consumption-module sample (a
few per cent of households), so collecting it is cheap; scoring never collects (see compile.py and
pyfunc.py). Both predict log per-capita consumption from `FeatureSpec.input_columns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.features import FeatureSpec
from runtime.config import ModelConfig
from runtime.questionnaire import PROVINCE, URBAN

# A factor is (column, level): level None means the column's numeric value, otherwise the
# indicator column == level. A term is the product of its factors.
Factor = tuple[str, Any]


@dataclass(frozen=True)
class Term:
    name: str
    factors: tuple[Factor, ...]
    group: str  # feature | region, decides the penalty


def _column_values(frame: pd.DataFrame, factor: Factor) -> np.ndarray:
    column, level = factor
    values = frame[column]
    if level is None:
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    if column == URBAN:
        return (values.astype("boolean").fillna(False).to_numpy(dtype=bool) == bool(level)).astype(np.float64)
    return (values == level).to_numpy(dtype=bool, na_value=False).astype(np.float64)


def design_terms(spec: FeatureSpec, provinces: list[str], urban_slopes: bool) -> list[Term]:
    """The design's terms: fixed by the spec and the provinces seen in training, not by the data's codes.

    Region effects are province dummies (no reference: the ridge penalty keeps them identified and
    an unseen province gets the national average), an urban dummy, province x urban interactions
    and, optionally, urban-specific slopes of the numeric features.
    """
    terms = [Term(name, ((name, None),), "feature") for name in spec.numeric]
    for name, codes in spec.categorical:
        terms += [Term(f"{name}={code}", ((name, code),), "feature") for code in codes[1:]]
    has_province = PROVINCE in spec.region_effects
    has_urban = URBAN in spec.region_effects
    if has_province:
        terms += [Term(f"{PROVINCE}={p}", ((PROVINCE, p),), "region") for p in provinces]
    if has_urban:
        terms.append(Term(f"{URBAN}", ((URBAN, True),), "region"))
    if has_province and has_urban:
        terms += [Term(f"{PROVINCE}={p}:{URBAN}", ((PROVINCE, p), (URBAN, True)), "region") for p in provinces]
    if has_urban and urban_slopes:
        terms += [Term(f"{URBAN}:{name}", ((URBAN, True), (name, None)), "slope") for name in spec.numeric]
    return terms


def design_matrix(frame: pd.DataFrame, terms: list[Term]) -> np.ndarray:
    matrix = np.empty((len(frame), len(terms)), dtype=np.float64)
    cache: dict[Factor, np.ndarray] = {}
    for j, term in enumerate(terms):
        col = np.ones(len(frame), dtype=np.float64)
        for factor in term.factors:
            if factor not in cache:
                cache[factor] = _column_values(frame, factor)
            col = col * cache[factor]
        matrix[:, j] = col
    return matrix


def _design(frame: pd.DataFrame, weight: np.ndarray, spec: FeatureSpec,
            params: ModelConfig) -> tuple[list[Term], np.ndarray, np.ndarray, np.ndarray]:
    """The linear families' terms (provinces as seen in training), design matrix, target and weights (mean 1)."""
    provinces = sorted(frame[PROVINCE].astype(str).unique()) if PROVINCE in spec.region_effects else []
    terms = design_terms(spec, provinces, params.urban_slopes)
    w = np.asarray(weight, dtype=np.float64)
    return terms, design_matrix(frame, terms), frame[spec.target].to_numpy(dtype=np.float64), w / w.mean()


@dataclass
class LinearPMT:
    """prediction = intercept + sum(coef * term): linear, so it compiles to a Spark expression."""

    spec: FeatureSpec
    terms: list[Term]
    intercept: float = 0.0
    coef: np.ndarray = field(default_factory=lambda: np.zeros(0))
    family: str = "pmt_linear"

    @classmethod
    def fit(cls, frame: pd.DataFrame, weight: np.ndarray, spec: FeatureSpec, params: ModelConfig) -> LinearPMT:
        """Weighted ridge, solved in closed form with an unpenalised intercept.

        Weights are scaled to mean 1, so a penalty reads as pseudo-observations: a province
        effect is shrunk towards zero by about n_p / (n_p + region_alpha). Numeric columns are
        penalised on their standardised scale (penalty x variance), indicators as they are.
        """
        terms, x, y, w = _design(frame, weight, spec, params)
        x_mean = w @ x / w.sum()
        y_mean = w @ y / w.sum()
        xc = x - x_mean
        var = w @ (xc**2) / w.sum()
        penalty = np.empty(len(terms))
        for j, term in enumerate(terms):
            numeric = any(level is None for _, level in term.factors)
            alpha = params.ridge_alpha if term.group == "feature" else params.region_alpha
            penalty[j] = alpha * var[j] if numeric else alpha
        penalty = np.maximum(penalty, 1e-8)
        gram = xc.T @ (xc * w[:, None]) + np.diag(penalty)
        coef = np.linalg.solve(gram, xc.T @ (w * (y - y_mean)))
        return cls(spec=spec, terms=terms, intercept=float(y_mean - x_mean @ coef), coef=coef)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.intercept + design_matrix(frame, self.terms) @ self.coef

    def coefficients(self) -> pd.DataFrame:
        rows = [("(intercept)", "intercept", self.intercept)]
        rows += [(t.name, t.group, float(c)) for t, c in zip(self.terms, self.coef, strict=True)]
        return pd.DataFrame(rows, columns=["term", "group", "coefficient"])

    def params(self) -> dict[str, Any]:
        return {"n_terms": len(self.terms)}


@dataclass
class GradientBoostingPMT:
    """scikit-learn HistGradientBoostingRegressor on the same inputs; categorical codes kept native.

    Provinces are mapped to the index of the sorted training provinces; an unseen province is
    treated as missing, which the trees route like the training data's missing values.
    """

    spec: FeatureSpec
    provinces: list[str]
    estimator: Any
    family: str = "gradient_boosting"

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        cols = [frame[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in self.spec.numeric]
        cols += [frame[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in self.spec.categorical_names]
        if PROVINCE in self.spec.region_effects:
            index = {p: float(i) for i, p in enumerate(self.provinces)}
            cols.append(frame[PROVINCE].astype(str).map(index).to_numpy(dtype=np.float64, na_value=np.nan))
        if URBAN in self.spec.region_effects:
            cols.append(frame[URBAN].astype("boolean").to_numpy(dtype=np.float64, na_value=np.nan))
        return np.column_stack(cols)

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, weight: np.ndarray, spec: FeatureSpec, params: ModelConfig
    ) -> GradientBoostingPMT:
        from sklearn.ensemble import HistGradientBoostingRegressor

        provinces = sorted(frame[PROVINCE].astype(str).unique()) if PROVINCE in spec.region_effects else []
        n_num, n_cat = len(spec.numeric), len(spec.categorical_names)
        mask = [False] * n_num + [True] * n_cat
        mask += [True] if PROVINCE in spec.region_effects else []
        mask += [False] if URBAN in spec.region_effects else []
        estimator = HistGradientBoostingRegressor(
            max_iter=params.gbm_max_iter,
            learning_rate=params.gbm_learning_rate,
            max_leaf_nodes=params.gbm_max_leaf_nodes,
            categorical_features=np.array(mask),
            early_stopping=False,
            random_state=params.seed,
        )
        model = cls(spec=spec, provinces=provinces, estimator=estimator)
        y = frame[spec.target].to_numpy(dtype=np.float64)
        estimator.fit(model._matrix(frame), y, sample_weight=np.asarray(weight, dtype=np.float64))
        return model

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict(self._matrix(frame)).astype(np.float64)

    def params(self) -> dict[str, Any]:
        return {"n_provinces": len(self.provinces)}


@dataclass
class QuantilePMT(LinearPMT):
    """A low conditional quantile of log consumption per capita, on the linear PMT's design (region effects
    included): linear in its terms, so it compiles and explains like the linear PMT.

    Fitted by scikit-learn's QuantileRegressor (HiGHS linear programme) with an L1 penalty. Numeric terms are
    standardised before the fit, so one penalty reads alike on every term, and mapped back after it.
    """

    family: str = "pmt_quantile"
    quantile: float = 0.2

    @classmethod
    def fit(cls, frame: pd.DataFrame, weight: np.ndarray, spec: FeatureSpec, params: ModelConfig) -> QuantilePMT:
        from sklearn.linear_model import QuantileRegressor

        terms, x, y, w = _design(frame, weight, spec, params)
        numeric = np.array([any(level is None for _, level in t.factors) for t in terms], dtype=bool)
        center = np.where(numeric, x.mean(axis=0), 0.0)
        scale = np.where(numeric, x.std(axis=0), 1.0)
        scale[scale == 0] = 1.0
        estimator = QuantileRegressor(quantile=params.quantile, alpha=params.quantile_alpha, solver="highs")
        estimator.fit((x - center) / scale, y, sample_weight=w)
        coef = estimator.coef_ / scale
        intercept = float(estimator.intercept_ - center @ coef)
        return cls(spec=spec, terms=terms, intercept=intercept, coef=coef, quantile=params.quantile)

    def params(self) -> dict[str, Any]:
        return {"n_terms": len(self.terms), "n_nonzero_terms": int(np.count_nonzero(self.coef))}


Estimator = LinearPMT | QuantilePMT | GradientBoostingPMT
FAMILIES: dict[str, type] = {"pmt_linear": LinearPMT, "pmt_quantile": QuantilePMT,
                             "gradient_boosting": GradientBoostingPMT}


def fit(family: str, frame: pd.DataFrame, weight: np.ndarray, spec: FeatureSpec, params: ModelConfig) -> Estimator:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; expected one of {sorted(FAMILIES)}")
    return FAMILIES[family].fit(frame, weight, spec, params)
