"""The verval questionnaire (conf/questionnaire.yaml): variables, types, codes and ranges."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.runtime.config import DtksConfig

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

    def out_of_range(self, col: Column) -> Column:
        """True where a non-null answer breaks the allowed codes or range."""
        if self.codes is not None:
            return ~col.isin(*self.codes)
        cond = F.lit(False)
        if self.min is not None:
            cond = cond | (col < F.lit(self.min))
        if self.max is not None:
            cond = cond | (col > F.lit(self.max))
        return cond


@dataclass(frozen=True)
class Questionnaire:
    versions: tuple[str, ...]
    household: tuple[Variable, ...]
    member: tuple[Variable, ...]
    model: dict


def _variables(section: dict, path: Path, part: str) -> tuple[Variable, ...]:
    out = []
    for name, spec in section.items():
        if spec.get("type") not in SPARK_TYPES:
            raise ValueError(f"{path}: key '{part}.{name}.type' must be one of {sorted(SPARK_TYPES)}")
        codes = tuple(spec["codes"]) if "codes" in spec else None
        out.append(Variable(name, spec["type"], codes, spec.get("min"), spec.get("max")))
    return tuple(out)


def load(config: DtksConfig) -> Questionnaire:
    path = config.conf_file(config.questionnaire_file)
    data = yaml.safe_load(path.read_text())
    return Questionnaire(
        versions=tuple(data["versions"]),
        household=_variables(data["household"], path, "household"),
        member=_variables(data["member"], path, "member"),
        model=data.get("model", {}),
    )
