"""`make clean`: remove what the demo made in the project folder, and never a delivery.

The demo's landing zone (`landing/`, a nation `dtks generate` wrote) goes, and with it the lakehouse,
MLflow store and reports built from it. When `landing/` holds anything generate did not write (a
delivery; jobs/core/deliveries.py), or is absent while a lakehouse is there (a register built from a
landing zone elsewhere), those four stay and one line says so. A trial folder (`trials/<regions>/`)
goes only when its landing zone is absent or generated. Build and test outputs (.venv, .cache, ...)
are removed by the Makefile. Runs with any Python 3.11, before or after `.venv` exists.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.core.deliveries import foreign  # noqa: E402 - after the project is on the path

DEMO_OUTPUTS = ("lakehouse", "mlruns", "reports")  # written from landing/ by the demo (conf/base.yaml paths)


def clean(root: Path) -> list[str]:
    """Remove the demo's outputs under `root`; the lines to show for what was kept."""
    said = []
    landing = root / "landing"
    found = foreign(str(landing))
    built = [name for name in DEMO_OUTPUTS if (root / name).exists()]
    if found:
        said.append(f"kept {', '.join(['landing', *built])}: landing holds a delivery ({found})")
    elif not landing.exists() and (root / "lakehouse").exists():
        said.append(f"kept {', '.join(built)}: no demo landing zone beside them (built from a landing zone elsewhere)")
    else:
        for name in ("landing", *DEMO_OUTPUTS):
            shutil.rmtree(root / name, ignore_errors=True)
    trials = root / "trials"
    for trial in sorted(trials.iterdir()) if trials.is_dir() else []:
        found = foreign(str(trial / "landing")) if trial.is_dir() else None
        if found:
            said.append(f"kept {trial.relative_to(root)}: its landing holds a delivery ({found})")
        else:
            shutil.rmtree(trial) if trial.is_dir() else trial.unlink()
    if trials.is_dir() and not any(trials.iterdir()):
        trials.rmdir()
    return said


if __name__ == "__main__":
    for line in clean(Path.cwd()):
        print(f"make clean: {line}")
