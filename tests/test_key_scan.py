"""The NIK key leaves no trace where an attacker would look (local mode; the cluster test does the same
on the standalone cluster): ingest and train run with the event log and the UI on, then every event log,
UI REST page, driver log line, MLflow param and tag, pipeline_runs row and Delta commit is searched for the
key and its HMAC pads, raw, hex and base64."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pyspark.sql import functions as F

from runtime.config import PROJECT_ROOT
from tests import key_scan
from tests.conftest import make_config

KEY = os.environ["DTKS_NIK_KEY"].encode()


def test_the_scan_finds_key_material_in_a_plan_that_holds_it(spark):
    """The search is not blind: a plan with the pad as a literal (how tokens were once computed) is caught."""
    inner, _ = key_scan.pads(KEY)
    clean = spark.range(1).select(F.sha2(F.lit(b"3273015708900001"), 256))
    df = spark.range(1).select(F.sha2(F.concat(F.lit(inner), F.lit(b"3273015708900001")), 256))
    assert key_scan.scan({"plan": clean._jdf.queryExecution().toString().encode()}, KEY) == []
    assert any(hit.startswith("plan: inner pad")
               for hit in key_scan.scan({"plan": df._jdf.queryExecution().toString().encode()}, KEY))


@pytest.mark.e2e  # ingest and train in a process of their own, with the event log and the UI on
def test_no_key_material_in_event_logs_ui_logs_mlflow_or_tables(spark, nation_landing, tmp_path):
    out = tmp_path / "scan"
    env = os.environ | {"PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, "-m", "tests.key_scan", str(nation_landing), str(out)], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, timeout=1500)
    assert done.returncode == 0, done.stderr.decode()[-5000:]
    events = key_scan.event_logs(spark, out / "events")
    ui = key_scan.files(out / "ui", "ui")
    lake = out / "lake"
    delta_logs = {k: v for k, v in key_scan.files(lake, "lakehouse").items() if "/_delta_log/" in k}
    config = make_config(tmp_path, lakehouse_root=str(lake))
    blobs = (events | ui | delta_logs | {"driver stdout": done.stdout, "driver stderr": done.stderr}
             | key_scan.mlflow_dump(f"sqlite:///{out / 'mlflow.db'}")
             | key_scan.table_dump(spark, config, "pipeline_runs"))
    # What was searched holds the plans that tokenised: they name the function, not its key.
    assert len(events) == 1
    log = next(iter(events.values()))
    assert b"SparkListenerSQLExecutionStart" in log and b"dtks_nik_token" in log
    sql = [v for k, v in ui.items() if k.endswith("_sql")]
    assert sql and any(b"dtks_nik_token" in v for v in sql)
    assert b'"params"' in blobs["mlflow"] and b"ingest" in blobs["pipeline_runs"]
    assert key_scan.scan(blobs, KEY) == []
