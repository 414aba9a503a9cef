"""Delta table I/O under the lakehouse root: the table names of the output contract live here."""

from __future__ import annotations

from collections.abc import Sequence

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from jobs.runtime.config import DtksConfig

# Silver (ingest) and gold (publish) tables, by name.
PIPELINE_RUNS = "pipeline_runs"
QUARANTINE = "quarantine"
IDENTITY_VAULT = "identity_vault"
REGISTRY = "silver_registry"
HOUSEHOLDS = "silver_households"
MEMBERS = "silver_members"
TRAINING = "silver_training"
SCORES = "household_scores"
DTKS_HOUSEHOLDS = "dtks_households"
DTKS_MEMBERS = "dtks_members"
PROGRAM_ELIGIBILITY = "program_eligibility"
QUALITY_BY_REGION = "quality_by_region"


def exists(spark: SparkSession, config: DtksConfig, name: str) -> bool:
    return DeltaTable.isDeltaTable(spark, config.table_path(name))


def read(spark: SparkSession, config: DtksConfig, name: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(config.table_path(name))


def overwrite(
    df: DataFrame,
    config: DtksConfig,
    name: str,
    partition_by: Sequence[str] = (),
    properties: dict[str, str] | None = None,
) -> None:
    """Replace a table in one Delta commit: readers see the old version or the new, never a mix."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(config.table_path(name))
    if properties:
        set_properties(df.sparkSession, config, name, properties)


def append(df: DataFrame, config: DtksConfig, name: str, partition_by: Sequence[str] = ()) -> None:
    writer = df.write.format("delta").mode("append")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(config.table_path(name))


def version(spark: SparkSession, config: DtksConfig, name: str) -> int | None:
    """Latest committed version of a table, or None when it does not exist yet."""
    if not exists(spark, config, name):
        return None
    history = DeltaTable.forPath(spark, config.table_path(name)).history(1)
    return int(history.select("version").first()[0])


def set_properties(spark: SparkSession, config: DtksConfig, name: str, properties: dict[str, str]) -> None:
    assignments = ", ".join(f"'{k}' = '{v}'" for k, v in properties.items())
    spark.sql(f"ALTER TABLE delta.`{config.table_path(name)}` SET TBLPROPERTIES ({assignments})")
