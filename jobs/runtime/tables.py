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
SURVEY = "silver_survey"
HOUSEHOLDS = "silver_households"
MEMBERS = "silver_members"
TRAINING = "silver_training"
SCORES = "household_scores"
DTKS_HOUSEHOLDS = "dtks_households"
DTKS_MEMBERS = "dtks_members"
PROGRAM_ELIGIBILITY = "program_eligibility"
QUALITY_BY_REGION = "quality_by_region"
PUBLICATIONS = "publications"  # one row per publish: the gold table versions that belong together
GOLD = (DTKS_HOUSEHOLDS, DTKS_MEMBERS, PROGRAM_ELIGIBILITY)


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


def row_hash(columns: Sequence[str]):
    """A content hash of the given columns: MERGE updates a row only when its content changed."""
    from pyspark.sql import functions as F

    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in sorted(columns)])), 256)


def upsert(
    spark: SparkSession,
    config: DtksConfig,
    name: str,
    df: DataFrame,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    update_condition: str | None = None,
    delete_missing: bool = False,
    properties: dict[str, str] | None = None,
) -> None:
    """MERGE `df` into a table by `keys` in one commit (creating the table on first use).

    update_condition (on aliases s and t) limits updates, e.g. to changed rows or newer interviews;
    delete_missing removes target rows absent from `df` (the source is then the full current set).
    """
    if not exists(spark, config, name):
        overwrite(df, config, name, partition_by, properties)
        return
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    merge = (
        DeltaTable.forPath(spark, config.table_path(name))
        .alias("t")
        .merge(df.alias("s"), on)
        .whenMatchedUpdateAll(condition=update_condition)
        .whenNotMatchedInsertAll()
    )
    if delete_missing:
        merge = merge.whenNotMatchedBySourceDelete()
    merge.execute()


def published_versions(spark: SparkSession, config: DtksConfig) -> dict[str, int] | None:
    """The gold table versions of the latest complete publish, or None before the first one.

    Publish MERGEs three tables in three commits and then appends one `publications` row: that last
    commit is the switch. A publish killed in between leaves this pointing at the previous set, so a
    reader going through it sees the previous publication or the new one, never a mix.
    """
    if not exists(spark, config, PUBLICATIONS):
        return None
    from pyspark.sql import functions as F

    row = read(spark, config, PUBLICATIONS).orderBy(F.col("publication_id").desc()).select("versions").first()
    return dict(row.versions) if row else None


def read_published(spark: SparkSession, config: DtksConfig, name: str) -> DataFrame:
    """A gold table as of the latest complete publish (the table's latest version when none recorded)."""
    versions = published_versions(spark, config) or {}
    return read(spark, config, name, versions.get(name))
