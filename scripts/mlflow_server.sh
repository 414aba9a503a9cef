#!/usr/bin/env bash
# An MLflow tracking server for the cluster runs: SQLite backend, artifacts served by the server
# itself (clients use mlflow-artifacts:/ and never touch the artifact folder).
#   scripts/mlflow_server.sh start | stop | status
# Listens on 127.0.0.1:$DTKS_MLFLOW_PORT (5000); state in $DTKS_MLFLOW_DIR (default .mlflow-server/).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${DTKS_VENV:-$ROOT/.venv}"
STATE="${DTKS_MLFLOW_DIR:-$ROOT/.mlflow-server}"
PORT="${DTKS_MLFLOW_PORT:-5000}"
URL="http://127.0.0.1:$PORT"

healthy() { "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('$URL/health', timeout=2)" 2>/dev/null; }

case "${1:-}" in
  start)
    mkdir -p "$STATE/artifacts"
    if healthy; then echo "mlflow_server.sh: something already answers at $URL" >&2; exit 1; fi
    nohup "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$PORT" --workers 1 \
      --backend-store-uri "sqlite:///$STATE/mlflow.db" \
      --artifacts-destination "$STATE/artifacts" --serve-artifacts >"$STATE/server.log" 2>&1 &
    echo $! >"$STATE/server.pid"
    for _ in $(seq 1 120); do healthy && { echo "$URL"; exit 0; }; sleep 0.5; done
    echo "mlflow_server.sh: no answer at $URL after 60 s; see $STATE/server.log" >&2; exit 1
    ;;
  stop)
    if [[ -f "$STATE/server.pid" ]]; then
      pid="$(cat "$STATE/server.pid")"
      # mlflow server runs uvicorn/gunicorn children: stop the whole process group.
      pkill -TERM -P "$pid" 2>/dev/null || true
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$STATE/server.pid"
    fi
    echo "mlflow server stopped"
    ;;
  status)
    if healthy; then echo "$URL healthy"; else echo "$URL not answering"; exit 1; fi
    ;;
  *)
    echo "usage: scripts/mlflow_server.sh start | stop | status" >&2; exit 2
    ;;
esac
