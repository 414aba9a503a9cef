#!/usr/bin/env bash
# A Spark standalone cluster on the loopback interface, started from the pyspark installation's own
# classes (no separate Spark download): one master and N workers.
#   scripts/cluster.sh start [WORKERS] [CORES_PER_WORKER] [MEMORY_PER_WORKER]   (default: 2 1 2g)
#   scripts/cluster.sh stop | status
# Master: spark://127.0.0.1:$DTKS_MASTER_PORT (7077), UI on $DTKS_MASTER_UI_PORT (8080).
# Pids, logs and work folders live in $DTKS_CLUSTER_DIR (default .cluster/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${DTKS_VENV:-$ROOT/.venv}"
STATE="${DTKS_CLUSTER_DIR:-$ROOT/.cluster}"
PORT="${DTKS_MASTER_PORT:-7077}"
UI_PORT="${DTKS_MASTER_UI_PORT:-8080}"
SPARK_HOME="$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$VENV/bin/python"
MASTER_URL="spark://127.0.0.1:$PORT"

alive_workers() {
  "$VENV/bin/python" - "$UI_PORT" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2) as r:
        print(json.load(r).get("aliveworkers", 0))
except Exception:
    print(-1)
PY
}

wait_for_workers() {
  local want="$1" got
  for _ in $(seq 1 120); do
    got="$(alive_workers)"
    if [[ "$got" -ge "$want" ]]; then return 0; fi
    sleep 0.5
  done
  echo "cluster.sh: master at $MASTER_URL has $got of $want workers after 60 s; see $STATE/*.log" >&2
  return 1
}

stop_pid() {
  local file="$1" pid
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

case "${1:-}" in
  start)
    workers="${2:-2}" cores="${3:-1}" memory="${4:-2g}"
    mkdir -p "$STATE"
    if [[ -f "$STATE/master.pid" ]] && kill -0 "$(cat "$STATE/master.pid")" 2>/dev/null; then
      echo "cluster.sh: already running ($MASTER_URL); stop it first" >&2; exit 1
    fi
    nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port "$PORT" --webui-port "$UI_PORT" >"$STATE/master.log" 2>&1 &
    echo $! >"$STATE/master.pid"
    for i in $(seq 1 "$workers"); do
      mkdir -p "$STATE/work-$i"
      nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
        --host 127.0.0.1 --cores "$cores" --memory "$memory" --webui-port 0 \
        --work-dir "$STATE/work-$i" "$MASTER_URL" >"$STATE/worker-$i.log" 2>&1 &
      echo $! >"$STATE/worker-$i.pid"
    done
    wait_for_workers "$workers"
    echo "$MASTER_URL ($workers workers x $cores core, $memory; UI http://127.0.0.1:$UI_PORT)"
    ;;
  stop)
    for f in "$STATE"/worker-*.pid; do [[ -e "$f" ]] && stop_pid "$f"; done
    stop_pid "$STATE/master.pid"
    echo "cluster stopped"
    ;;
  status)
    echo "$MASTER_URL: $(alive_workers) alive workers (-1: master not reachable)"
    ;;
  *)
    echo "usage: scripts/cluster.sh start [WORKERS] [CORES] [MEMORY] | stop | status" >&2; exit 2
    ;;
esac
