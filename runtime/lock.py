"""One writer per lakehouse: a lock taken before a stage (or a whole `dtks run`) writes anything.

Delta keeps each table consistent under concurrent writers, but two pipeline runs interleaving
their MERGEs over a dozen tables would publish a mix of both. So a run takes a kernel `flock` on
`_dtks.lock` in the lakehouse root first and writes itself into the file; a second run stops at once
with a message that names the holder. The kernel releases the lock when its holder dies, so a killed
run never blocks the next (on NFS the client maps flock to NFS locks). On an object store (no file
locks), runs must be serialised by the scheduler.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runtime.config import DtksConfig
from runtime.errors import UserError

LOCK_NAME = "_dtks.lock"
log = logging.getLogger(__name__)
_held: dict[Path, list[int]] = {}  # lock path -> [fd, nesting depth] held by this process (`dtks run` nests)


class LakehouseBusyError(UserError):
    """Another run holds the lakehouse."""


def lock_path(config: DtksConfig) -> Path | None:
    """Where the lock lives; None for object-store lakehouses (scheduler-serialised, see module doc)."""
    root = config.lakehouse_root
    if "://" in root and not root.startswith("file://"):
        return None
    return config.path(root) / LOCK_NAME


def _holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 1 << 16, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def holder(config: DtksConfig) -> dict | None:
    """Who holds the lock, read without taking it (so a reader never stands in a run's way): the holder
    the lock file names, with `alive` false when that process has ended on this host (the next run takes
    the lock over); None when the file names no holder, or on an object store."""
    path = lock_path(config)
    if path is None or not path.exists():
        return None
    try:
        current = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return None
    if not current:
        return None
    alive = True
    if current.get("host") == socket.gethostname() and isinstance(current.get("pid"), int):
        try:
            os.kill(current["pid"], 0)
        except ProcessLookupError:
            alive = False
        except PermissionError:
            pass
    return current | {"alive": alive}


def acquire(config: DtksConfig, run_id: str, stage: str) -> int | None:
    """The locked file's descriptor (held until `release`), or None on an object store."""
    path = lock_path(config)
    if path is None:
        log.warning("lakehouse %s is on an object store: no lock is taken; the scheduler must run one "
                    "pipeline at a time", config.lakehouse)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        current = _holder(fd)
        os.close(fd)
        raise LakehouseBusyError(
            f"lakehouse {path.parent} is in use by run {current.get('run_id', '?')} "
            f"(stage {current.get('stage', '?')}, pid {current.get('pid', '?')} on {current.get('host', '?')}, "
            f"since {current.get('since', '?')}); nothing was written. Wait for it to finish"
        ) from None
    previous = _holder(fd)
    if previous:  # a holder that ended without releasing: it was killed
        log.warning("took over the lakehouse lock of run %s (pid %s ended without releasing it): it was interrupted",
                    previous.get("run_id", "?"), previous.get("pid", "?"))
    holder = {"run_id": run_id, "stage": stage, "pid": os.getpid(), "host": socket.gethostname(),
              "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    return fd


def release(fd: int) -> None:
    """Clear the holder and give the lock back (a process that dies skips this; the kernel unlocks)."""
    os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextmanager
def hold(config: DtksConfig, run_id: str, stage: str) -> Iterator[None]:
    """Hold the lakehouse for the block; re-entrant within one process."""
    path = lock_path(config)
    if path is not None and path in _held:
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    fd = acquire(config, run_id, stage)
    if fd is None:
        yield
        return
    _held[path] = [fd, 1]
    try:
        yield
    finally:
        _held.pop(path, None)
        release(fd)
