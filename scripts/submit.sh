#!/usr/bin/env bash
# Submit one pipeline stage with spark-submit: the project's code as dist/dtks.zip (--py-files), Delta's
# JARs (--jars) and the cluster configuration (--env cluster unless the stage options say otherwise).
#   scripts/submit.sh STAGE [spark-submit options --] [stage options]
# e.g. scripts/submit.sh ingest --master spark://127.0.0.1:7077 --total-executor-cores 2 -- --landing /data/landing
#      scripts/submit.sh publish --master local[2] -- --env local --coverage 0.4
#      scripts/submit.sh run --master spark://127.0.0.1:7077 -- --stages ingest,train,score,publish  (one application)
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
STAGE_OPTS=("$@")
if [[ " ${STAGE_OPTS[*]} " != *" --env "* && " ${STAGE_OPTS[*]} " != *" --help "* ]]; then
  STAGE_OPTS+=(--env cluster)
fi
# `run` (several stages in one application) goes through the dtks command; a stage through its own file.
if [[ "$STAGE" == "run" ]]; then MAIN=("$ROOT/jobs/cli.py" run); else MAIN=("$ROOT/jobs/${STAGE//-/_}/stage.py"); fi
[[ -f "${MAIN[0]}" ]] || { echo "submit.sh: no stage $STAGE (jobs/${STAGE//-/_}/stage.py)" >&2; exit 2; }
export PATH="$VENV/bin:$PATH"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$VENV/bin/python}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$VENV/bin/python}"
export SPARK_HOME="${SPARK_HOME:-$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
# The driver reads conf/ from this checkout (the code itself comes from the zip); the zip carries the commit.
export DTKS_CONF_DIR="${DTKS_CONF_DIR:-$ROOT/conf}"
ZIP="$("$ROOT/scripts/package.sh")"
# The driver JVM starts before the job's session factory runs: give it the factory's JVM options here.
JVM_OPTIONS="$("$VENV/bin/python" -c 'from runtime.spark import JVM_OPTIONS; print(JVM_OPTIONS)')"
export DTKS_CODE_VERSION="${DTKS_CODE_VERSION:-$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
exec "$SPARK_HOME/bin/spark-submit" --jars "$("$VENV/bin/dtks" jars)" --py-files "$ZIP" \
  --conf "spark.pyspark.python=$PYSPARK_PYTHON" --driver-java-options "$JVM_OPTIONS" "${SUBMIT_OPTS[@]}" "${MAIN[@]}" "${STAGE_OPTS[@]}"
