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

from jobs.runtime import tables
from jobs.runtime.config import PROJECT_ROOT
from tests.conftest import AS_OF, make_config

pytestmark = pytest.mark.cluster  # `make test-cluster`; not in `make test` (see docs/DEPLOYMENT.md)
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
        sh(SCRIPTS / "cluster.sh", "start", 2, 1, "1g", env=env)
        sh(SCRIPTS / "mlflow_server.sh", "start", env=env)
        yield root, env
    finally:
        subprocess.run([str(SCRIPTS / "mlflow_server.sh"), "stop"], env=env, capture_output=True)
        subprocess.run([str(SCRIPTS / "cluster.sh"), "stop"], env=env, capture_output=True)


def test_cluster_run_equals_the_local_run(spark, nation, services):
    local, landing, _, _ = nation
    root, env = services
    master = f"spark://127.0.0.1:{env['DTKS_MASTER_PORT']}"
    tracking = f"http://127.0.0.1:{env['DTKS_MLFLOW_PORT']}"
    lake = root / "lake"
    common = ["--set", f"lakehouse_root={lake}", "--set", f"mlflow.tracking_uri={tracking}",
              "--set", "mlflow.artifact_root=mlflow-artifacts:/", "--set", "spark.shuffle_partitions=4"]
    submit = ["--master", master, "--total-executor-cores", "2", "--executor-memory", "1g", "--driver-memory", "1g",
              "--"]
    stages = (("ingest", ["--landing", str(landing), "--as-of", AS_OF]), ("train", []), ("score", []), ("publish", []))
    for stage, extra in stages:
        sh(SCRIPTS / "submit.sh", stage, *submit, "--env", "cluster", *common, *extra, env=env, timeout=900)
    # It really ran as applications of the standalone master, with executors on its workers ...
    with urllib.request.urlopen(f"http://127.0.0.1:{env['DTKS_MASTER_UI_PORT']}/json/", timeout=10) as answer:
        state = json.load(answer)
    assert state["aliveworkers"] == 2
    apps = state["completedapps"]
    assert len(apps) == len(stages) and all(app["cores"] >= 1 for app in apps), apps
    # ... and the model went to the tracking server over HTTP, its artifacts into the server's store.
    assert (root / "mlflow" / "mlflow.db").exists() and list((root / "mlflow" / "artifacts").rglob("MLmodel"))

    cluster = make_config(root, lakehouse_root=str(lake))
    keys = ["household_id", "national_rank", "decile", "within_coverage", "cum_population_share"]

    def gold(config):
        return tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)

    ours, theirs = gold(cluster), gold(local)
    assert ours.count() == theirs.count() > 0
    assert sorted(map(tuple, ours.select(*keys).collect())) == sorted(map(tuple, theirs.select(*keys).collect()))
    diff = ours.select("household_id", F.col("welfare_score").alias("a")).join(
        theirs.select("household_id", F.col("welfare_score").alias("b")), "household_id"
    )
    assert diff.agg(F.max(F.abs(F.col("a") - F.col("b")))).first()[0] < 1e-9
    elig = ["program", "household_id", "eligible", "rule_version"]
    assert sorted(map(tuple, tables.read_published(spark, cluster, tables.PROGRAM_ELIGIBILITY).select(*elig)
                      .collect())) == sorted(map(tuple, tables.read_published(spark, local, tables.PROGRAM_ELIGIBILITY)
                                                 .select(*elig).collect()))
    members = ["household_id", "member_no", "nik_token", "match_status"]
    assert sorted(map(tuple, tables.read(spark, cluster, tables.MEMBERS).select(*members).collect())) == sorted(
        map(tuple, tables.read(spark, local, tables.MEMBERS).select(*members).collect())
    )
