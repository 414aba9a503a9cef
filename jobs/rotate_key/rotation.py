"""The re-tokenisation behind `dtks rotate-key`: pure transforms of each table with tokens, and the
order and resumable writes of a rotation (see jobs/rotate_key/stage.py for the rules).

Which tables and columns hold tokens is the table catalog's (runtime/tables.py: `Table.tokens`,
`token_rule`, `hashed`, `carries`, `published`); this module names no table. Its special cases are chosen by
those attributes: the vault (VAULT_TOKENS) first, a column of an array of structs (`array.field`, the
survey's roster entries), a column only some of whose values are tokens (SOME_TOKENS: quarantine record
keys), a row_hash recomputed (`hashed`) and a row_hash carried from such a table (`carries`: the scores,
dtks_members)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

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
    return df.withColumn(tables.ROW_HASH, tables.row_hash([c for c in df.columns if c not in tables.HASH_EXCLUDED]))




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


def nested_retokened(df: DataFrame, column: str, keys: list[str], tokens: DataFrame) -> DataFrame:
    """`array.field` (a token in each struct of an array column, e.g. silver_survey's roster entries) with
    every old token replaced, each array's entries kept in their order; rows are found again by `keys`."""
    array, name = column.split(".", 1)
    kind = df.schema[array].dataType
    entries = df.select(*keys, F.posexplode(array).alias("_pos", "_m")).select(*keys, "_pos", "_m.*")
    fields = kind.elementType.fieldNames()
    entries = retoken(entries, name, tokens)
    rebuilt = entries.groupBy(*keys).agg(
        F.sort_array(F.collect_list(F.struct("_pos", F.struct(*fields).alias("_m")))).alias("_r"))
    out = df.drop(array).join(rebuilt, keys, "left").withColumn(
        array, F.coalesce(F.transform("_r", lambda e: e["_m"]), F.array().cast(kind))).drop("_r")
    return out.select(*df.columns)


def record_key_is_token(column: str) -> Column:
    """Which quarantine record keys are tokens: a registry record's NIK token, or a row token of any source
    (a household id or `household:member` key is no token and stays)."""
    registry = F.col("source").isin(contract.REGISTRY, contract.REGISTRY_CHANGES)
    return registry | F.col(column).startswith(pseudonym.ROW)


# The token rules of the catalog (runtime/tables.py TOKEN_RULES) that say which values of a column are tokens;
# under ALL_TOKENS every value is one, and the vault's tokens are recomputed from its identifiers.
SOME_TOKENS: dict[str, Callable[[str], Column]] = {tables.RECORD_KEY_TOKENS: record_key_is_token}


def retokened(df: DataFrame, t: tables.Table, tokens: DataFrame) -> DataFrame:
    """A table's rows with each of its declared token columns re-keyed (a column the stored table lacks,
    written before it was added, is skipped), under the table's token rule."""
    for column in t.tokens:
        if column.split(".", 1)[0] not in df.columns:
            continue
        if "." in column:
            df = nested_retokened(df, column, list(t.keys), tokens)
        else:
            rule = SOME_TOKENS.get(t.token_rule)
            df = retoken(df, column, tokens, rule(column) if rule else None)
    return df


def order() -> list[tables.Table]:
    """The tables `dtks rotate-key` rewrites, in dependency order: the vault first (its old and new tokens
    are the map every other table is re-keyed with); then every table with token columns or carrying another's
    row_hash, those a publication does not pin before those it pins (a rotation killed in between leaves the
    publication as it was), and within each a table carrying a row_hash after the tables whose hashes
    move. Tables with neither (dtks_households, program_eligibility, ...) are not rotated."""
    vault = [t for t in tables.CATALOG.values() if t.token_rule == tables.VAULT_TOKENS]
    if len(vault) != 1:
        raise ValueError(f"the catalog names {len(vault)} identity vaults; rotation needs exactly one")
    rest = [t for t in tables.CATALOG.values() if t not in vault and (t.tokens or t.carries)]
    return vault + sorted(rest, key=lambda t: (t.published, t.carries is not None))  # stable: catalog order


# ---------------------------------------------------------------- the stage


def marker(key: str) -> str:
    return f"dtks rotate-key to {key}"


def source_version(spark: SparkSession, config: DtksConfig, name: str, mark: str) -> tuple[int, bool]:
    """The version to rotate from, and whether the table is rotated already (its last commit is ours)."""
    last = tables.last_commit(spark, config, name)
    return (last.version - 1, True) if last.user_metadata == mark else (last.version, False)


class Rotation:
    """Each table with tokens, from its pre-rotation version to a rotated commit, in dependency order (`order`)."""

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
        plan = order()
        vault = plan[0]
        old, done = self.before(vault.name)
        column = vault.tokens[0]
        tokens = self.put("tokens", old.select(F.col(column).alias(OLD), nik.token(F.col("nik"), NEW).alias(TO)))
        self.write(vault.name, old.select(nik.token(F.col("nik"), NEW).alias(column), "nik"), done)
        carried_by = {t.carries for t in plan if t.carries}
        moves: dict[str, DataFrame] = {}
        pinned = False
        for t in plan[1:]:
            if t.published and not pinned:
                faults.failpoint("rotate.before_gold")  # every table the publication pins is still as it was
                pinned = True
            if not self.exists(t.name):
                continue
            old, done = self.before(t.name)
            columns = [c for c in t.tokens if c.split(".", 1)[0] in old.columns]
            follows = moves.get(t.carries) if t.carries else None
            if not columns and follows is None:
                continue
            new = retokened(old, t, tokens).select(*old.columns)
            if t.hashed:
                new = rehashed(new)
                if t.name in carried_by:
                    new = self.put(t.name, new)
                    moves[t.name] = hash_moves(old, new, list(t.keys))
            if follows is not None:
                new = carried(new, follows, list(tables.table(t.carries).keys))
            self.write(t.name, new, done)


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
