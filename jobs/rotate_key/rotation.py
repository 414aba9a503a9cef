"""The re-tokenisation behind `dtks rotate-key`: pure transforms of each table with tokens, and the
order and resumable writes of a rotation (see jobs/rotate_key/stage.py for the rules)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core import contract, nik, pseudonym
from runtime import faults, tables
from runtime.config import DtksConfig

NEW = "dtks_nik_token_new"
OLD, TO = "_old_token", "_new_token"
log = logging.getLogger(__name__)


def rekeyed(value: Column) -> Column:
    """A token the vault cannot recompute, keyed again under the new key (a row key keeps its form)."""
    return F.when(value.startswith(pseudonym.ROW),
                  F.concat(F.lit(pseudonym.ROW), nik.token(value, NEW).substr(1, 32))).otherwise(nik.token(value, NEW))


def retoken(df: DataFrame, column: str, tokens: DataFrame, is_token: Column | None = None) -> DataFrame:
    """`column` with every old token replaced by its new one (`tokens`: OLD -> TO, from the vault); a value
    the vault lacks is `rekeyed` where `is_token` (default: every non-null value), else kept."""
    pairs = tokens.select(F.col(OLD).alias("_o"), F.col(TO).alias("_n"))
    value = F.col(column)
    fallback = rekeyed(value) if is_token is None else F.when(is_token, rekeyed(value)).otherwise(value)
    joined = df.join(pairs, value == F.col("_o"), "left")
    return joined.withColumn(column, F.when(F.col("_n").isNotNull(), F.col("_n")).otherwise(fallback)).drop("_o", "_n")


def rehashed(df: DataFrame) -> DataFrame:
    """The content hash again over the row's new tokens (the hash covers every column but the run id)."""
    return df.withColumn(tables.ROW_HASH, tables.row_hash([c for c in df.columns if c not in HASH_EXCLUDED]))


HASH_EXCLUDED = (tables.ROW_HASH, "ingest_run_id")


def hash_moves(old: DataFrame, new: DataFrame, keys: list[str]) -> DataFrame:
    """keys, old hash, new hash of the rows whose hash changed: for the tables that carry it."""
    return (old.select(*keys, F.col(tables.ROW_HASH).alias("_from"))
            .join(new.select(*keys, F.col(tables.ROW_HASH).alias("_to")), keys)
            .where(F.col("_from") != F.col("_to")))


def carried(df: DataFrame, moves: DataFrame, keys: list[str]) -> DataFrame:
    """A table carrying another's row_hash (scores, dtks_members) follows it where it was current."""
    joined = df.join(moves, keys, "left")
    follow = F.col("_from").isNotNull() & (F.col(tables.ROW_HASH) == F.col("_from"))
    columns = [F.when(follow, F.col("_to")).otherwise(F.col(c)).alias(c) if c == tables.ROW_HASH else F.col(c)
               for c in df.columns]
    return joined.select(*columns)


def survey_retokened(survey: DataFrame, tokens: DataFrame) -> DataFrame:
    """silver_survey: the KK token on the household and the NIK token inside each roster entry."""
    out = retoken(survey, "kk_token", tokens) if "kk_token" in survey.columns else survey
    entries = out.select("household_id", F.posexplode("members").alias("_pos", "_m")).select(
        "household_id", "_pos", "_m.*")
    fields = survey.schema["members"].dataType.elementType.fieldNames()
    entries = retoken(entries, "nik_token", tokens)
    rosters = entries.groupBy("household_id").agg(
        F.sort_array(F.collect_list(F.struct("_pos", F.struct(*fields).alias("_m")))).alias("_r"))
    rebuilt = out.drop("members").join(rosters, "household_id", "left").withColumn(
        "members", F.coalesce(F.transform("_r", lambda e: e["_m"]), F.array().cast(survey.schema["members"].dataType))
    ).drop("_r")
    return rebuilt.select(*survey.columns)


def quarantine_retokened(quarantine: DataFrame, tokens: DataFrame) -> DataFrame:
    """Record keys that are tokens: a registry record's NIK token, or a row token of any source (a
    household id or `household:member` key is no token and stays)."""
    registry = F.col("source").isin(contract.REGISTRY, contract.REGISTRY_CHANGES)
    return retoken(quarantine, "record_key", tokens,
                   is_token=registry | F.col("record_key").startswith(pseudonym.ROW)).select(*quarantine.columns)


# ---------------------------------------------------------------- the stage


def marker(key: str) -> str:
    return f"dtks rotate-key to {key}"


def source_version(spark: SparkSession, config: DtksConfig, name: str, mark: str) -> tuple[int, bool]:
    """The version to rotate from, and whether the table is rotated already (its last commit is ours)."""
    row = DeltaTable.forPath(spark, config.table_path(name)).history(1).select("version", "userMetadata").first()
    return (int(row.version) - 1, True) if row.userMetadata == mark else (int(row.version), False)


class Rotation:
    """Each table with tokens, from its pre-rotation version to a rotated commit, in dependency order."""

    def __init__(self, spark: SparkSession, config: DtksConfig, mark: str,
                 put: Callable[[str, DataFrame], DataFrame], written: dict[str, int]) -> None:
        self.spark, self.config, self.mark, self.put, self.written = spark, config, mark, put, written

    def before(self, name: str) -> tuple[DataFrame, bool]:
        version, done = source_version(self.spark, self.config, name, self.mark)
        return tables.read(self.spark, self.config, name, version), done

    def write(self, name: str, df: DataFrame, done: bool) -> None:
        if done:
            return
        tables.overwrite(df, self.config, name, metadata=self.mark)
        self.written[name] = tables.version(self.spark, self.config, name)
        log.info("rotate-key: %s re-tokenised (version %d)", name, self.written[name])

    def exists(self, name: str) -> bool:
        return tables.exists(self.spark, self.config, name)

    def all(self) -> None:
        vault, done = self.before(tables.IDENTITY_VAULT)
        tokens = self.put("tokens", vault.select(F.col("nik_token").alias(OLD), nik.token(F.col("nik"), NEW).alias(TO)))
        self.write(tables.IDENTITY_VAULT, vault.select(nik.token(F.col("nik"), NEW).alias("nik_token"), "nik"), done)
        if self.exists(tables.REGISTRY):
            registry, done = self.before(tables.REGISTRY)
            new = retoken(retoken(registry, "nik_token", tokens), "kk_token", tokens).select(*registry.columns)
            self.write(tables.REGISTRY, rehashed(new), done)
        if self.exists(tables.SURVEY):
            survey, done = self.before(tables.SURVEY)
            self.write(tables.SURVEY, survey_retokened(survey, tokens), done)
        moves = {}
        for name, keys in ((tables.HOUSEHOLDS, ["household_id"]), (tables.MEMBERS, ["household_id", "member_no"])):
            if not self.exists(name):
                continue
            old, done = self.before(name)
            columns = [c for c in ("nik_token", "kk_token") if c in old.columns]
            if not columns:
                continue
            new = old
            for column in columns:
                new = retoken(new, column, tokens)
            new = self.put(name, rehashed(new.select(*old.columns)))
            moves[name] = hash_moves(old, new, keys)
            self.write(name, new, done)
        if self.exists(tables.TRAINING):
            training, done = self.before(tables.TRAINING)
            columns = [c for c in ("nik_token", "kk_token") if c in training.columns]
            for column in columns:
                training = retoken(training, column, tokens)
            if columns:
                self.write(tables.TRAINING, training, done)
        if self.exists(tables.QUARANTINE):
            quarantine, done = self.before(tables.QUARANTINE)
            self.write(tables.QUARANTINE, quarantine_retokened(quarantine, tokens), done)
        for name in (tables.APPEALS, tables.QUEUE, tables.QUEUE_HISTORY):  # an appeal's subject: a head's NIK
            if self.exists(name):
                old, done = self.before(name)
                self.write(name, retoken(old, "head_token", tokens).select(*old.columns), done)
        faults.failpoint("rotate.before_gold")
        if self.exists(tables.SCORES) and tables.HOUSEHOLDS in moves:
            scores, done = self.before(tables.SCORES)
            self.write(tables.SCORES, carried(scores, moves[tables.HOUSEHOLDS], ["household_id"]), done)
        if self.exists(tables.DTKS_MEMBERS):
            gold, done = self.before(tables.DTKS_MEMBERS)
            new = retoken(gold, "nik_token", tokens).select(*gold.columns)
            if tables.MEMBERS in moves:
                new = carried(new, moves[tables.MEMBERS], ["household_id", "member_no"])
            self.write(tables.DTKS_MEMBERS, new, done)


def republish(spark: SparkSession, config: DtksConfig, run_id: str) -> int:
    """The latest publication again, with the gold tables' rotated versions: the one switching commit."""
    latest = tables.latest_publication(spark, config)
    number = latest.publication_id + 1
    fields = latest.asDict() | {
        "publication_id": number,
        "run_id": run_id,
        "published_at": dt.datetime.now(dt.UTC),
        "versions": tables.current_versions(spark, config),
    }
    schema = tables.read(spark, config, tables.PUBLICATIONS).schema
    tables.append(spark.createDataFrame([tuple(fields[f.name] for f in schema.fields)], schema), config,
                  tables.PUBLICATIONS)
    return number
