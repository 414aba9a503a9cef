"""Which model scores: the champion (or a pinned version) from the MLflow registry, as a Spark Column.

A linear PMT compiles into native Spark column expressions (models/compile.py); any other pyfunc model
runs through `mlflow.pyfunc.spark_udf`.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        expr = spark_expression(model.uri)
        if expr is not None:
            return expr, "native"
        if path == "native":
            raise UserError(f"model {model.uri} is not linear: it cannot be compiled to native expressions")
    udf = mlflow.pyfunc.spark_udf(spark, model.uri, result_type="double", env_manager="local")
    return udf(F.struct(*[F.col(c) for c in model.input_columns])), "spark_udf"
