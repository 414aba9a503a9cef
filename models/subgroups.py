"""The household subgroups targeting errors and the impact of a change are reported for, defined once.

Each subgroup is a comparison on one household column that both the training sample and dtks_households
carry: it is evaluated on a pandas frame (held-out errors at training time) and as a Spark Column (the
impact of a model or policy change on the published nation), from the same definition.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F  # noqa: N812

# name: (column, comparison, value)
SUBGROUPS: dict[str, tuple[str, str, Any]] = {
    "female_head": ("head_female", "==", 1),
    "any_disabled": ("n_disabled", ">", 0),
    "head_60_plus": ("head_age", ">=", 60),
    "children_u6": ("n_children_u6", ">", 0),
    "urban": ("is_urban", "==", True),
    "rural": ("is_urban", "==", False),
}
COLUMNS = tuple(dict.fromkeys(column for column, _, _ in SUBGROUPS.values()))
_OPS: dict[str, Callable[[Any, Any], Any]] = {"==": operator.eq, ">": operator.gt, ">=": operator.ge}


def masks(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each subgroup's members among the frame's rows (a missing value belongs to no subgroup)."""
    out = {}
    for name, (column, op, value) in SUBGROUPS.items():
        values = frame[column]
        known = values.notna().to_numpy()
        filled = values.where(values.notna(), other=(not value) if isinstance(value, bool) else -1)
        out[name] = known & np.asarray(_OPS[op](filled.astype(type(value)), value), dtype=bool)
    return out


def flags() -> list[Column]:
    """One boolean Column per subgroup, named after it (null when the column is null)."""
    return [_OPS[op](F.col(column), F.lit(value)).alias(name) for name, (column, op, value) in SUBGROUPS.items()]
