"""One writer per lakehouse: a lock file taken before a stage (or a whole `dtks run`) writes anything.

Delta keeps each table consistent under concurrent writers, but two pipeline runs interleaving
their MERGEs over a dozen tables would publish a mix of both. So a run takes `_dtks.lock` in the
lakehouse root first, with an exclusive create, and a second run stops at once with a message that
names the holder. A lock left behind by a killed process on this host is taken over: its pid no
longer runs. On an object store without atomic create (S3), runs must be serialised by the scheduler.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.runtime.config import DtksConfig
from jobs.runtime.errors import UserError

LOCK_NAME = "_dtks.lock"
log = logging.getLogger(__name__)
_held: dict[Path, int] = {}  # lock path -> nesting depth held by this process (`dtks run` holds it across stages)


class LakehouseBusyError(UserError):
    """Another run holds the lakehouse."""


def lock_path(config: DtksConfig) -> Path | None:
    """Where the lock lives; None for object-store lakehouses (scheduler-serialised, see module doc)."""
    root = config.lakehouse_root
    if "://" in root and not root.startswith("file://"):
        return None
    return config.path(root) / LOCK_NAME


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _try_create(path: Path, holder: dict) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        json.dump(holder, handle)
    return True


def _stale(holder: dict, path: Path) -> bool:
    """Held by a process of this host that is gone (or an unreadable lock older than a minute)."""
    if not holder:
        age = dt.datetime.now().timestamp() - path.stat().st_mtime if path.exists() else 0
        return age > 60
    return holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", 0)))


def acquire(config: DtksConfig, run_id: str, stage: str) -> Path | None:
    path = lock_path(config)
    if path is None:
        log.warning("lakehouse %s is on an object store: no lock is taken; the scheduler must run one "
                    "pipeline at a time", config.lakehouse)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = {
        "run_id": run_id,
        "stage": stage,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    for _ in range(3):
        if _try_create(path, holder):
            return path
        current = _read(path)
        if not _stale(current, path):
            raise LakehouseBusyError(
                f"lakehouse {path.parent} is in use by run {current.get('run_id', '?')} "
                f"(stage {current.get('stage', '?')}, pid {current.get('pid', '?')} on {current.get('host', '?')}, "
                f"since {current.get('since', '?')}); nothing was written. Wait for it to finish; if that "
                f"process is gone, remove {path}"
            )
        # Take over a dead holder's lock: rename is atomic, so only one contender wins it. If what was
        # renamed is not the lock judged stale (a contender took over in between), give it back.
        moved = path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
        try:
            os.rename(path, moved)
        except FileNotFoundError:
            continue
        if _read(moved) != current:
            try:
                os.link(moved, path)
            except FileExistsError:
                pass
            moved.unlink(missing_ok=True)
            continue
        moved.unlink(missing_ok=True)
        log.warning("took over the lakehouse lock of run %s (pid %s is no longer running): it was interrupted",
                    current.get("run_id", "?"), current.get("pid", "?"))
    raise LakehouseBusyError(f"could not take the lakehouse lock {path}: another run keeps taking it")


@contextmanager
def hold(config: DtksConfig, run_id: str, stage: str) -> Iterator[None]:
    """Hold the lakehouse for the block; re-entrant within one process."""
    path = lock_path(config)
    if path is not None and _held.get(path):
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    path = acquire(config, run_id, stage)
    if path is None:
        yield
        return
    _held[path] = 1
    try:
        yield
    finally:
        _held.pop(path, None)
        if _read(path).get("pid") == os.getpid():
            path.unlink(missing_ok=True)
