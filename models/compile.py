"""A linear PMT compiled to a native Spark Column: scoring without Python UDFs or collecting.

The expression is intercept + sum(coefficient x term). Indicator terms on the same columns are
grouped into one CASE WHEN chain (e.g. one chain per categorical variable, one for province, one
for province x urban) so the plan stays small. Non-linear families return None: the scorer then
uses mlflow.pyfunc.spark_udf on the same model.

Nulls (ingest guarantees none): a null numeric feature makes the score null; a null categorical or
province matches no WHEN branch and counts as the reference level, as in pyfunc predict.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F  # noqa: N812

from models.pmt import LinearPMT
from models.pyfunc import unwrap


def _condition(column: str, level: Any) -> Column:
    if isinstance(level, bool):
        return F.col(column) if level else ~F.col(column)
    return F.col(column) == F.lit(level)


def linear_expression(model: LinearPMT) -> Column:
    """The prediction of a fitted LinearPMT as a Spark Column over the feature columns."""
    # group terms by (indicator columns, numeric columns): one CASE per group
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[tuple[Any, ...], float]]] = defaultdict(list)
    for term, coef in zip(model.terms, model.coef, strict=True):
        indicators = tuple((c, lvl) for c, lvl in term.factors if lvl is not None)
        numerics = tuple(c for c, lvl in term.factors if lvl is None)
        key = (tuple(c for c, _ in indicators), numerics)
        groups[key].append((tuple(lvl for _, lvl in indicators), float(coef)))
    expr: Column = F.lit(float(model.intercept))
    for (ind_cols, num_cols), entries in groups.items():
        factor: Column | None = None
        for col in num_cols:
            value = F.col(col).cast("double")
            factor = value if factor is None else factor * value
        if not ind_cols:
            # plain numeric terms: one per group (a numeric column appears once)
            for _, coef in entries:
                expr = expr + F.lit(coef) * factor
            continue
        chain: Column | None = None
        for levels, coef in entries:
            cond = _condition(ind_cols[0], levels[0])
            for col, lvl in zip(ind_cols[1:], levels[1:], strict=True):
                cond = cond & _condition(col, lvl)
            chain = F.when(cond, F.lit(coef)) if chain is None else chain.when(cond, F.lit(coef))
        case = chain.otherwise(F.lit(0.0))
        expr = expr + (case if factor is None else case * factor)
    return expr


def spark_expression(model_uri_or_loaded_model: Any) -> Column | None:
    """Native Spark Column for a linear PMT (URI, loaded pyfunc model or wrapper); None otherwise."""
    wrapper = unwrap(model_uri_or_loaded_model)
    if wrapper is None or not isinstance(wrapper.estimator, LinearPMT):
        return None
    return linear_expression(wrapper.estimator)
