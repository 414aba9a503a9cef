"""Which model scores: the champion (or a pinned version) from the MLflow registry, as a Spark Column. The
score step scores the nation with it, and the impact measurement (jobs/policy/impact.py) a candidate.

A linear PMT compiles into native Spark column expressions (models/compile.py), its prediction and the
explanation of it by feature group; any other pyfunc model runs through `mlflow.pyfunc.spark_udf` and has
no explanation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow import MlflowClient
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from runtime.config import DtksConfig
from runtime.errors import UserError
from runtime.tracking import setup_mlflow


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    version: str
    uri: str
    input_columns: tuple[str, ...]

    @functools.cached_property
    def loaded(self) -> Any:
        """The pyfunc model, loaded once for the prediction and the explanation."""
        return mlflow.pyfunc.load_model(self.uri)


def resolve_model(config: DtksConfig, version: str | None) -> ResolvedModel:
    """The model version to score with, pinned by number so a concurrent promotion cannot mix."""
    setup_mlflow(config)
    client = MlflowClient()
    name = config.mlflow.model_name
    try:
        mv = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException as exc:
        which = f"version {version}" if version else "alias champion"
        raise UserError(
            f"model '{name}' {which} not found in {config.mlflow.tracking_uri}: run `dtks train` first"
        ) from exc
    uri = f"models:/{name}/{mv.version}"
    info = mlflow.models.get_model_info(uri)
    if info.signature is None:
        raise UserError(f"model {uri} has no signature: it cannot be scored safely")
    return ResolvedModel(name, str(mv.version), uri, tuple(info.signature.inputs.input_names()))


def prediction(spark: SparkSession, model: ResolvedModel, path: str) -> tuple[Column, str]:
    """The prediction as a Column, and which path produced it."""
    from models.compile import spark_expression

    if path in ("auto", "native"):
        expr = spark_expression(model.loaded)
        if expr is not None:
            return expr, "native"
        if path == "native":
            raise UserError(f"model {model.uri} is not linear: it cannot be compiled to native expressions")
    udf = mlflow.pyfunc.spark_udf(spark, model.uri, result_type="double", env_manager="local")
    return udf(F.struct(*[F.col(c) for c in model.input_columns])), "spark_udf"


CONTRIBUTIONS = "array<struct<group:string,value:double>>"


def explanation(model: ResolvedModel, group_of: Mapping[str, str]) -> tuple[Column, Column]:
    """The contributions by feature group (array<struct<group, value>>) and the intercept, as Columns: computed
    natively for a linear PMT; null for a family dtks does not explain."""
    from models.compile import explanation as linear

    found = linear(model.loaded, group_of)
    if found is None:
        return F.lit(None).cast(CONTRIBUTIONS), F.lit(None).cast("double")
    contributions, intercept = found
    return contributions, F.lit(intercept)
