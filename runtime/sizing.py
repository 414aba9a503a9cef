"""Spark settings fitted to the size of the nation a stage works on (conf/base.yaml, spark.small_input).

Why: on a few tens of thousands of households, adaptive re-planning and whole-stage code generation cost
more than they save (each query's generated classes are compiled, then compiled again by the JIT, for a
few thousand rows), while a national round needs both. Each stage measures, before it runs, the bytes
on disk of the landing zone and of silver_members, the larger of the two: an update round's small
delivery still works against the national tables. Under the limit the stage runs with the configured
SQL settings; over it, with the session's own. Only spark.sql.* settings change, which Spark reads per
query, so the stages of one `dtks run` may differ.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from runtime import tables
from runtime.config import DtksConfig
from runtime.locations import is_local

MB = 1024 * 1024


def _size(path: str) -> int:
    """A file's bytes; 0 for one that went away while it was listed, or a dangling link."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _local_bytes(path: str, limit: int) -> int:
    root = Path(path.removeprefix("file://"))
    total = 0
    for folder, _, files in os.walk(root):
        total += sum(_size(os.path.join(folder, f)) for f in files)
        if total >= limit:
            break
    return total


def _bytes(spark: SparkSession, path: str, limit: int) -> int:
    """Bytes of the files under `path`, counted until `limit` (a national folder is not listed to its end)."""
    if is_local(path):
        return _local_bytes(path, limit)
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(target):
        return 0
    files, total = fs.listFiles(target, True), 0
    while total < limit and files.hasNext():
        total += files.next().getLen()
    return total


def nation_mb(spark: SparkSession, config: DtksConfig, limit_mb: float = float("inf")) -> float:
    """The larger of the landing zone's and silver_members' bytes on disk, in MB (counted up to `limit_mb`)."""
    landing = config.location(config.landing.root)
    limit = int(min(limit_mb, 2.0**52) * MB)
    return max(_bytes(spark, landing, limit), _bytes(spark, config.table_path(tables.MEMBERS), limit)) / MB


class Fitted:
    """The session's own values of the small-input settings, to go back to when a stage's input is large."""

    def __init__(self, spark: SparkSession, config: DtksConfig) -> None:
        self.spark, self.config = spark, config
        self.own = {key: spark.conf.get(key, None) for key in config.spark.small_input.sql}

    def fit(self, sized: bool = True, mb: float | None = None) -> bool:
        """Apply the small-input settings or the session's own, for the stage about to run (`sized`: one
        whose work grows with the nation; `mb`: its nation's size as the stage knows it, for generate, whose
        landing zone is its output; None: measured on disk); True if small."""
        small_input = self.config.spark.small_input
        small = (sized and small_input.max_mb > 0
                 and (nation_mb(self.spark, self.config, small_input.max_mb) if mb is None else mb)
                 < small_input.max_mb)
        for key, value in small_input.sql.items():
            own = self.own[key]
            if small:
                self.spark.conf.set(key, value)
            elif own is None:
                self.spark.conf.unset(key)
            else:
                self.spark.conf.set(key, own)
        return small
