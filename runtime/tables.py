"""The table catalog: every Delta table of the lakehouse declared once, and all reads and writes.

A table's entry says its keys, its partition columns, how it is written and its Delta properties, so no
stage repeats a key list or a write mode. Write modes:

- ``overwrite``: the delivery or derivation is complete, so the table is replaced in one commit;
- ``insert_new``: an insert-only MERGE on the keys (Delta's fast path: no target rewrite, no source copy), or,
  for a delivery's few rows against a national table, an append of the rows whose keys a scan of the table's
  keys does not find;
- ``newer``: only source rows that are new or newer (by ``order_by``) than the target's are MERGEd;
- ``append``: one commit of new rows (run logs);
- ``replace_run``: the run's own ``run_id`` partition is replaced, earlier runs untouched;
- ``changes``: a change-set MERGE: only rows that entered, changed (by ``row_hash``) or left, so an update
  round touches only them (and the change feed, where on, holds exactly them); where the change set knows
  which rows the table lacks, those are appended and the MERGE has no insert clause;
- ``overwrite`` where a table carries the national rank: a 1 % change moves most ranks, so it is replaced.

Tables written by MERGE have deletion vectors on: a changed row costs a deletion-vector entry and its
new copy, instead of a rewrite of every file it sits in (copy-on-write). A reader of those tables needs
deletion-vector support (Delta reader version 3; docs/CONTRACTS.md); `dtks maintain` purges them.

Partitioned tables are written with one file per partition directory: rows are repartitioned by the
partition columns before the write.

The entry also says what other parts derive from it rather than list again: the columns that hold keyed
tokens (`dtks rotate-key` rewrites every table that declares one, or that carries the row_hash of a table
whose hash moves), whether its row_hash is a content hash of its own columns or carried from another
table, and whether each publication pins its version (`PUBLISHED`) and programmes read it (`GOLD`).
docs/CONTRACTS.md's catalog table states the same, checked by tests/test_catalog.py.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from runtime import sql
from runtime.config import DtksConfig, check_run_id

log = logging.getLogger(__name__)

PIPELINE_RUNS = "pipeline_runs"
QUARANTINE = "quarantine"
IDENTITY_VAULT = "identity_vault"
# Restricted, with the vault's access rules: the names (and reported NIKs) that linkage compares.
IDENTITY_REGISTRY = "identity_registry"  # each registry person's name and NIK, by token
IDENTITY_SURVEY = "identity_survey"  # each current roster's members' names and NIKs as reported
LINKAGE_REVIEW = "linkage_review"  # member/registry-person pairs awaiting clerical review
LINKAGE_DECISIONS = "linkage_decisions"  # every decision on a reviewed pair (the latest per pair), applied by ingest
REGISTRY = "silver_registry"
SURVEY = "silver_survey"
HOUSEHOLDS = "silver_households"
MEMBERS = "silver_members"
TRAINING = "silver_training"
APPEALS = "silver_appeals"  # every valid appeal (usul, sanggah) ever delivered
SCORES = "household_scores"
DTKS_HOUSEHOLDS = "dtks_households"
DTKS_MEMBERS = "dtks_members"
PROGRAM_ELIGIBILITY = "program_eligibility"
QUALITY_BY_REGION = "quality_by_region"
QUALITY_ENUMERATORS = "quality_enumerators"
ELIGIBILITY_REASONS = "eligibility_reasons"  # why each household entered or left a programme, per publish
QUEUE = "verification_queue"  # households to re-survey, rebuilt by each publish
QUEUE_HISTORY = "verification_history"  # every state each queue entry has had, one row per change
PUBLICATIONS = "publications"  # one row per publish: the gold table versions that belong together
REGION = ("province_code", "regency_code")

WRITES = ("overwrite", "insert_new", "newer", "append", "replace_run", "changes")

# How `dtks rotate-key` treats a table's token columns (`Table.token_rule`); the rules themselves are in
# jobs/rotate_key/rotation.py, which has one for each name here.
VAULT_TOKENS = "vault"  # the identity vault: tokens recomputed from the identifiers it holds, before any
#                        other table, giving the map from every old token to its new one
ALL_TOKENS = "all"  # every non-null value is a token: mapped through the vault, keyed again where it lacks it
RECORD_KEY_TOKENS = "record_key"  # a quarantine record key: only some are tokens (a registry record's NIK
#                                   token, a `row:` token); the others are ids and stay
TOKEN_RULES = (VAULT_TOKENS, ALL_TOKENS, RECORD_KEY_TOKENS)


@dataclass(frozen=True)
class Table:
    """One table of the lakehouse: how it is keyed, laid out and written, which of its columns hold tokens,
    and whether a publication pins it."""

    name: str
    write: str
    keys: tuple[str, ...] = ()
    partition_by: tuple[str, ...] = ()
    order_by: str | None = None  # `newer`: the column that says which version of a key is the latest
    properties: Mapping[str, str] = field(default_factory=dict)
    # The columns holding keyed NIK or KK tokens; `array.field` is a field of each struct in an array column
    # (silver_survey's roster entries).
    tokens: tuple[str, ...] = ()
    token_rule: str = ALL_TOKENS  # how rotate-key re-keys the token columns (TOKEN_RULES)
    hashed: bool = False  # its row_hash is a content hash of its own columns: computed again over new tokens
    carries: str | None = None  # the table whose row_hash its rows carry (follows it when that moves)
    published: bool = False  # each publication pins its version (readers go through `read_published`)
    gold: bool = False  # what programmes read and `dtks export` slices (published too)
    restricted: bool = False  # holds raw identifiers or names: the vault's access rules (docs/DEPLOYMENT.md)

    def __post_init__(self) -> None:
        if self.write not in WRITES:
            raise ValueError(f"table {self.name}: write mode {self.write!r} is not one of {WRITES}")
        if self.token_rule not in TOKEN_RULES:
            raise ValueError(f"table {self.name}: token rule {self.token_rule!r} is not one of {TOKEN_RULES}")
        if self.gold and not self.published:
            raise ValueError(f"table {self.name}: a gold table is published")
        if self.hashed and self.carries:
            raise ValueError(f"table {self.name}: its row_hash is either its own or carried, not both")


def _stats(*columns: str) -> dict[str, str]:
    """Delta file statistics only on the columns readers and MERGEs filter on (the rest cost write time)."""
    return {"delta.dataSkippingStatsColumns": ",".join(columns)}


CDF = {"delta.enableChangeDataFeed": "true"}
DV = {"delta.enableDeletionVectors": "true"}
ROW_HASH = "row_hash"

CATALOG: dict[str, Table] = {
    t.name: t
    for t in (
        Table(IDENTITY_VAULT, "insert_new", ("nik_token",), properties=_stats("nik_token"),
              tokens=("nik_token",), token_rule=VAULT_TOKENS, restricted=True),
        Table(IDENTITY_REGISTRY, "changes", ("nik_token",), properties=DV | _stats("nik_token"),
              tokens=("nik_token",), restricted=True),
        Table(IDENTITY_SURVEY, "changes", ("household_id", "member_no"), properties=DV | _stats("household_id"),
              restricted=True),
        Table(REGISTRY, "changes", ("nik_token",), properties=DV | _stats("nik_token"),
              tokens=("nik_token", "kk_token"), hashed=True),
        Table(QUARANTINE, "insert_new", ("source", "record_key", "reason_code"), ("source",),
              properties=_stats("record_key"), tokens=("record_key",), token_rule=RECORD_KEY_TOKENS),
        Table(SURVEY, "newer", ("household_id",), order_by="interview_start",
              properties=DV | _stats("household_id"), tokens=("kk_token", "members.nik_token")),
        Table(HOUSEHOLDS, "changes", ("household_id",), properties=DV | _stats("household_id"),
              tokens=("kk_token",), hashed=True),
        Table(MEMBERS, "changes", ("household_id", "member_no"), properties=DV | _stats("household_id"),
              tokens=("nik_token",), hashed=True),
        Table(LINKAGE_REVIEW, "changes", ("household_id", "member_no", "nik_token"),
              properties=DV | _stats("household_id"), tokens=("nik_token",), hashed=True),
        Table(LINKAGE_DECISIONS, "newer", ("household_id", "member_no", "nik_token"), order_by="decided_at",
              properties=DV | _stats("household_id"), tokens=("nik_token",)),
        Table(APPEALS, "insert_new", ("appeal_id",), properties=_stats("appeal_id", "household_id"),
              tokens=("head_token",)),  # an appeal's subject: its head's NIK
        Table(TRAINING, "overwrite", ("household_id",), properties=_stats("household_id")),
        # Each score's contributions by feature group (`dtks explain`), as the publication used them.
        Table(SCORES, "changes", ("household_id",), properties=DV | _stats("household_id"),
              carries=HOUSEHOLDS, published=True),
        Table(DTKS_HOUSEHOLDS, "overwrite", ("household_id",), REGION, properties=_stats("household_id", "decile"),
              published=True, gold=True),
        Table(DTKS_MEMBERS, "changes", ("household_id", "member_no"), REGION,
              properties=DV | _stats("household_id"), tokens=("nik_token",), carries=MEMBERS,
              published=True, gold=True),
        Table(PROGRAM_ELIGIBILITY, "changes", ("program", "household_id"), ("program", "province_code"),
              properties=CDF | DV | _stats("household_id"), published=True, gold=True),
        Table(ELIGIBILITY_REASONS, "append", ("eligibility_version", "program", "household_id"),
              properties=_stats("eligibility_version", "household_id"), published=True),
        Table(QUEUE, "overwrite", ("entry_id",), REGION, properties=_stats("household_id", "status"),
              tokens=("head_token",), published=True),
        Table(QUEUE_HISTORY, "append", ("entry_id", "publication_run_id"), properties=_stats("entry_id", "status"),
              tokens=("head_token",), published=True),
        Table(QUALITY_BY_REGION, "replace_run", ("run_id", "province_code", "regency_code"), ("run_id",)),
        Table(QUALITY_ENUMERATORS, "replace_run", ("run_id", "enumerator_id"), ("run_id",)),
        Table(PIPELINE_RUNS, "append", ("run_id", "stage")),
        Table(PUBLICATIONS, "append", ("publication_id",)),
    )
}
# The tables a publication pins the versions of, and among them what programmes read (and export slices).
PUBLISHED = tuple(name for name, t in CATALOG.items() if t.published)
GOLD = tuple(name for name, t in CATALOG.items() if t.gold)
RESTRICTED = tuple(name for name, t in CATALOG.items() if t.restricted)


def table(name: str) -> Table:
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"table {name!r} is not in the catalog (runtime/tables.py)") from None


def exists(spark: SparkSession, config: DtksConfig, name: str) -> bool:
    return DeltaTable.isDeltaTable(spark, config.table_path(name))


def read(spark: SparkSession, config: DtksConfig, name: str, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(config.table_path(name))


def _laid_out(df: DataFrame, partition_by: Sequence[str], files: int | None = None) -> DataFrame:
    """One task, hence one file, per partition value: partitioned writes never scatter small files. The
    number of tasks is set (spark.sql.shuffle.partitions), so adaptive execution does not merge a small
    table's tasks into one that writes every partition's file alone while the other cores wait.
    An unpartitioned table of a known size gets `files` files (no shuffle: the last stage's tasks merge)."""
    if partition_by:
        return df.repartition(int(df.sparkSession.conf.get("spark.sql.shuffle.partitions")), *partition_by)
    return df.coalesce(files) if files else df


def files_for(config: DtksConfig, rows: int, cores: int) -> int:
    """How many files an unpartitioned table of `rows` rows is written as: one per layout.rows_per_file
    rows, and at least one per core, so the last stage before the write keeps every core busy."""
    return max(cores, math.ceil(rows / config.layout.rows_per_file))


def properties(t: Table, config: DtksConfig) -> dict[str, str]:
    """A table's Delta properties under this config: the gold tables carry deletion vectors unless
    layout.gold_deletion_vectors is false, for programme readers without their support (docs/CONTRACTS.md)."""
    props = dict(t.properties)
    if t.name in GOLD and not config.layout.gold_deletion_vectors:
        props.pop("delta.enableDeletionVectors", None)
    return props


def _writer(df: DataFrame, t: Table | None, partition_by: Sequence[str], config: DtksConfig):
    writer = df.write.format("delta")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    for key, value in (properties(t, config) if t else {}).items():
        writer = writer.option(key, value)
    return writer


def overwrite(
    df: DataFrame,
    config: DtksConfig,
    name: str,
    partition_by: Sequence[str] | None = None,
    rows: int | None = None,
    metadata: str | None = None,
) -> None:
    """Replace a table in one Delta commit: readers see the old version or the new, never a mix.
    `rows`, when known, sets an unpartitioned table's file count (layout.rows_per_file); `metadata` is
    the commit's userMetadata (how a later run recognises this commit)."""
    t = CATALOG.get(name)
    parts = tuple(partition_by if partition_by is not None else (t.partition_by if t else ()))
    cores = df.sparkSession.sparkContext.defaultParallelism
    files = files_for(config, rows, cores) if rows is not None else None
    writer = _writer(_laid_out(df, parts, files), t, parts, config).mode("overwrite").option("overwriteSchema", "true")
    if metadata is not None:
        writer = writer.option("userMetadata", metadata)
    writer.save(config.table_path(name))


def append(df: DataFrame, config: DtksConfig, name: str, new_columns: bool = False, rows: int | None = None) -> None:
    """One commit of new rows; a log row is one file, not one per core, and `rows` rows (when known) are
    files_for them. `new_columns`: the rows may bring columns the table lacks (a record table that gained
    a field), added to its schema."""
    t = CATALOG.get(name)
    parts = t.partition_by if t else ()
    files = 1 if rows is None else files_for(config, rows, df.sparkSession.sparkContext.defaultParallelism)
    writer = _writer(_laid_out(df, parts, files), t, parts, config).mode("append")
    if new_columns:
        writer = writer.option("mergeSchema", "true")
    writer.save(config.table_path(name))


def replace_run(df: DataFrame, config: DtksConfig, name: str, run_id: str) -> None:
    """Replace this run's partition only: one commit, earlier runs untouched."""
    t = table(name)
    writer = _writer(df.coalesce(1), t, t.partition_by, config).mode("overwrite")
    if exists(df.sparkSession, config, name):
        writer = writer.option("replaceWhere", f"run_id = '{check_run_id(run_id)}'")  # a plain name: no quote
    writer.save(config.table_path(name))


def _on(keys: Sequence[str]) -> str:
    return " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)


def insert_new(
    spark: SparkSession, config: DtksConfig, name: str, df: DataFrame, rows: int | None = None,
    new_columns: bool = False, few: bool = False,
) -> None:
    """Insert the rows whose key the table lacks; an insert-only MERGE (no matched clause), so Delta
    neither rewrites target files nor copies the source first. `df` must be unique on the keys.
    `new_columns`: the rows may bring columns the table lacks (a table that gained a field), added to its
    schema; its earlier rows hold null there. `few`: `df` is a delivery's few rows against a national table:
    the keys the table already holds are found by streaming its key columns past `df`'s keys (broadcast when
    small), and the other rows appended, where the MERGE's anti-join, whose only side Spark can broadcast is
    the table, shuffles the table whole. One commit either way (the run's lock keeps writers out between)."""
    t = table(name)
    if not exists(spark, config, name):
        overwrite(df, config, name, rows=rows)
        return
    if few and not new_columns:
        keys = list(t.keys)
        held = read(spark, config, name).select(*keys).join(df.select(*keys), keys, "left_semi")
        append(df.join(held, keys, "left_anti"), config, name)
        return
    merge = DeltaTable.forPath(spark, config.table_path(name)).alias("t").merge(
        _laid_out(df, t.partition_by).alias("s"), _on(t.keys))
    if new_columns:
        merge = merge.withSchemaEvolution()
    merge.whenNotMatchedInsertAll().execute()


def newer_rows(spark: SparkSession, config: DtksConfig, name: str, df: DataFrame) -> DataFrame:
    """The rows of `df` whose key the table lacks or holds an older version of (by `order_by`)."""
    t = table(name)
    if not exists(spark, config, name):
        return df
    current = read(spark, config, name).select(*t.keys, F.col(t.order_by).alias("_t_order"))
    return (
        df.join(current, list(t.keys), "left")
        .where(F.col("_t_order").isNull() | (F.col(t.order_by) > F.col("_t_order")))
        .drop("_t_order")
    )


def upsert(spark: SparkSession, config: DtksConfig, name: str, rows: DataFrame) -> None:
    """MERGE rows that are new or replace their key's row (e.g. `newer_rows`); the table must exist."""
    t = table(name)
    (
        DeltaTable.forPath(spark, config.table_path(name))
        .alias("t")
        .merge(rows.alias("s"), _on(t.keys))
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )


def merge_newer(spark: SparkSession, config: DtksConfig, name: str, df: DataFrame, rows: int | None = None) -> None:
    """Keep the latest version of each key: only new keys and rows newer than the table's are MERGEd,
    so a re-delivery of unchanged rows touches no file."""
    if not exists(spark, config, name):
        overwrite(df, config, name, rows=rows)
        return
    upsert(spark, config, name, newer_rows(spark, config, name, df))


# A change set of at most this many rows the table holds is broadcast to its MERGE: Delta copies a MERGE source
# that is not a Delta scan, and the copy has no size estimate, so Spark would never broadcast it (docs/BENCHMARKS.md,
# issue 42's twentieth session: a 1 % update round's widest change set, silver_members', is well under it).
BROADCAST_ROWS = 250_000


def merge_changes(
    spark: SparkSession,
    config: DtksConfig,
    name: str,
    changes: DataFrame,
    delete: str,
    update: Mapping[str, str] | None = None,
    changed: str | None = None,
    new: str | None = None,
) -> None:
    """MERGE a change set: rows where `delete` holds are deleted, unmatched rows are inserted (without
    the flag columns), and other matched rows get `update`; by default every column, and only where the
    row's content changed (`row_hash`, or the condition `changed` over t and s), so a row that did not
    change is not touched.

    `new`: a column of the change set, true where the table's latest version lacks the row's key (the change
    set was compared with that version). Those rows are appended after a MERGE of the others that has no
    insert clause. With one, Delta joins the change set with the files it touches by an outer join, whose
    only side Spark can broadcast is the table, so a change spread over the nation shuffles the table whole;
    without one the join is inner, and a change set of a few per cent of the rows is broadcast (BROADCAST_ROWS,
    counted here: Spark cannot see the size of the copy Delta makes of the change set). The change set is read
    three times (the count, the MERGE, the append): a stored one. Two commits
    (none for an empty part); a re-run compares its change set with the latest version again, so what the first
    commit applied is not applied twice."""
    t = table(name)
    columns = [c for c in changes.columns if c not in (delete, new)]
    inserts = None
    if new is not None:
        is_new = F.col(new).eqNullSafe(True)
        parts = {r[0]: r[1] for r in changes.groupBy(is_new.alias(new)).count().collect()}  # at most two rows
        inserts = changes.where(is_new & ~F.col(delete)).select(*columns) if parts.get(True) else None
        if not parts.get(False):
            if inserts is not None:
                append(inserts, config, name, rows=parts[True])
            return
        changes = changes.where(~is_new).drop(new)
        if parts[False] <= BROADCAST_ROWS:
            changes = F.broadcast(changes)
    merge = (
        DeltaTable.forPath(spark, config.table_path(name))
        .alias("t")
        .merge(changes.alias("s"), _on(t.keys))
        .whenMatchedDelete(condition=f"s.`{delete}`")
    )
    if update is None:
        merge = merge.whenMatchedUpdate(
            condition=changed or f"t.`{ROW_HASH}` <> s.`{ROW_HASH}`", set={c: f"s.`{c}`" for c in columns}
        )
    else:
        merge = merge.whenMatchedUpdate(set=dict(update))
    if new is None:
        merge = merge.whenNotMatchedInsert(condition=f"NOT s.`{delete}`", values={c: f"s.`{c}`" for c in columns})
    merge.execute()
    if inserts is not None:
        append(inserts, config, name, rows=parts[True])


_GONE = "_gone"


def replace_within(spark: SparkSession, config: DtksConfig, name: str, rows: DataFrame, within: DataFrame | None,
                   column: str = "household_id", changed: str | None = None,
                   stage: Callable[[DataFrame], DataFrame] | None = None) -> None:
    """`rows` replace the stored rows of the groups `within` names (a frame of `column`, e.g. the households an
    update round re-matched): a stored row of those groups that `rows` does not hold again is deleted, the rest
    MERGEd as `merge_changes` does (`changed`: its condition); other groups are untouched. `within` None, or no
    table yet: `rows` are the whole table. `stage` stores the change set first (a MERGE source that would
    otherwise be computed twice)."""
    if within is None or not exists(spark, config, name):
        overwrite(rows, config, name)
        return
    keys = list(table(name).keys)
    gone = (read(spark, config, name).join(within, column, "left_semi")
            .join(rows.select(*keys), keys, "left_anti").select(*keys))
    changes = rows.withColumn(_GONE, F.lit(False)).unionByName(gone.withColumn(_GONE, F.lit(True)),
                                                               allowMissingColumns=True)
    merge_changes(spark, config, name, changes if stage is None else stage(changes), delete=_GONE, changed=changed)


def has_columns(spark: SparkSession, config: DtksConfig, name: str, *columns: str) -> bool:
    """Whether the table exists with these columns (a lakehouse written before they were added has not)."""
    return exists(spark, config, name) and set(columns) <= set(read(spark, config, name).columns)


def create_empty(spark: SparkSession, config: DtksConfig, name: str, df: DataFrame) -> None:
    """Create a table with `df`'s schema and the catalog's properties, holding no rows."""
    t = table(name)
    _writer(df.limit(0), t, t.partition_by, config).mode("overwrite").save(config.table_path(name))


def _log(spark: SparkSession, config: DtksConfig, name: str):
    """Delta's log object of a table (JVM), cached by Delta per path."""
    jvm = spark.sparkContext._jvm
    return jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, config.table_path(name))


def _snapshot(spark: SparkSession, log_):
    """The latest snapshot of a Delta log object (it lists the log and stops: no Spark job)."""
    empty = spark.sparkContext._jvm.scala.Option.empty()
    return log_.update(False, empty, empty)


def _latest(spark: SparkSession, log_) -> int:
    """The latest version a Delta log object lists."""
    return int(_snapshot(spark, log_).version())


def version(spark: SparkSession, config: DtksConfig, name: str) -> int | None:
    """Latest committed version of a table, or None when it does not exist yet.

    Why Delta's log object rather than `DeltaTable.history`: it lists the log and stops there, where history
    reads the last commit through a Spark job; publications, gates and tests ask for every table's version."""
    if not exists(spark, config, name):
        return None
    return _latest(spark, _log(spark, config, name))


def rows_written(spark: SparkSession, config: DtksConfig, name: str) -> int | None:
    """Rows the table's latest commit wrote, from the Delta log (no scan); None if it does not say."""
    metrics = last_commit(spark, config, name).metrics
    return int(metrics["numOutputRows"]) if "numOutputRows" in metrics else None


@dataclass(frozen=True)
class Commit:
    version: int
    metrics: dict[str, str]  # Delta's operation metrics: numOutputRows, numFiles, ...
    user_metadata: str | None
    operation: str | None = None  # WRITE, MERGE, VACUUM END, ...


def _commit_file(spark: SparkSession, log_, version: int):
    return spark.sparkContext._jvm.org.apache.hadoop.fs.Path(log_.logPath(), f"{version:020d}.json")


def last_commit(spark: SparkSession, config: DtksConfig, name: str) -> Commit:
    """A table's latest commit, its commit file read on the driver (no Spark job, where `DeltaTable.history(1)`
    and Delta's history manager each run one)."""
    jvm = spark.sparkContext._jvm
    log_ = _log(spark, config, name)
    at = _latest(spark, log_)
    info = jvm.org.apache.spark.sql.delta.DeltaHistoryManager.getCommitInfoOpt(
        log_.store(), _commit_file(spark, log_, at), log_.newDeltaHadoopConf())
    if not info.isDefined():
        return Commit(at, {}, None)
    found, note = info.get().operationMetrics(), info.get().userMetadata()
    metrics = dict(jvm.scala.jdk.javaapi.CollectionConverters.asJava(found.get())) if found.isDefined() else {}
    return Commit(at, {str(k): str(v) for k, v in metrics.items()}, str(note.get()) if note.isDefined() else None,
                  str(info.get().operation()))


def commit_age_hours(spark: SparkSession, config: DtksConfig, name: str, version: int) -> float | None:
    """Hours since `version` of a table was committed (its commit file's time, as `DeltaTable.history` gives
    it), or None when that commit file is no longer in the log. Read on the driver: no Spark job."""
    log_ = _log(spark, config, name)
    path = _commit_file(spark, log_, version)
    fs = path.getFileSystem(log_.newDeltaHadoopConf())
    if not fs.exists(path):
        return None
    now_ms = spark.sparkContext._jvm.java.lang.System.currentTimeMillis()
    return (now_ms - fs.getFileStatus(path).getModificationTime()) / 3_600_000


def deletion_vectors(spark: SparkSession, config: DtksConfig, name: str) -> int | None:
    """Deletion vectors in a table's latest version, as its log records them (no scan); None when the log
    does not say (a table that does not support them has none)."""
    found = _snapshot(spark, _log(spark, config, name)).numDeletionVectorsOpt()
    return int(found.get()) if found.isDefined() else None


STAGING = "_staging"


class Staging:
    """A run's scratch area in the lakehouse: intermediate rows written once, read back by the writes
    that follow. Cheaper than caching (no in-memory encoding, no driver memory) and, on a cluster, on
    storage every executor reads. Plain Parquet: as Delta it cost 43 more Spark jobs per ingest (log
    commits and snapshots). Its commit is Spark's file committer, so an object-store lakehouse needs a
    safe one (docs/DEPLOYMENT.md). It holds raw NIKs (for the vault), so it never outlives its stage."""

    def __init__(self, spark: SparkSession, path: str) -> None:
        self.spark, self.path = spark, path

    def put(self, name: str, df: DataFrame) -> DataFrame:
        """Compute `df` once (its Observations fire here) and return the stored rows."""
        target = f"{self.path}/{name}"
        df.write.mode("overwrite").parquet(target)
        return self.spark.read.schema(df.schema).parquet(target)  # known schema: no footer-reading job

    def drop(self) -> None:
        jvm = self.spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(self.path)
        path.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)


@contextmanager
def staging(spark: SparkSession, config: DtksConfig, run_id: str) -> Iterator[Staging]:
    """The run's own staging folder, <lakehouse>/_staging/<run_id>, removed on exit, failed or not (a
    failure to remove it is logged, never allowed to hide the stage's own error)."""
    area = Staging(spark, config.table_path(f"{STAGING}/{check_run_id(run_id)}"))  # never outside _staging
    area.drop()
    try:
        yield area
    finally:
        try:
            area.drop()
        except Exception:  # noqa: BLE001 - e.g. the JVM is already gone; the next stage's start removes it
            log.exception("could not remove the staging area %s", area.path)


def remove_stale_staging(config: DtksConfig) -> None:
    """Remove every staging folder of a local lakehouse (killed stages' leftovers). Only for a stage that
    holds the lakehouse lock, so no other run's folder is in use; object-store lakehouses have no lock,
    so there each run removes only its own."""
    shutil.rmtree(config.path(config.table_path(STAGING)), ignore_errors=True)


# Columns a content hash leaves out: the run that wrote the row, and a linked member's match_probability (the
# pair's probability when the link was made, not a fact of the member: an update round does not score again the
# links of rosters it does not re-match, docs/CONTRACTS.md).
HASH_EXCLUDED = (ROW_HASH, "ingest_run_id", "match_probability")


def row_hash(columns: Sequence[str]) -> Column:
    """A content hash of the given columns: says whether a row changed since the last run.

    Two 64-bit xxHash values (the second salted) as hex: native and cheap, and a change kept unseen only
    with probability 2^-128; the columns are taken in name order so column order does not matter. One SQL
    expression (runtime/sql.py says why)."""
    cols = ", ".join(sql.ident(c) for c in sorted(columns))
    return F.expr(f"concat(hex(xxhash64({cols})), ':', hex(xxhash64('dtks', {cols})))")


def latest_publication(spark: SparkSession, config: DtksConfig) -> Row | None:
    """The latest `publications` row (its coverage target, population P, models and gold versions), or
    None before the first publish.

    Publish writes three tables in three commits and then appends one `publications` row: that last
    commit is the switch. A publish killed in between leaves this pointing at the previous set, so a
    reader going through it sees the previous publication or the new one, never a mix.
    """
    if not exists(spark, config, PUBLICATIONS):
        return None
    return read(spark, config, PUBLICATIONS).orderBy(F.col("publication_id").desc()).first()


def current_versions(spark: SparkSession, config: DtksConfig) -> dict[str, int]:
    """The latest versions of the tables a publication pins (those that exist): what a new publication records."""
    found = {name: version(spark, config, name) for name in PUBLISHED}
    return {name: v for name, v in found.items() if v is not None}


def published_versions(spark: SparkSession, config: DtksConfig) -> dict[str, int] | None:
    """The gold table versions of the latest complete publish, or None before the first one."""
    row = latest_publication(spark, config)
    return pinned_by(row) if row else None


def pinned_by(publication: Row | None) -> dict[str, int]:
    """The table versions a `publications` row pins (none before the first publish: each table's latest), for
    `read_published` by a reader that holds the row."""
    return dict(publication.versions or {}) if publication is not None else {}


def read_published(spark: SparkSession, config: DtksConfig, name: str,
                   versions: dict[str, int] | None = None) -> DataFrame:
    """A gold table as of the latest complete publish (the table's latest version when none recorded).
    `versions`: that publication's, from its row when the caller holds it (publications is not read again)."""
    if versions is None:
        versions = published_versions(spark, config) or {}
    return read(spark, config, name, versions.get(name))
