"""What a landing zone holds: a provider's delivery, or a nation `dtks generate` wrote there.

No command replaces input it did not write. Generate replaces a folder only when it is absent, empty, or
exactly what generate wrote: its manifest.json (whose `generator` starts with `dtks generate`), the folders
that manifest counts rows of, and in them only the files it lists, each of the size it was written with.
Anything else is a delivery: generate refuses it, `dtks run` skips generate over it, `make clean` keeps it.
Here, below generate and `dtks run` (and without Spark: `make clean` reads it before any package is
installed); a folder on an object store is listed through the Spark session's Hadoop file system.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from runtime.errors import UserError
from runtime.locations import is_local

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

GENERATOR = "dtks generate"  # manifest.json's `generator` starts with this in every folder generate writes
MANIFEST = "manifest.json"
FILES = "files"  # manifest.json: every file generate wrote in its folders, by path under the landing root -> bytes


def sizes(path: str, spark: SparkSession | None) -> dict[str, int]:
    """Every file under folder `path` (at any depth, hidden ones too), by its path under `path`, with its size."""
    if is_local(path):
        root = path.removeprefix("file://").rstrip("/")
        return {os.path.relpath(os.path.join(where, name), root): os.path.getsize(os.path.join(where, name))
                for where, _, names in os.walk(root) for name in names}
    if spark is None:
        raise ValueError(f"{path}: a remote folder is listed through Spark")
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    base = fs.makeQualified(target).toString().rstrip("/") + "/"
    found, listing = {}, fs.listFiles(target, True)
    while listing.hasNext():
        status = listing.next()
        found[status.getPath().toString().removeprefix(base)] = int(status.getLen())
    return found


def _listing(path: str, spark: SparkSession | None) -> list[str] | None:
    """The names in folder `path` (None: no such folder); object stores through Hadoop's file system."""
    if is_local(path):
        local = path.removeprefix("file://")
        if not os.path.exists(local):
            return None
        return sorted(os.listdir(local)) if os.path.isdir(local) else [os.path.basename(local)]
    if spark is None:
        raise ValueError(f"{path}: a remote folder is listed through Spark")
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(target):
        return None
    return sorted(status.getPath().getName() for status in fs.listStatus(target))


def _read_text(path: str, spark: SparkSession | None) -> str:
    if is_local(path):
        with open(path.removeprefix("file://"), encoding="utf-8") as handle:
            return handle.read()
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    stream = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).open(target)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode("utf-8")
    finally:
        stream.close()


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def foreign(path: str, spark: SparkSession | None = None) -> str | None:
    """What in folder `path` generate did not write, in a few words; None when generate may replace it: the
    folder is absent, empty, or holds exactly a manifest.json whose `generator` starts with `dtks generate`
    and the folders that manifest counts rows of (and the manifest's checksum sidecar), nothing else; and in
    those folders only files the manifest lists, each of the size it was written with (a file added to a
    generated folder, or one rewritten since, is a provider's)."""
    names = _listing(path, spark)
    if not names:
        return None
    if MANIFEST not in names:
        return f"no {MANIFEST} of dtks generate, and {_some(names)}"
    try:
        manifest = json.loads(_read_text(f"{path.rstrip('/')}/{MANIFEST}", spark))
    except (OSError, UnicodeDecodeError, ValueError):
        return f"a {MANIFEST} that is not dtks generate's"
    if not isinstance(manifest, dict) or not str(manifest.get("generator", "")).startswith(GENERATOR):
        return f"a {MANIFEST} that dtks generate did not write"
    counted = manifest.get("row_counts")
    folders = {str(name).split("/")[0] for name in counted} if isinstance(counted, dict) else set()
    extra = [name for name in names if name not in folders | {MANIFEST, f".{MANIFEST}.crc"}]
    if extra:
        return f"{_some(extra)} beside dtks generate's files"
    written = manifest.get(FILES)
    if not isinstance(written, dict):
        return f"a {MANIFEST} of an older dtks generate, without its list of files"
    root = path.rstrip("/")
    held = {f"{name}/{inner}": size for name in names if name in folders
            for inner, size in sizes(f"{root}/{name}", spark).items()}
    changed = sorted(name for name, size in held.items() if written.get(name) != size)
    return f"{_some(changed)}, which dtks generate did not write" if changed else None


def check_replaceable(path: str, spark: SparkSession | None = None, what: str = "--out") -> None:
    """One clear line, nothing touched, when generate may not replace `path` (`foreign`)."""
    found = foreign(path, spark)
    if found:
        raise UserError(f"{what} {path} holds {found}: generate replaces only a folder that is absent, empty or "
                        "written by dtks generate; nothing was touched")
