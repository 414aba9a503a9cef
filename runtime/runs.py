"""Run ids, code version and the `pipeline_runs` table: one row per run and stage."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from runtime import tables
from runtime.config import PROJECT_ROOT, DtksConfig

PIPELINE_RUNS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("stage", T.StringType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("finished_at", T.TimestampType(), False),
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("rows_in", T.LongType(), True),
        T.StructField("rows_out", T.LongType(), True),
        T.StructField("model_version", T.StringType(), True),
        T.StructField("code_version", T.StringType(), False),
        T.StructField("env", T.StringType(), False),
        T.StructField("message", T.StringType(), True),
        T.StructField("details", T.MapType(T.StringType(), T.StringType()), True),
    ]
)


def new_run_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=5,
                          check=True).stdout.strip()


def code_version() -> str:
    """Git commit of the code that ran (DTKS_CODE_VERSION wins, e.g. when shipped as a wheel)."""
    if os.environ.get("DTKS_CODE_VERSION"):
        return os.environ["DTKS_CODE_VERSION"]
    try:
        sha = _git("rev-parse", "--short=12", "HEAD")
        return sha + ("-dirty" if _git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_seconds(spark: SparkSession | None) -> float:
    """CPU time of this Python process and, in local mode, of the JVM it started (which also runs the
    executors): the cost of a stage on this machine. 0 for a JVM this process did not start."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    proc = getattr(getattr(spark.sparkContext, "_gateway", None), "proc", None) if spark is not None else None
    if proc is not None:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


@dataclass
class StageResult:
    """What a stage reports: rows read and written, and anything worth keeping."""

    rows_in: int | None = None
    rows_out: int | None = None
    model_version: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)


def record(
    spark: SparkSession,
    config: DtksConfig,
    run_id: str,
    stage: str,
    status: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    result: StageResult | None,
    message: str | None = None,
) -> None:
    """Append one row to pipeline_runs (an append is one Delta commit, safe beside readers)."""
    result = result or StageResult()
    row = (
        run_id,
        stage,
        status,
        started_at.replace(tzinfo=None),
        finished_at.replace(tzinfo=None),
        (finished_at - started_at).total_seconds(),
        result.rows_in,
        result.rows_out,
        result.model_version,
        code_version(),
        config.env,
        message,
        {k: str(v) for k, v in result.details.items()},
    )
    tables.append(spark.createDataFrame([row], PIPELINE_RUNS_SCHEMA), config, tables.PIPELINE_RUNS)
