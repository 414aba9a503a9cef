"""How a stage runs: parse arguments, load config, get Spark, run, record in pipeline_runs.

A stage module (jobs/<stage>.py, registered in PIPELINE or OPERATOR below) defines NAME, HELP,
add_arguments(parser) and run(ctx, args) -> StageResult, and ends with
``if __name__ == "__main__": main_for(...)`` so that both `dtks <stage>` and `spark-submit jobs/<stage>.py` work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from types import ModuleType

from pyspark.sql import SparkSession

from jobs.runtime import lock, runs, tables
from jobs.runtime.config import ConfigError, DtksConfig, load_config

# The stages, in pipeline order (what `dtks run` runs), and the operator stages beside them: name -> module.
PIPELINE = {
    "generate": "jobs.generate",
    "ingest": "jobs.ingest",
    "train": "jobs.train",
    "score": "jobs.score",
    "publish": "jobs.publish",
    "report": "jobs.report",
}
OPERATOR = {"maintain": "jobs.maintain", "rotate_key": "jobs.rotate_key"}
log = logging.getLogger("dtks")


def available_stages() -> list[str]:
    """The pipeline's stages, in order."""
    return list(PIPELINE)


def stage_module(name: str) -> ModuleType:
    """A stage's module (imported on first use: a stage's dependencies load only when it runs)."""
    modules = PIPELINE | OPERATOR
    if name not in modules:
        raise KeyError(f"no stage {name!r}; stages are {', '.join(modules)}")
    return importlib.import_module(modules[name])


@dataclass
class StageContext:
    """What a stage needs from outside: config, Spark (started on first use) and the run id."""

    config: DtksConfig
    run_id: str
    _spark: SparkSession | None = field(default=None, repr=False)
    stage: str | None = None

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            from jobs.runtime.spark import get_spark

            self._spark = get_spark(self.config)
            self.label_jobs()
        return self._spark

    @property
    def job_group(self) -> str:
        return f"{self.run_id}:{self.stage}"

    def label_jobs(self) -> None:
        """Spark jobs started from here on belong to the current stage (counted in pipeline_runs)."""
        if self._spark is not None and self.stage is not None:
            self._spark.sparkContext.setJobGroup(self.job_group, f"dtks {self.stage}")


def stage_arguments(name: str, **values) -> argparse.Namespace:
    """A stage's arguments with its defaults, overridden by `values` it knows (used by `dtks run`)."""
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    stage_module(name).add_arguments(parser)
    args = parser.parse_args([])
    for key, value in values.items():
        if hasattr(args, key):
            setattr(args, key, value)
    args.run_id = None
    return args


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env", choices=("local", "test", "cluster"), help="config overlay (default: $DTKS_ENV or local)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set ranking.coverage_target=0.4 (repeatable)",
    )
    parser.add_argument("--run-id", help="run id to record (default: a new one)")
    parser.add_argument(
        "--regions",
        type=_region_list,
        help="verval trial: only these provinces or regencies (comma-separated codes, e.g. 31,3201), "
        "in their own lakehouse under trial.root",
    )


def _region_list(text: str) -> list[str]:
    return [code.strip().replace(".", "") for code in text.split(",") if code.strip()]


def execute(ctx: StageContext, name: str, args: argparse.Namespace, echo: bool = True) -> runs.StageResult:
    """Run one stage, time it, record it in pipeline_runs (also when it fails)."""
    module = stage_module(name)
    with lock.hold(ctx.config, ctx.run_id, name):  # a second run stops here, before any work
        if lock.lock_path(ctx.config) is not None:  # a lock is held: a killed stage's staged rows go first
            tables.remove_stale_staging(ctx.config)
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        cpu0 = runs.cpu_seconds(ctx._spark)
        ctx.stage = name
        ctx.label_jobs()
        try:
            result = module.run(ctx, args)
            if ctx._spark is not None:  # Spark jobs and CPU of this stage, in the process that ran them
                tracker = ctx.spark.sparkContext.statusTracker()
                result.details["spark_jobs"] = str(len(tracker.getJobIdsForGroup(ctx.job_group)))
                result.details["cpu_seconds"] = f"{runs.cpu_seconds(ctx.spark) - cpu0:.1f}"
        except Exception as exc:
            finished = dt.datetime.now(dt.UTC)
            if ctx._spark is not None:
                runs.record(ctx.spark, ctx.config, ctx.run_id, name, "FAILED", started, finished, None, _short(exc))
            raise
        finished = dt.datetime.now(dt.UTC)
        runs.record(ctx.spark, ctx.config, ctx.run_id, name, "SUCCEEDED", started, finished, result)
    if echo:
        print(progress_line(name, result, time.perf_counter() - t0), flush=True)
    return result


def progress_line(name: str, result: runs.StageResult, seconds: float) -> str:
    def fmt(n: int | None) -> str:
        return "-" if n is None else f"{n:,}"

    return f"{name:<9} rows in {fmt(result.rows_in):>12}  out {fmt(result.rows_out):>12}  {seconds:7.1f} s"


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def context_from_args(args: argparse.Namespace) -> StageContext:
    overrides = list(args.overrides)
    if getattr(args, "regions", None):
        overrides.append("trial.regions=" + json.dumps(args.regions))
    config = load_config(env=args.env, overrides=overrides)
    return StageContext(config=config, run_id=args.run_id or runs.new_run_id())


def main_for(name: str, argv: list[str] | None = None) -> int:
    """Entry for `spark-submit jobs/<name>.py ...`: same arguments as `dtks <name>`."""
    module = stage_module(name)
    parser = argparse.ArgumentParser(prog=f"jobs/{name}.py", description=module.HELP)
    add_common_arguments(parser)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    return guarded(lambda: execute(context_from_args(args), name, args))


def guarded(action) -> int:
    """Turn user-fixable errors into one clear line and exit code 2; let bugs show their trace."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    from jobs.runtime.errors import UserError

    try:
        action()
    except (ConfigError, UserError) as exc:
        print(f"dtks: error: {exc}", file=sys.stderr)
        return 2
    return 0
