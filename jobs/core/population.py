"""The national population P that cumulative shares, deciles and coverage are taken of (BRIEF §6)."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from runtime import tables
from runtime.config import DtksConfig


def population(spark: SparkSession, config: DtksConfig) -> int:
    """P: the official total when configured, else living persons in the registry."""
    if config.ranking.official_population:
        return config.ranking.official_population
    registry = tables.read(spark, config, tables.REGISTRY)
    return registry.where(F.col("death_date").isNull()).count()
