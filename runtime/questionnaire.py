"""conf/questionnaire.yaml, typed: the survey's variables (type, codes or range, label) and the ranking
model's features. Read and checked once per process; ingest validates answers against it, the model
reads its features from it (jobs/core/questionnaire.py, models/features.py)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from runtime.config import DtksConfig, validated_file

PROVINCE = "province_code"
URBAN = "is_urban"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariableSpec(_Strict):
    """One survey variable: coded (`codes`: code -> label, the first code is the model's reference level)
    or numeric with an optional range."""

    type: Literal["int", "float", "str"]
    codes: dict[int | str, Any] | None = None
    min: float | None = None
    max: float | None = None
    label: str | None = None


class ModelSpec(_Strict):
    """The ranking model's features, built per household by ingest (jobs/ingest/features.py)."""

    target: str
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    region_effects: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _region_effects(self) -> ModelSpec:
        region = list(self.region_effects)
        if region and region[0] != PROVINCE:
            raise ValueError(f"region_effects must start with {PROVINCE!r}, got {region}")
        if any(col not in (PROVINCE, URBAN) for col in region):
            raise ValueError(f"region_effects supports {PROVINCE} and {URBAN}, got {region}")
        return self

    @property
    def features(self) -> tuple[str, ...]:
        """The household feature columns the model reads (region columns aside)."""
        return (*self.numeric, *self.categorical)


class QuestionnaireFile(_Strict):
    versions: tuple[str, ...] = Field(min_length=1)
    household: dict[str, VariableSpec]
    member: dict[str, VariableSpec]
    model: ModelSpec

    @model_validator(mode="after")
    def _categorical_features_are_coded(self) -> QuestionnaireFile:
        variables = self.member | self.household
        for name in self.model.categorical:
            if name not in variables or not variables[name].codes:
                raise ValueError(f"model.categorical: feature {name!r} has no code list")
        return self


@functools.lru_cache(maxsize=8)
def _read(path: Path, mtime_ns: int) -> QuestionnaireFile:
    return validated_file(QuestionnaireFile, path)


def load(config: DtksConfig) -> QuestionnaireFile:
    """The questionnaire of this config (conf_dir / questionnaire_file), parsed once while unchanged."""
    path = config.conf_file(config.questionnaire_file).resolve()
    return _read(path, path.stat().st_mtime_ns if path.exists() else 0)
