"""The key scan is not blind: where it searches (event logs, UI pages, logs, MLflow, pipeline_runs, Delta logs)
it finds the NIK key's material when a plan holds it. The searches themselves run on real runs:
tests/test_console.py (local, event log on) and tests/test_cluster.py (the standalone cluster, with the
history server's UI)."""

from __future__ import annotations

import os

from pyspark.sql import functions as F

from tests import key_scan

KEY = os.environ["DTKS_NIK_KEY"].encode()
def test_the_scan_finds_key_material_in_a_plan_that_holds_it(spark):
    """The search is not blind: a plan with the pad as a literal (how tokens were once computed) is caught."""
    inner, _ = key_scan.pads(KEY)
    clean = spark.range(1).select(F.sha2(F.lit(b"3273015708900001"), 256))
    df = spark.range(1).select(F.sha2(F.concat(F.lit(inner), F.lit(b"3273015708900001")), 256))
    assert key_scan.scan({"plan": clean._jdf.queryExecution().toString().encode()}, KEY) == []
    assert any(hit.startswith("plan: inner pad")
               for hit in key_scan.scan({"plan": df._jdf.queryExecution().toString().encode()}, KEY))
