"""Writing generated landing files as one delivery: every folder and its manifest.json into a temporary
sibling, swapped in at the end, so a failed run never leaves a half-written landing zone behind. Each
folder gets a fixed number of files, sorted by key: same seed, same files.

A landing zone may hold what a provider delivered, and no command replaces what it did not write: generate
replaces a folder only when it is absent, empty, or exactly what `dtks generate` wrote there
(jobs/core/deliveries.py), checked before anything is written and again just before the swap.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from jobs.core.contract import CHANGES
from jobs.core.deliveries import FILES, check_replaceable, sizes
from jobs.generate.defects import DEFECTS
from runtime.config import check_run_id
from runtime.errors import UserError

MAX_FILES = 64
WRITE_LANES = 4  # folders written side by side (at most the cores)


def output_files(households: int) -> int:
    """A fixed number of files per folder, from the size only (never from cores or partitions)."""
    return max(1, min(MAX_FILES, math.ceil(households / 250_000)))


def _write(df: DataFrame, path: str, fmt: str, files: int, keys: list[str]) -> None:
    """Fixed file count and key order: the bytes depend on the seed and size only."""
    writer = df.repartition(files, *keys).sortWithinPartitions(*keys).write.mode("overwrite").format(fmt)
    if fmt == "csv":  # RFC 4180: a quote inside a value is doubled (Spark's default escapes it with a backslash)
        writer = writer.option("header", True).option("escape", '"')
    writer.save(path)


def _write_all(spark: SparkSession, frames: dict[str, DataFrame], keys: dict[str, list[str]], root: str,
               fmt: str, n_files: int) -> dict[str, Observation]:
    """Every folder under `root`, a few at a time: each lane takes the next folder not yet taken.

    Why: a folder's write is a few Spark jobs whose last stage has one task per file (one file below 250,000
    households), and the driver plans each job between them; writes side by side keep the cores busy. The
    threads carry the stage's job group (counted in pipeline_runs). The first error is raised once every lane
    has stopped."""
    from pyspark import InheritableThread

    pending, taken = iter(list(frames)), threading.Lock()
    observed: dict[str, Observation] = {}
    errors: list[BaseException] = []

    def lane() -> None:
        while not errors:
            with taken:
                name = next(pending, None)
            if name is None:
                return
            try:
                df, observed[name] = _observed(name, frames[name])
                _write(df, f"{root}/{name}", fmt, n_files, keys[name])
            except BaseException as exc:  # noqa: BLE001 - raised by the caller's thread below
                errors.append(exc)

    lanes = [InheritableThread(target=lane, daemon=True)
             for _ in range(max(1, min(WRITE_LANES, spark.sparkContext.defaultParallelism)))]
    for thread in lanes:
        thread.start()
    for thread in lanes:
        thread.join()
    if errors:
        raise errors[0]
    return {name: observed[name] for name in frames}


def _observed(name: str, df: DataFrame) -> tuple[DataFrame, Observation]:
    """`df` with its row count (and for the manifest's stats, defects and deaths) taken as it is written.

    Why: counting from the write itself spares reading every folder back afterwards.
    """
    metrics = [F.count(F.lit(1)).alias("rows")]
    if name == "truth/defects":
        metrics += [F.sum(F.when(F.col("defect") == d, 1).otherwise(0)).alias(d) for d in DEFECTS]
    if name == "registry":
        metrics.append(F.count("death_date").alias("deaths"))
    if name == "truth/updates":
        metrics += [F.count_if(F.col("change") == c).alias(c) for c in ("RICHER", "POORER", "NEW", *CHANGES)]
    observation = Observation(f"generate {name}")
    return df.observe(observation, *metrics), observation


def read(spark: SparkSession, path: str, fmt: str) -> DataFrame:
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", True).option("inferSchema", False).option("multiLine", True).option(
            "escape", '"')
    return reader.load(path)


def write_landing(spark: SparkSession, frames: dict[str, DataFrame], keys: dict[str, list[str]], n_files: int,
                  out: str, fmt: str, run_id: str,
                  describe: Callable[[dict[str, int], dict[str, Observation]], dict]) -> dict:
    """Write every folder and manifest.json (`describe` makes it from the row counts and the writes'
    Observations) into a temp sibling, then swap it in place of `out` (only where generate may replace it:
    `foreign`, checked before anything is written and again just before the swap)."""
    check_replaceable(out, spark)
    jvm = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    target = jvm.org.apache.hadoop.fs.Path(out)
    fs = target.getFileSystem(hadoop_conf)
    tag = check_run_id(run_id.replace(":", ""))  # the temp siblings stay siblings
    tmp = jvm.org.apache.hadoop.fs.Path(f"{out.rstrip('/')}.tmp-{tag}")
    old = jvm.org.apache.hadoop.fs.Path(f"{out.rstrip('/')}.old-{tag}")
    try:
        observed = _write_all(spark, frames, keys, tmp.toString(), fmt, n_files)
        row_counts = {name: int(observation.get["rows"]) for name, observation in observed.items()}
        manifest = describe(row_counts, observed) | {FILES: sizes(tmp.toString(), spark)}
        stream = fs.create(jvm.org.apache.hadoop.fs.Path(tmp, "manifest.json"), True)
        try:
            stream.write(bytearray(json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"))
        finally:
            stream.close()
        check_replaceable(out, spark)  # nothing delivered there while this run drew its nation
        if fs.exists(target):
            fs.rename(target, old)
        if not fs.rename(tmp, target):
            raise UserError(f"{out}: could not move the new landing zone into place (left in {tmp.toString()})")
        fs.delete(old, True)
    except BaseException:
        fs.delete(tmp, True)
        if fs.exists(old) and not fs.exists(target):
            fs.rename(old, target)
        raise
    return manifest
