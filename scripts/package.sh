#!/usr/bin/env bash
# Build dist/dtks.zip: the project's Python packages (jobs, models, runtime) for spark-submit --py-files, so
# executors on a cluster import the same code as the driver. With the .py files go the packages' data files
# (ASSETS: the report's Jinja2 templates, its CSS and JavaScript, the vendored list.js and its licence, read
# through the package loader, which finds them in the zip). Dependencies (pyspark, pandas, mlflow, Jinja2, ...)
# come from the cluster's Python environment, built from setup.py's pins.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${DTKS_VENV:-$ROOT/.venv}/bin/python"
mkdir -p "$ROOT/dist"
"$PY" - "$ROOT" <<'PY'
import sys, zipfile
from pathlib import Path

root = Path(sys.argv[1])
out = root / "dist" / "dtks.zip"
tmp = out.with_suffix(".zip.partial")
ASSETS = ("jobs/report/templates/*", "jobs/report/assets/*")
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
    for package in ("jobs", "models", "runtime"):
        for path in sorted((root / package).rglob("*.py")):
            zf.write(path, path.relative_to(root).as_posix())
    for pattern in ASSETS:
        for path in sorted(root.glob(pattern)):
            zf.write(path, path.relative_to(root).as_posix())
tmp.replace(out)
print(out)
PY
