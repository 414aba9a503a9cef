"""How a stage runs: parse arguments, load config, get Spark, run, record in pipeline_runs.

A stage module (jobs/<step>/stage.py, listed in jobs/stages.py) defines NAME, HELP, add_arguments(parser)
and run(ctx, args) -> StageResult (optionally SIZED = False: its Spark settings do not follow the size of
the nation on disk, runtime/sizing.py, unless it calls ctx.fit with the size of the nation it makes), and
ends with ``if __name__ == "__main__": main_for(...)`` so that both `dtks <stage>` and
`spark-submit jobs/<step>/stage.py` work. This module runs a stage it is given; it knows no stage by name,
so the runtime never imports jobs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Literal, get_args, get_origin

from pyspark.sql import SparkSession

from runtime import lock, runs, tables
from runtime.config import ConfigError, DtksConfig, check_run_id, load_config
from runtime.console import LOG_FORMAT, Progress, quiet, say
from runtime.sizing import Fitted

log = logging.getLogger("dtks")


@dataclass
class StageContext:
    """What a stage needs from outside: config, Spark (started on first use) and the run id."""

    config: DtksConfig
    run_id: str
    _spark: SparkSession | None = field(default=None, repr=False)
    stage: str | None = None
    progress: Progress | None = field(default=None, repr=False)
    steps: list[tuple[str, float]] = field(default_factory=list, repr=False)
    sized: bool = field(default=False, repr=False)  # the current stage's settings follow the nation's size
    small: bool = field(default=False, repr=False)  # and it is small (runtime/sizing.py)
    _fitted: Fitted | None = field(default=None, repr=False)

    def step(self, key: str, text: str) -> None:
        """Say what the stage is doing now (`text`: the live line on a terminal; the log always), and time it:
        each step's seconds are recorded under its short `key` in pipeline_runs (details `steps`), so a
        benchmark or a test can tell what a step costs without reading the operator's sentence."""
        self.steps.append((key, time.perf_counter()))
        self.label_jobs()
        if self.progress is not None:
            self.progress.step(text)
        else:
            log.info("%s: %s", self.stage, text)

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            from runtime.spark import get_spark

            self._spark = get_spark(self.config)
            self._fitted = Fitted(self._spark, self.config)
            self.label_jobs()
            self.fit()
        return self._spark

    def fit(self, mb: float | None = None) -> None:
        """The current stage's Spark settings for the nation's size (runtime/sizing.py): measured on disk, or
        `mb` when the stage knows the size of the nation it makes (generate)."""
        if self._fitted is not None:
            self.small = self._fitted.fit(self.sized or mb is not None, mb)

    @property
    def job_group(self) -> str:
        return f"{self.run_id}:{self.stage}"

    def label_jobs(self) -> None:
        """Spark jobs started from here on belong to the current stage (counted in pipeline_runs) and are
        described by its step's key, as the Spark UI and the event log show them (`dtks ingest: check`)."""
        if self._spark is not None and self.stage is not None:
            step = f": {self.steps[-1][0]}" if self.steps else ""
            self._spark.sparkContext.setJobGroup(self.job_group, f"dtks {self.stage}{step}")


def stage_arguments(stage: ModuleType, **values) -> argparse.Namespace:
    """A stage's arguments with its defaults, overridden by `values` it knows (used by `dtks run` and
    tests). A value for a config flag becomes an override in `overrides`, as on the command line."""
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    stage.add_arguments(parser)
    args = parser.parse_args([])
    flags = {a.dest: a.key for a in parser._actions if isinstance(a, _ConfigFlag)}
    for key, value in sorted(values.items(), key=lambda item: item[0] in flags):  # overrides before flags
        if key in flags:
            args.overrides = [*args.overrides, f"{flags[key]}={value}"]
        elif hasattr(args, key):
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
    parser.add_argument("--run-id", type=_run_id,
                        help="run id to record (default: a new one): letters, digits, - and _")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show Spark's, MLflow's and Python's messages live (they always go to the run's log)")
    parser.add_argument(
        "--regions",
        type=_region_list,
        help="verval trial: only these provinces or regencies (comma-separated codes, e.g. 31,3201 or 32.01), "
        "in their own lakehouse under trial.root",
    )


class _ConfigFlag(argparse.Action):
    """A flag that is shorthand for `--set KEY=VALUE`: its value joins the config overrides, so the
    config's own model validates it and an error names the key."""

    def __init__(self, option_strings, dest, key: str, **kwargs):
        self.key = key
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.overrides = [*getattr(namespace, "overrides", []), f"{self.key}={values}"]


def config_flag(parser: argparse.ArgumentParser, flag: str, key: str, help: str) -> None:
    """Add `flag` as shorthand for `--set key=VALUE` (its help names the key; a key with a fixed set of
    values offers them as choices). The parsed arguments hold no value of their own for it: a stage
    reads the setting from its config."""
    annotation = DtksConfig
    for part in key.split("."):
        annotation = annotation.model_fields[part].annotation  # a key the config lacks fails here, at import
    choices = get_args(annotation) if get_origin(annotation) is Literal else None
    parser.add_argument(flag, action=_ConfigFlag, key=key, dest=flag.lstrip("-").replace("-", "_"),
                        default=argparse.SUPPRESS, help=f"{help} (sets {key})", choices=choices)


def _run_id(text: str) -> str:
    try:
        return check_run_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _region_list(text: str) -> list[str]:
    return [code.strip() for code in text.split(",") if code.strip()]  # trial.regions reads the notation


def execute(ctx: StageContext, stage: ModuleType, args: argparse.Namespace, echo: bool = True) -> runs.StageResult:
    """Run one stage, time it, record it in pipeline_runs (also when it fails)."""
    name = stage.NAME
    with lock.hold(ctx.config, ctx.run_id, name):  # a second run stops here, before any work
        if lock.lock_path(ctx.config) is not None:  # a lock is held: a killed stage's staged rows go first
            tables.remove_stale_staging(ctx.config)
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        cpu0 = runs.cpu_seconds(ctx._spark)
        ctx.stage = name
        ctx.steps = []
        ctx.sized = getattr(stage, "SIZED", True)
        ctx.label_jobs()
        ctx.fit()
        try:
            with Progress(name, lambda: ctx._spark) if echo else contextlib.nullcontext() as progress:
                ctx.progress = progress
                result = stage.run(ctx, args)
            result.details["steps"] = step_seconds(ctx.steps, time.perf_counter())
            if ctx._spark is not None:  # Spark jobs and CPU of this stage, in the process that ran them
                tracker = ctx.spark.sparkContext.statusTracker()
                result.details["spark_jobs"] = str(len(tracker.getJobIdsForGroup(ctx.job_group)))
                result.details["cpu_seconds"] = f"{runs.cpu_seconds(ctx.spark) - cpu0:.1f}"
                result.details["small_input"] = str(ctx.small).lower()
        except Exception as exc:
            ctx.progress = None
            finished = dt.datetime.now(dt.UTC)
            if ctx._spark is not None:
                runs.record(ctx.spark, ctx.config, ctx.run_id, name, "FAILED", started, finished, None, _short(exc))
            raise
        ctx.progress = None
        finished = dt.datetime.now(dt.UTC)
        runs.record(ctx.spark, ctx.config, ctx.run_id, name, "SUCCEEDED", started, finished, result)
    if echo:
        say(progress_line(name, result, time.perf_counter() - t0))
    return result


def step_seconds(steps: list[tuple[str, float]], end: float) -> str:
    """JSON [[step key, seconds], ...]: each step lasts until the next one starts, the last until `end`."""
    ends = [t for _, t in steps[1:]] + [end] if steps else []
    return json.dumps([[key, round(stop - start, 2)] for (key, start), stop in zip(steps, ends, strict=True)])


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


def main_for(stage: ModuleType, argv: list[str] | None = None) -> int:
    """Entry for `spark-submit jobs/<step>/stage.py ...`: same arguments as `dtks <stage>`. The driver JVM
    is spark-submit's own here, so its log stays where spark-submit sends it; Python's goes there too."""
    parser = argparse.ArgumentParser(prog=f"spark-submit {stage.__file__}", description=stage.HELP)
    add_common_arguments(parser)
    stage.add_arguments(parser)
    args = parser.parse_args(argv)
    return guarded(lambda: execute(context_from_args(args), stage, args))


def console_run(args: argparse.Namespace, title: str, action: Callable[[StageContext], None],
                command: bool = False) -> int:
    """`dtks` from a terminal: a header, then `action` with everything but dtks's own lines in the run's
    log (reports/<run_id>/dtks.log), whose path the header names. A `command` (status, diff, export)
    writes nothing of a run: no header, its messages appended to reports/commands.log."""

    def body() -> None:
        ctx = context_from_args(args)
        reports = ctx.config.path(ctx.config.reports_dir)
        log_file = reports / "commands.log" if command else ctx.config.run_folder(ctx.run_id) / "dtks.log"
        with quiet(log_file, verbose=args.verbose):
            if not command:
                say(f"dtks {title} · run {ctx.run_id} · env {ctx.config.env} · lakehouse {ctx.config.lakehouse}")
                say(f"log: {_shown(log_file)}" + (" (also shown here: --verbose)" if args.verbose else ""))
            action(ctx)

    return guarded(body)


def _shown(path: Path) -> str:
    """A path as short as it can be said: relative to the working directory when below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def guarded(action) -> int:
    """Turn user-fixable errors into one clear line and exit code 2; let bugs show their trace."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    from runtime.errors import UserError

    try:
        action()
    except (ConfigError, UserError) as exc:
        print(f"dtks: error: {exc}", file=sys.stderr)
        return 2
    return 0
