"""Small reads of a local lakehouse without Spark, for the read-only commands (status, explain).

A help desk asks about one household, an operator about the last runs: a few rows, where starting a JVM
and opening Delta snapshots cost seconds. `deltalake` reads them through its SQL path, which applies
deletion vectors (its `to_pandas()` refuses tables that carry them). An object-store lakehouse is read
through Spark, with the session's storage settings: `local` says which.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from runtime import tables
from runtime.config import DtksConfig
from runtime.locations import is_local


def local(config: DtksConfig) -> bool:
    """Whether the lakehouse is on this machine's file system (read here without Spark)."""
    return is_local(config.lakehouse)


def _path(config: DtksConfig, name: str) -> str:
    return config.table_path(name).removeprefix("file://")


def exists(config: DtksConfig, name: str) -> bool:
    return (Path(_path(config, name)) / "_delta_log").is_dir()


def arrow(config: DtksConfig, name: str, sql: str, version: int | None = None) -> pa.Table:
    """`sql` over table `name` (as `t`, at `version` or the latest), as an Arrow table."""
    from deltalake import DeltaTable, QueryBuilder

    table = DeltaTable(_path(config, name), version=version)
    return _plain_types(pa.table(QueryBuilder().register("t", table).execute(sql).read_all()))


def query(config: DtksConfig, name: str, sql: str, version: int | None = None) -> list[dict[str, Any]]:
    """`arrow`'s few rows as plain values: structs as dicts, maps as dicts, timestamps as Spark gives them to
    Python (naive, in this process's time zone)."""
    return [{k: _plain(v) for k, v in row.items()} for row in arrow(config, name, sql, version).to_pylist()]


def change_feed(config: DtksConfig, name: str, start: int, end: int, columns: list[str]) -> pa.Table:
    """Table `name`'s change data feed from version `start` to `end`: `columns` and `_change_type` and
    `_commit_version` as Spark's `readChangeFeed` gives them (only the columns asked for are read)."""
    from deltalake import DeltaTable

    feed = DeltaTable(_path(config, name)).load_cdf(starting_version=start, ending_version=end,
                                                    columns=[*columns, "_change_type", "_commit_version"])
    return _plain_types(pa.table(feed))


def _plain_type(t: pa.DataType) -> pa.DataType:
    """deltalake gives text as string_view (and lists of it): the types pyarrow's compute functions take."""
    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_plain_type(f.type)) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_plain_type(t.key_type), _plain_type(t.item_type))
    return t


def _plain_types(table: pa.Table) -> pa.Table:
    schema = pa.schema([f.with_type(_plain_type(f.type)) for f in table.schema])
    return table if schema == table.schema else table.cast(schema)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone().replace(tzinfo=None)
    if isinstance(value, list) and value and all(isinstance(x, tuple) and len(x) == 2 for x in value):
        return dict(value)  # a map, as pyarrow lists it
    return value


def literal(text: str) -> str:
    """A SQL string literal (a household id typed by a person)."""
    return "'" + text.replace("'", "''") + "'"


def latest_publication(config: DtksConfig) -> dict[str, Any] | None:
    """The latest `publications` row (runtime/tables.py `latest_publication`), or None before the first."""
    if not exists(config, tables.PUBLICATIONS):
        return None
    found = query(config, tables.PUBLICATIONS, "SELECT * FROM t ORDER BY publication_id DESC LIMIT 1")
    return found[0] if found else None
