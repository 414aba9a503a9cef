"""The pipeline submitted to a real two-worker Spark standalone cluster, logging to a real MLflow
tracking server over HTTP, gives the same tables as the local-mode run of the same input.

Started from the project's own scripts (scripts/cluster.sh, scripts/mlflow_server.sh, scripts/submit.sh),
exactly as the data platform team runs them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from pyspark.sql import functions as F

from runtime import tables
from runtime.config import PROJECT_ROOT
from runtime.spark import JVM_OPTIONS
from tests import key_scan
from tests.conftest import AS_OF, CHILD_JIT, assert_same_rows, make_config

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]  # in `make test`; alone: `make test-cluster`
SCRIPTS = PROJECT_ROOT / "scripts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*args, env, timeout=600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """A master and two one-core workers on loopback, and an MLflow server: stopped whatever happens."""
    root = tmp_path_factory.mktemp("cluster")
    env = os.environ | {
        "DTKS_CLUSTER_DIR": str(root / "spark"),
        "DTKS_MASTER_PORT": str(free_port()),
        "DTKS_MASTER_UI_PORT": str(free_port()),
        "DTKS_MLFLOW_DIR": str(root / "mlflow"),
        "DTKS_MLFLOW_PORT": str(free_port()),
        "PYSPARK_PYTHON": sys.executable,
    }
    try:
        # Both at once: each is mostly waiting for its JVM or web server to answer.
        mlflow = subprocess.Popen([str(SCRIPTS / "mlflow_server.sh"), "start"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        sh(SCRIPTS / "cluster.sh", "start", 2, 1, "1g", env=env)
        out, _ = mlflow.communicate(timeout=600)
        assert mlflow.returncode == 0, f"mlflow_server.sh failed:\n{out[-3000:]}"
        yield root, env
    finally:
        subprocess.run([str(SCRIPTS / "mlflow_server.sh"), "stop"], env=env, capture_output=True)
        subprocess.run([str(SCRIPTS / "cluster.sh"), "stop"], env=env, capture_output=True)


def test_cluster_run_equals_the_local_run(spark, nation_landing, services, request):
    landing = nation_landing
    root, env = services
    master = f"spark://127.0.0.1:{env['DTKS_MASTER_PORT']}"
    tracking = f"http://127.0.0.1:{env['DTKS_MLFLOW_PORT']}"
    lake = root / "lake"
    common = ["--set", f"lakehouse_root={lake}", "--set", f"landing.root={landing}",
              "--set", f"mlflow.tracking_uri={tracking}", "--set", "mlflow.artifact_root=mlflow-artifacts:/",
              "--set", "spark.shuffle_partitions=2", "--set", f"reports_dir={root / 'reports'}"]
    # The local run's linkage: its first version (the suite's model file) and its thresholds (conf/test.yaml).
    suite = make_config(root)
    common += ["--set", f"linkage.initial_model={suite.conf_file(suite.linkage.initial_model)}",
               "--set", f"linkage.upper={suite.linkage.upper}", "--set", f"linkage.lower={suite.linkage.lower}"]
    events = root / "events"
    events.mkdir()
    # The driver and both executors are cold JVMs that run each stage once: the JIT's first tier alone, as for
    # every dtks process a test starts (tests/conftest.py CHILD_JIT); the results do not depend on it.
    java = f"{JVM_OPTIONS} {CHILD_JIT}"
    common += ["--set", "spark.extra=" + json.dumps({"spark.executor.extraJavaOptions": java})]
    # The event log and the UI on (conf/cluster.yaml), as on a production cluster: the key scan reads them.
    submit = ["--master", master, "--total-executor-cores", "2", "--executor-memory", "1g", "--driver-memory", "2g",
              "--driver-java-options", java,
              "--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir={events.as_uri()}", "--"]
    # The whole pipeline as one application (`dtks run`: one driver start for the four stages).
    driver = sh(SCRIPTS / "submit.sh", "run", *submit, "--env", "cluster", *common, "--stages",
                "ingest,train,score,publish", "--as-of", AS_OF, env=env, timeout=1200)
    # It really ran as applications of the standalone master, with executors on its workers ...
    with urllib.request.urlopen(f"http://127.0.0.1:{env['DTKS_MASTER_UI_PORT']}/json/", timeout=10) as answer:
        state = json.load(answer)
    assert state["aliveworkers"] == 2
    apps = state["completedapps"]
    assert len(apps) == 1 and all(app["cores"] >= 1 for app in apps), apps
    runs = tables.read(spark, make_config(root, lakehouse_root=str(lake)), tables.PIPELINE_RUNS)
    assert sorted(r.stage for r in runs.where("status = 'SUCCEEDED'").collect()) == [
        "ingest", "publish", "score", "train"]
    # ... and the model went to the tracking server over HTTP, its artifacts into the server's store.
    assert (root / "mlflow" / "mlflow.db").exists() and list((root / "mlflow" / "artifacts").rglob("MLmodel"))

    # No NIK key material in the event log, the history server's REST API (the UI of a finished application),
    # the driver's output and run log, the executors' and workers' logs, MLflow, pipeline_runs or the Delta logs.
    key = os.environ["DTKS_NIK_KEY"].encode()
    cluster_config = make_config(root, lakehouse_root=str(lake))
    history = key_scan.history_dump(events, root)
    logs = key_scan.event_logs(spark, events)
    assert len(logs) == 1 and b"dtks_nik_token" in next(iter(logs.values()))
    blobs = (logs | history | key_scan.files(root / "spark", "cluster")
             | {k: v for k, v in key_scan.files(lake, "lakehouse").items() if "/_delta_log/" in k}
             | {"driver stdout": driver.stdout.encode(), "driver stderr": driver.stderr.encode()}
             | key_scan.files(root / "reports", "driver run log")
             | key_scan.mlflow_dump(tracking) | key_scan.table_dump(spark, cluster_config, tables.PIPELINE_RUNS))
    assert any(b"dtks_nik_token" in v for k, v in history.items() if k.endswith("/sql"))
    assert any("/stderr" in k for k in blobs if k.startswith("cluster/work-"))  # the executors' own logs
    assert any(k.endswith("/dtks.log") and b"ingest" in v for k, v in blobs.items() if k.startswith("driver run log"))
    assert key_scan.scan(blobs, key) == []

    # The same input through the local-mode pipeline (built by whichever worker asked first).
    local = request.getfixturevalue("nation")[0]
    cluster = make_config(root, lakehouse_root=str(lake))
    keys = ["household_id", "national_rank", "decile", "within_coverage", "cum_population_share"]
    ours, theirs = (tables.read_published(spark, c, tables.DTKS_HOUSEHOLDS) for c in (cluster, local))
    assert ours.count() == theirs.count() > 0
    assert_same_rows(ours.select(*keys), theirs.select(*keys), tables.DTKS_HOUSEHOLDS)
    diff = ours.select("household_id", F.col("welfare_score").alias("a")).join(
        theirs.select("household_id", F.col("welfare_score").alias("b")), "household_id"
    )
    assert diff.agg(F.max(F.abs(F.col("a") - F.col("b")))).first()[0] < 1e-9
    for name, columns in ((tables.PROGRAM_ELIGIBILITY, ["program", "household_id", "eligible", "rule_version"]),
                          (tables.DTKS_MEMBERS, ["household_id", "member_no", "nik_token", "match_status"])):
        ours, theirs = (tables.read_published(spark, c, name).select(*columns) for c in (cluster, local))
        assert_same_rows(ours, theirs, name)
    # Every listed member (also of households not ranked): the first ingest's silver_members, version 0.
    members = ["household_id", "member_no", "nik_token", "match_status"]
    ours, theirs = (tables.read(spark, c, tables.MEMBERS, 0).select(*members) for c in (cluster, local))
    assert_same_rows(ours, theirs, tables.MEMBERS)
