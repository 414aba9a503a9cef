"""The model's feature spec, read from conf/questionnaire.yaml `model:` (never hard-coded here).

Categorical variables are one-hot encoded against a *fixed* level list: the code list of the
questionnaire, whose first code is the reference level. The design therefore has the same columns
whatever codes happen to occur in one training sample, and a model fitted on one data version can
score another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from jobs.runtime.config import DtksConfig

PROVINCE = "province_code"
URBAN = "is_urban"
HOUSEHOLD_ID = "household_id"
WEIGHT = "weight"
HH_SIZE = "hh_size"


@dataclass(frozen=True)
class FeatureSpec:
    """Numeric features (used as they are), categorical features with their code lists, region columns."""

    target: str
    numeric: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[Any, ...]], ...]  # (name, codes); codes[0] is the reference
    region_effects: tuple[str, ...]

    @property
    def categorical_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.categorical)

    @property
    def input_columns(self) -> list[str]:
        """The model's input columns, in signature order."""
        return [*self.numeric, *self.categorical_names, *self.region_effects]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "numeric": list(self.numeric),
            "categorical": {name: list(codes) for name, codes in self.categorical},
            "region_effects": list(self.region_effects),
        }


def spec_from_questionnaire(questionnaire: dict[str, Any]) -> FeatureSpec:
    """Build the spec from a parsed questionnaire; a categorical feature must have a code list."""
    model = questionnaire["model"]
    variables = {**questionnaire.get("member", {}), **questionnaire.get("household", {})}
    categorical = []
    for name in model.get("categorical", []):
        codes = (variables.get(name) or {}).get("codes")
        if not codes:
            raise ValueError(f"questionnaire: categorical model feature {name!r} has no code list")
        categorical.append((name, tuple(codes)))
    region = tuple(model.get("region_effects", []))
    if region and region[0] != PROVINCE:
        raise ValueError(f"questionnaire: model.region_effects must start with {PROVINCE!r}, got {list(region)}")
    if any(col not in (PROVINCE, URBAN) for col in region):
        raise ValueError(f"questionnaire: model.region_effects supports {PROVINCE} and {URBAN}, got {list(region)}")
    return FeatureSpec(
        target=model["target"],
        numeric=tuple(model.get("numeric", [])),
        categorical=tuple(categorical),
        region_effects=region,
    )


def load_spec(config: DtksConfig) -> FeatureSpec:
    path: Path = config.conf_file(config.questionnaire_file)
    return spec_from_questionnaire(yaml.safe_load(path.read_text()))


def is_holdout(household_ids: pd.Series, share: float) -> np.ndarray:
    """Deterministic split by a hash of household_id: a household stays on its side across data versions.

    Because the same households stay held out, the champion and a new version can be compared on
    data neither has seen, whichever table version each was trained on.
    """

    def bucket(hid: str) -> float:
        digest = hashlib.sha256(f"dtks-holdout:{hid}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return np.array([bucket(str(h)) < share for h in household_ids], dtype=bool)
