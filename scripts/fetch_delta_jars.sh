#!/usr/bin/env bash
# Fetch Delta Lake's JARs once, from Maven Central through the machine's Maven settings, into
# .cache/jars. Jars whose artifact pyspark already ships are dropped so Spark's own versions
# stay the only ones on the classpath. After this, Spark sessions use local files only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="${DTKS_JARS_DIR:-$ROOT/.cache/jars}"
if [[ -f "$OUT/.complete" ]]; then exit 0; fi
PYSPARK_JARS="$("$PY" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP" "$TMP.log"' EXIT
mvn -q -B -f "$ROOT/scripts/delta-jars/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$TMP" >"$TMP.log" 2>&1 || { cat "$TMP.log"; exit 1; }
mkdir -p "$OUT"
# Only the jars an earlier fetch put here (listed in .fetched) are replaced: $DTKS_JARS_DIR may hold others.
if [[ -f "$OUT/.fetched" ]]; then
  while read -r old; do [[ -n "$old" && "$old" != */* ]] && rm -f "$OUT/$old"; done < "$OUT/.fetched"
fi
: > "$OUT/.fetched"
for jar in "$TMP"/*.jar; do
  name="$(basename "$jar")"
  base="$(echo "$name" | sed -E 's/-[0-9][0-9.]*(-[0-9]+)?\.jar$//')"
  if compgen -G "$PYSPARK_JARS/$base-[0-9]*.jar" >/dev/null; then continue; fi
  cp "$jar" "$OUT/"
  echo "$name" >> "$OUT/.fetched"
done
cp "$OUT/.fetched" "$OUT/.complete"
echo "Delta jars in $OUT: $(wc -l < "$OUT/.complete")"
