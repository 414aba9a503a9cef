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


class FeatureGroup(_Strict):
    """Features that explain a score together (a household's score is explained group by group), with
    their labels in Bahasa Indonesia and English."""

    id: str = Field(min_length=1)
    en: str = Field(min_length=1)
    features: tuple[str, ...] = Field(min_length=1)


class ModelSpec(_Strict):
    """The ranking model's features, built per household by ingest (jobs/ingest/features.py), and the
    groups a score is explained by (every feature and region column in exactly one)."""

    target: str
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    region_effects: tuple[str, ...] = ()
    groups: dict[str, FeatureGroup] = Field(default_factory=dict)

    def group_of(self) -> dict[str, str]:
        """Feature or region column -> its group (each its own group when none are configured)."""
        if not self.groups:
            return {f: f for f in (*self.features, *self.region_effects)}
        return {f: name for name, g in self.groups.items() for f in g.features}

    def group_labels(self) -> dict[str, tuple[str, str]]:
        """Group -> (Bahasa Indonesia, English) label."""
        if not self.groups:
            return {f: (f, f) for f in (*self.features, *self.region_effects)}
        return {name: (g.id, g.en) for name, g in self.groups.items()}

    @model_validator(mode="after")
    def _region_effects(self) -> ModelSpec:
        region = list(self.region_effects)
        if region and region[0] != PROVINCE:
            raise ValueError(f"region_effects must start with {PROVINCE!r}, got {region}")
        if any(col not in (PROVINCE, URBAN) for col in region):
            raise ValueError(f"region_effects supports {PROVINCE} and {URBAN}, got {region}")
        return self

    @model_validator(mode="after")
    def _groups_cover_every_feature_once(self) -> ModelSpec:
        if not self.groups:
            return self
        grouped = [f for g in self.groups.values() for f in g.features]
        wanted = [*self.features, *self.region_effects]
        twice = sorted({f for f in grouped if grouped.count(f) > 1})
        missing = [f for f in wanted if f not in grouped]
        unknown = [f for f in grouped if f not in wanted]
        for problem, names in (("in two groups", twice), ("in no group", missing), ("not a feature", unknown)):
            if names:
                raise ValueError(f"groups: {', '.join(names)} {'is' if len(names) == 1 else 'are'} {problem}")
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


def load_file(config: DtksConfig) -> QuestionnaireFile:
    """The questionnaire of this config (conf_dir / questionnaire_file), parsed once while unchanged."""
    path = config.conf_file(config.questionnaire_file).resolve()
    return _read(path, path.stat().st_mtime_ns if path.exists() else 0)
