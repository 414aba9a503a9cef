"""The one SparkSession factory, used by every job and every test.

Delta's JARs and dtks's NIK token function come from the local cache filled at set-up
(scripts/fetch_delta_jars.sh, scripts/build_jvm.sh), never from the network.
Under spark-submit the master and resources set on the command line are kept.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from runtime.config import PROJECT_ROOT, DtksConfig
from runtime.errors import SparkSetupError

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
# Keys that spark-submit owns: never overridden when launched by it.
SUBMIT_OWNED = (
    "spark.master",
    "spark.submit.deployMode",
    "spark.driver.memory",
    "spark.driver.cores",
    "spark.executor.memory",
    "spark.executor.cores",
    "spark.executor.instances",
    "spark.cores.max",
    "spark.jars",
)
# JVM options for driver and executors. Whole-stage code generation turns a compiled model (one Add
# over ~50 CASE chains) into a method above HotSpot's 8,000-byte JIT limit, which would then run
# interpreted; -XX:-DontCompileHugeMethods lets the JIT compile it (measured in docs/BENCHMARKS.md,
# Notes). UTC keeps the JVM's default zone out of dates.
# A fused stage past that limit still runs slowly when compiled (the members' check: a join, the rules,
# the NIK rules, a window and the tokens in one method), so such a stage is not fused: Spark's advice for
# HotSpot (spark.sql.codegen.hugeMethodLimit), measured in docs/BENCHMARKS.md, Notes.
HUGE_METHOD_LIMIT = "8000"
JVM_OPTIONS = "-Duser.timezone=UTC -XX:-DontCompileHugeMethods"
REDACTION = r"(?i)secret|password|token|access[.]?key|nik.?key"


def jars_dir() -> Path:
    """DTKS_JARS_DIR, or the set-up's folder when it is unset or empty (as the set-up scripts read it)."""
    return Path(os.environ.get("DTKS_JARS_DIR") or PROJECT_ROOT / ".cache" / "jars")


TOKEN_JAR = "dtks-nik-token.jar"
# The JVM's class archive for local sessions (scripts/class_archive.py, made by `make setup` beside the JARs).
CLASS_ARCHIVE = "dtks-classes.jsa"
LOCAL_FS = "id.dtks.LocalFileSystem"
LOCAL_FILE_CONTEXT = "id.dtks.LocalFs"  # the same, as FileContext (Delta's log commits) sees it


def delta_jars() -> list[str]:
    """The JARs made at set-up (Delta's and the NIK token function); a clear error if set-up has not run."""
    folder = jars_dir()
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not jars or not (folder / ".complete").exists():
        raise SparkSetupError(
            f"Delta JARs not found in {folder}: run `make setup` (or scripts/fetch_delta_jars.sh) once"
        )
    if not (folder / TOKEN_JAR).exists():
        raise SparkSetupError(f"{folder / TOKEN_JAR} not found: run `make setup` (or scripts/build_jvm.sh) once")
    return jars


def launched_by_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands the Python driver its gateway port."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def class_archive_options(archive: Path) -> str:
    """JVM options that map classes from `archive` (application class-data sharing) when it exists. A JVM
    that cannot use it (another class path or JDK) starts without it, silently: the archive only saves time."""
    if not archive.is_file():
        return ""
    return f"-XX:SharedArchiveFile={archive} -Xshare:auto -Xlog:cds=off,cds+dynamic=off"


def build_conf(config: DtksConfig, submitted: bool, cores: int | None = None,
               class_archive: bool = True) -> dict[str, str]:
    """The Spark settings for this config; pure so it can be tested without starting Spark. `class_archive`:
    a local session's JVM maps its classes from the archive made at set-up, when there is one."""
    cores = cores or os.cpu_count() or 2
    spark = config.spark
    conf = {
        "spark.app.name": spark.app_name,
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": str(spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        # Defence in depth only (the key is never a conf: jobs/core/nik.py): a conf named like the NIK key is
        # masked in the UI and event log, as Spark masks secrets and passwords by default.
        "spark.redaction.regex": REDACTION,
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions or 2 * cores),
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.codegen.hugeMethodLimit": HUGE_METHOD_LIMIT,
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.sources.partitionOverwriteMode": "static",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.extraJavaOptions": JVM_OPTIONS,
        "spark.executor.extraJavaOptions": JVM_OPTIONS,
        "spark.sql.warehouse.dir": str(Path(config.lakehouse) / "_warehouse")
        if "://" not in config.lakehouse
        else f"{config.lakehouse}/_warehouse",
    }
    if not submitted:
        conf["spark.master"] = spark.master
        conf["spark.driver.memory"] = spark.driver_memory
        # Local mode: the driver is the only executor, so the JARs go on the JVM's own class path (not
        # spark.jars, which Spark serves to executors and loads through a class loader of its own): the class
        # archive covers the class path only. The local lakehouse's file system (jobs/jvm LocalFileSystem,
        # LocalFs: a file's permissions and links without a `chmod` or `readlink` process per file) needs it
        # there anyway, before any file is opened.
        conf["spark.driver.extraClassPath"] = os.pathsep.join(delta_jars())
        conf["spark.hadoop.fs.file.impl"] = LOCAL_FS
        conf["spark.hadoop.fs.AbstractFileSystem.file.impl"] = LOCAL_FILE_CONTEXT
    conf.update(spark.extra)
    if submitted:
        for key in SUBMIT_OWNED:
            conf.pop(key, None)
    elif class_archive and (sharing := class_archive_options(jars_dir() / CLASS_ARCHIVE)):
        conf["spark.driver.extraJavaOptions"] = f"{conf.get('spark.driver.extraJavaOptions', '')} {sharing}".strip()
    return conf


def get_spark(config: DtksConfig, class_archive: bool = True) -> SparkSession:
    """Return the SparkSession for this process, creating it with Delta configured (`class_archive`: False
    only for the JVM that makes the archive)."""
    submitted = launched_by_spark_submit()
    if not submitted or "PYSPARK_PYTHON" not in os.environ:
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("TZ", "UTC")
    builder = SparkSession.builder
    for key, value in build_conf(config, submitted, class_archive=class_archive).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    _check_delta(spark, submitted)
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _check_delta(spark: SparkSession, submitted: bool) -> None:
    jvm = spark.sparkContext._jvm
    try:
        jvm.java.lang.Thread.currentThread().getContextClassLoader().loadClass(DELTA_EXTENSION)
    except Exception as exc:  # py4j raises a generic Py4JJavaError
        hint = "pass Delta's JARs to spark-submit: --jars $(dtks jars)" if submitted else "run `make setup`"
        raise SparkSetupError(f"Delta Lake classes are not on the classpath: {hint}") from exc
