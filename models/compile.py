"""A linear PMT compiled to a native Spark Column (built as SQL text): scoring without Python UDFs or collecting.

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
from runtime import sql
from runtime.questionnaire import PROVINCE, URBAN


def _condition(column: str, level: Any) -> str:
    if isinstance(level, bool):
        return sql.ident(column) if level else f"NOT {sql.ident(column)}"
    return f"{sql.ident(column)} = {sql.literal(level)}"


def _grouped_terms(model: LinearPMT, group_of: Callable[[Term], str]) -> dict[str, str]:
    """Sum of coefficient x term per group of terms, as SQL text. Indicator terms on the same columns (within a
    group) form one CASE WHEN chain, e.g. one per categorical variable, one for province, one for province x
    urban, so the plan stays small. Text, not Columns: a model built as Columns took about 11,000 py4j round
    trips (runtime/sql.py)."""
    # (group, indicator columns, numeric columns) -> [(levels, coefficient)]
    chains: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[tuple[tuple[Any, ...], float]]] = defaultdict(list)
    for term, coef in zip(model.terms, model.coef, strict=True):
        indicators = tuple((c, lvl) for c, lvl in term.factors if lvl is not None)
        numerics = tuple(c for c, lvl in term.factors if lvl is None)
        chains[(group_of(term), tuple(c for c, _ in indicators), numerics)].append(
            (tuple(lvl for _, lvl in indicators), float(coef)))
    sums: dict[str, str] = {}
    for (group, ind_cols, num_cols), entries in chains.items():
        factor = " * ".join(f"CAST({sql.ident(col)} AS DOUBLE)" for col in num_cols) or None
        if not ind_cols:
            # plain numeric terms: one per chain (a numeric column appears once)
            parts = [f"{sql.literal(coef)} * ({factor})" for _, coef in entries]
        else:
            whens = " ".join(
                f"WHEN {' AND '.join(f'({_condition(c, lvl)})' for c, lvl in zip(ind_cols, levels, strict=True))} "
                f"THEN {sql.literal(coef)}" for levels, coef in entries)
            case = f"CASE {whens} ELSE 0.0D END"
            parts = [case if factor is None else f"({case}) * ({factor})"]
        for part in parts:
            sums[group] = f"({part})" if group not in sums else f"{sums[group]} + ({part})"
    return sums


def linear_expression(model: LinearPMT) -> Column:
    """The prediction of a fitted LinearPMT as a Spark Column over the feature columns."""
    parts = [sql.literal(float(model.intercept)), *_grouped_terms(model, lambda _: "").values()]
    return F.expr(" + ".join(f"({p})" for p in parts))


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
    return F.expr("array(" + ", ".join(
        f"named_struct('group', {sql.text(g)}, 'value', CAST({sums.get(g, '0.0D')} AS DOUBLE))" for g in groups) + ")")


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
