#!/usr/bin/env bash
# Submit one pipeline stage with spark-submit, the project's Python and Delta's JARs.
#   scripts/submit.sh STAGE [spark-submit options --] [stage options]
# e.g. scripts/submit.sh ingest --master local[2] -- --env local --landing landing
# Master and resources given here are kept by the job (the session factory never overrides them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${DTKS_VENV:-$ROOT/.venv}"
STAGE="${1:?usage: scripts/submit.sh STAGE [spark-submit options --] [stage options]}"
shift
SUBMIT_OPTS=()
if [[ " $* " == *" -- "* ]]; then
  while [[ $# -gt 0 && "$1" != "--" ]]; do SUBMIT_OPTS+=("$1"); shift; done
  shift
fi
export PATH="$VENV/bin:$PATH"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$VENV/bin/python}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$VENV/bin/python}"
export SPARK_HOME="${SPARK_HOME:-$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
exec "$SPARK_HOME/bin/spark-submit" --jars "$("$VENV/bin/dtks" jars)" "${SUBMIT_OPTS[@]}" "$ROOT/jobs/$STAGE.py" "$@"
