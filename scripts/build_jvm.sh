#!/usr/bin/env bash
# Build dtks's JVM function (jobs/jvm: the keyed NIK token) with Maven and put its JAR beside Delta's in
# .cache/jars, where the session factory and `dtks jars` (for spark-submit --jars) find it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${DTKS_JARS_DIR:-$ROOT/.cache/jars}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
mvn -q -B -f "$ROOT/jobs/jvm/pom.xml" package >"$LOG" 2>&1 || { cat "$LOG"; exit 1; }
mkdir -p "$OUT"
cp "$ROOT/jobs/jvm/target/dtks-nik-token.jar" "$OUT/dtks-nik-token.jar"
echo "NIK token function in $OUT/dtks-nik-token.jar"
