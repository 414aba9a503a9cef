"""The model's feature spec, read from conf/questionnaire.yaml `model:` (never hard-coded here).

Categorical variables are one-hot encoded against a *fixed* level list: the code list of the
questionnaire, whose first code is the reference level. The design therefore has the same columns
whatever codes happen to occur in one training sample, and a model fitted on one data version can
score another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runtime import questionnaire
from runtime.config import DtksConfig
from runtime.questionnaire import QuestionnaireFile

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


def spec_from_questionnaire(checked: QuestionnaireFile) -> FeatureSpec:
    """Build the spec from the checked questionnaire (a categorical feature has a code list there)."""
    variables = checked.member | checked.household
    model = checked.model
    return FeatureSpec(
        target=model.target,
        numeric=model.numeric,
        categorical=tuple((name, tuple(variables[name].codes)) for name in model.categorical),
        region_effects=model.region_effects,
    )


def load_spec(config: DtksConfig) -> FeatureSpec:
    return spec_from_questionnaire(questionnaire.load_file(config))


def is_holdout(household_ids: pd.Series, share: float) -> np.ndarray:
    """Deterministic split by a hash of household_id: a household stays on its side across data versions.

    Because the same households stay held out, the champion and a new version can be compared on
    data neither has seen, whichever table version each was trained on.
    """

    def bucket(hid: str) -> float:
        digest = hashlib.sha256(f"dtks-holdout:{hid}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return np.array([bucket(str(h)) < share for h in household_ids], dtype=bool)
