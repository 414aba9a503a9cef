"""The MLflow pyfunc wrapper: one interface whatever the family, so scoring does not care which.

Input: the feature columns of `FeatureSpec.input_columns` (province_code string, is_urban bool).
Output: predicted log per-capita consumption (float64), the welfare score.

Nulls: ingest guarantees non-null features. Should one slip through, a null numeric feature gives
NaN (the Spark expression of compile.py gives null), and a null categorical or province code matches
no level, i.e. counts as the reference level / national average.
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd

from models.pmt import Estimator

OUTPUT_COLUMN = "welfare_score"


class RankingModel(mlflow.pyfunc.PythonModel):
    """Holds a fitted estimator from models.pmt; pickled with the model, loaded by the scorer."""

    def __init__(self, estimator: Estimator) -> None:
        self.estimator = estimator

    @property
    def family(self) -> str:
        return self.estimator.family

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return np.asarray(self.estimator.predict(model_input), dtype=np.float64)


def pip_requirements() -> list[str]:
    """Pinned explicitly: MLflow's inference would reload the model in a subprocess (slow)."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "scikit-learn", "numpy", "pandas", "pyarrow")]


def unwrap(model: Any) -> RankingModel | None:
    """The RankingModel behind a URI, a loaded pyfunc model or the wrapper itself."""
    if isinstance(model, str):
        model = mlflow.pyfunc.load_model(model)
    if isinstance(model, RankingModel):
        return model
    if hasattr(model, "unwrap_python_model"):
        inner = model.unwrap_python_model()
        return inner if isinstance(inner, RankingModel) else None
    return None
