"""A linear PMT compiled to a native Spark Column: scoring without Python UDFs or collecting.

The expression is intercept + sum(coefficient x term). Indicator terms on the same columns are
grouped into one CASE WHEN chain (e.g. one chain per categorical variable, one for province, one
for province x urban) so the plan stays small. Non-linear families return None: the scorer then
uses mlflow.pyfunc.spark_udf on the same model. The same sums, by feature group, explain a linear
PMT's score: the intercept plus the groups' contributions is the prediction.

Nulls (ingest guarantees none): a null numeric feature makes the score null; a null categorical or
province matches no WHEN branch and counts as the reference level, as in pyfunc predict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F  # noqa: N812

from models.pmt import LinearPMT, Term
from models.pyfunc import unwrap
from runtime.questionnaire import PROVINCE, URBAN


def _condition(column: str, level: Any) -> Column:
    if isinstance(level, bool):
        return F.col(column) if level else ~F.col(column)
    return F.col(column) == F.lit(level)


def _grouped_terms(model: LinearPMT, group_of: Callable[[Term], str]) -> dict[str, Column]:
    """Sum of coefficient x term per group of terms. Indicator terms on the same columns (within a group)
    form one CASE WHEN chain, e.g. one per categorical variable, one for province, one for province x urban,
    so the plan stays small."""
    # (group, indicator columns, numeric columns) -> [(levels, coefficient)]
    chains: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[tuple[tuple[Any, ...], float]]] = defaultdict(list)
    for term, coef in zip(model.terms, model.coef, strict=True):
        indicators = tuple((c, lvl) for c, lvl in term.factors if lvl is not None)
        numerics = tuple(c for c, lvl in term.factors if lvl is None)
        chains[(group_of(term), tuple(c for c, _ in indicators), numerics)].append(
            (tuple(lvl for _, lvl in indicators), float(coef)))
    sums: dict[str, Column] = {}
    for (group, ind_cols, num_cols), entries in chains.items():
        factor: Column | None = None
        for col in num_cols:
            value = F.col(col).cast("double")
            factor = value if factor is None else factor * value
        parts: list[Column] = []
        if not ind_cols:
            # plain numeric terms: one per chain (a numeric column appears once)
            parts = [F.lit(coef) * factor for _, coef in entries]
        else:
            chain: Column | None = None
            for levels, coef in entries:
                cond = _condition(ind_cols[0], levels[0])
                for col, lvl in zip(ind_cols[1:], levels[1:], strict=True):
                    cond = cond & _condition(col, lvl)
                chain = F.when(cond, F.lit(coef)) if chain is None else chain.when(cond, F.lit(coef))
            case = chain.otherwise(F.lit(0.0))
            parts = [case if factor is None else case * factor]
        for part in parts:
            sums[group] = part if group not in sums else sums[group] + part
    return sums


def linear_expression(model: LinearPMT) -> Column:
    """The prediction of a fitted LinearPMT as a Spark Column over the feature columns."""
    expr: Column = F.lit(float(model.intercept))
    for part in _grouped_terms(model, lambda _: "").values():
        expr = expr + part
    return expr


def term_group(term: Term, group_of: Mapping[str, str]) -> str:
    """The feature group a term belongs to: its feature's (an urban slope of a feature is that feature's),
    and a pure region term (province, urban, province x urban) the region columns' group."""
    features = [c for c, _ in term.factors if c not in (PROVINCE, URBAN)]
    return group_of[features[0] if features else term.factors[0][0]]


def linear_contributions(model: LinearPMT, group_of: Mapping[str, str]) -> Column:
    """array<struct<group, value>> of a fitted LinearPMT, one entry per group of `group_of` in its order
    (0.0 when none of a group's terms is in the model): the intercept plus the values is its prediction.
    An array, not a map, so the column can be sorted, hashed and compared like any other."""
    sums = _grouped_terms(model, lambda term: term_group(term, group_of))
    groups = list(dict.fromkeys(group_of.values()))
    return F.array(*[F.struct(F.lit(g).alias("group"), sums.get(g, F.lit(0.0)).cast("double").alias("value"))
                     for g in groups])


def explanation(model_uri_or_loaded_model: Any, group_of: Mapping[str, str]) -> tuple[Column, float] | None:
    """The contributions Column and the intercept of a linear PMT; None for a family dtks cannot explain."""
    wrapper = unwrap(model_uri_or_loaded_model)
    if wrapper is None or not isinstance(wrapper.estimator, LinearPMT):
        return None
    return linear_contributions(wrapper.estimator, group_of), float(wrapper.estimator.intercept)


def spark_expression(model_uri_or_loaded_model: Any) -> Column | None:
    """Native Spark Column for a linear PMT (URI, loaded pyfunc model or wrapper); None otherwise."""
    wrapper = unwrap(model_uri_or_loaded_model)
    if wrapper is None or not isinstance(wrapper.estimator, LinearPMT):
        return None
    return linear_expression(wrapper.estimator)
