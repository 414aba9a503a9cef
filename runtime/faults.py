"""Fault-injection points for the reliability tests: a no-op unless DTKS_FAILPOINT names the point.

At a named point the process writes its pid to `$DTKS_FAILPOINT_DIR/reached` and waits until a file
`release` appears there, so a test can kill it (SIGKILL) or let it go at exactly that moment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "DTKS_FAILPOINT"
DIR_ENV = "DTKS_FAILPOINT_DIR"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) != name:
        return
    folder = Path(os.environ[DIR_ENV])
    (folder / "reached").write_text(str(os.getpid()))
    while not (folder / "release").exists():
        time.sleep(0.1)
