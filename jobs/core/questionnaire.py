"""The verval questionnaire (conf/questionnaire.yaml, read by runtime/questionnaire.py) as Spark needs it:
each variable's Spark type and the condition (SQL text) that finds an answer outside its codes or range."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from runtime import questionnaire as questionnaire_file
from runtime import sql
from runtime.config import DtksConfig
from runtime.questionnaire import ModelSpec, VariableSpec

SPARK_TYPES = {"int": T.IntegerType(), "float": T.DoubleType(), "str": T.StringType()}


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    codes: tuple | None = None
    min: float | None = None
    max: float | None = None

    @property
    def spark_type(self) -> T.DataType:
        return SPARK_TYPES[self.type]

    def out_of_range(self, value: str) -> str:
        """SQL: true where a non-null answer `value` (a SQL expression) breaks the allowed codes or range."""
        if self.codes is not None:
            return f"NOT {value} IN {sql.one_of(self.codes)}"
        bounds = ([f"{value} < {sql.literal(self.min)}"] if self.min is not None else []) + (
            [f"{value} > {sql.literal(self.max)}"] if self.max is not None else [])
        return " OR ".join(bounds) or "FALSE"


@dataclass(frozen=True)
class Questionnaire:
    versions: tuple[str, ...]
    household: tuple[Variable, ...]
    member: tuple[Variable, ...]
    model: ModelSpec


def _variables(section: dict[str, VariableSpec]) -> tuple[Variable, ...]:
    return tuple(Variable(name, spec.type, tuple(spec.codes) if spec.codes is not None else None, spec.min, spec.max)
                 for name, spec in section.items())


def load(config: DtksConfig) -> Questionnaire:
    """The questionnaire of this config, with Spark types and range checks for its variables."""
    data = questionnaire_file.load_file(config)
    return Questionnaire(data.versions, _variables(data.household), _variables(data.member), data.model)
