"""What a person at the terminal sees while dtks runs, and where everything else goes.

The terminal gets a header, a live line per running stage (its current step and Spark's job and task
progress), and each stage's summary. Spark's and py4j's log, MLflow's and matplotlib's messages and
Python warnings go to the run's log file: `quiet` points file descriptors 1 and 2 at it before the JVM
starts (the JVM inherits them), so nothing reaches the terminal behind dtks's back. `--verbose` keeps
them on the terminal as well. On a terminal the live line is redrawn in place (rich); in CI and in
files it becomes plain timestamped lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PLAIN_EVERY = 30.0  # seconds between two plain progress lines of one step (CI logs stay short)


class Console:
    """The terminal's stream; `live` when it is a terminal that can redraw a line."""

    def __init__(self, stream: TextIO, live: bool | None = None) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)


_current = Console(sys.stdout, live=False)


def console() -> Console:
    """Where dtks's own lines go: the terminal under `quiet`, else standard output."""
    return _current


def say(text: str = "") -> None:
    _current.line(text)


@contextlib.contextmanager
def quiet(log_file: Path, verbose: bool = False) -> Iterator[Console]:
    """Everything but dtks's own lines goes to `log_file` (also to the terminal with `verbose`)."""
    global _current
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    before = (root.level, list(root.handlers), _current)
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("py4j", "urllib3", "alembic", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    terminal = io.TextIOWrapper(os.fdopen(os.dup(saved_out), "wb", buffering=0), write_through=True)
    streams = (sys.stdout, sys.stderr)
    if verbose:
        root.handlers.append(_stderr_handler(os.fdopen(os.dup(saved_err), "w", buffering=1)))
    else:
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0, closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0, closefd=False), write_through=True)
    _current = Console(terminal)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield _current
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        logging.captureWarnings(False)
        handler.close()
        root.setLevel(before[0])
        root.handlers = before[1]
        _current = before[2]
        terminal.close()


def _stderr_handler(stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


class Progress:
    """A running stage's live line: its current step, and Spark's progress polled from the status
    tracker (active jobs, their tasks done of all)."""

    def __init__(self, stage: str, spark: Callable[[], object | None], out: Console | None = None) -> None:
        self.stage, self._spark, self.out = stage, spark, out or console()
        self.step_text = "starting"
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = None
        self._last_plain = (None, 0.0)
        self._showing = threading.Lock()  # the stage's thread and the poller both show: one line at a time

    def step(self, text: str) -> None:
        self.step_text = text
        logging.getLogger("dtks").info("%s: %s", self.stage, text)
        self._show(force=True)

    def spark_progress(self) -> str:
        spark = self._spark()
        if spark is None:
            return ""
        try:
            tracker = spark.sparkContext.statusTracker()
            jobs = tracker.getActiveJobsIds()
            if not jobs:
                return ""
            done = total = 0
            for stage_id in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage_id)
                if info is not None:
                    done, total = done + info.numCompletedTasks, total + info.numTasks
            return f"Spark job {max(jobs)}: {done}/{total} tasks" if total else f"Spark job {max(jobs)}"
        except Exception:  # the session may be stopping: progress is best effort
            return ""

    def text(self) -> str:
        spark = self.spark_progress()
        return f"{self.stage:<9} {self.step_text}" + (f" · {spark}" if spark else "") + \
            f" · {time.monotonic() - self.t0:.0f} s"

    def _show(self, force: bool = False) -> None:
        with self._showing:
            self._show_now(force)

    def _show_now(self, force: bool) -> None:
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(self.text()))
            return
        if self.out.live:
            return
        now = time.monotonic()
        last_step, last_at = self._last_plain
        if force or last_step != self.step_text or now - last_at >= PLAIN_EVERY:
            stamp = dt.datetime.now().strftime("%H:%M:%S")
            self.out.line(f"{stamp} {self.text()}")
            self._last_plain = (self.step_text, now)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._show()

    def __enter__(self) -> Progress:
        if self.out.live:
            from rich.console import Console as RichConsole
            from rich.live import Live
            from rich.text import Text

            self._live = Live(Text(self.text()), console=RichConsole(file=self.out.stream), transient=True,
                              auto_refresh=True, refresh_per_second=4)
            self._live.__enter__()
        self._thread = threading.Thread(target=self._run, name=f"dtks-progress-{self.stage}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None
