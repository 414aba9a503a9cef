"""Shared fixtures: one Spark session with Delta for the whole run, temp lakehouse and MLflow."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("DTKS_NIK_KEY", "test-key-0123456789abcdef0123456789abcdef")
# The key `dtks rotate-key` moves to: in the environment before the JVMs start, which read it themselves.
os.environ.setdefault("DTKS_NIK_KEY_NEW", "test-new-key-fedcba9876543210fedcba9876543210")


# `make test` runs two xdist workers with --dist loadfile --no-loadscope-reorder: a module is a unit of
# work, handed out in this order. The two heaviest modules (update rounds; the nation's pipeline) start at
# once, one per worker; two light modules are queued behind them (each worker holds two units), then the
# heaviest of the rest first, so that the workers finish together.
MODULE_ORDER = ("test_update", "test_pipeline", "test_config", "test_regions", "test_rotate_key", "test_cluster",
                "test_key_scan", "test_fuzz_ingest", "test_hostile_landing", "test_ingest", "test_generate",
                "test_notebooks", "test_models", "test_runtime", "test_nik", "test_ranking")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)  # stable: file order within a module


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from jobs.runtime.config import load_config
    from jobs.runtime.spark import get_spark

    root = tmp_path_factory.mktemp("spark")
    config = load_config("test", {"lakehouse_root": str(root / "lake")})
    session = get_spark(config)
    yield session
    session.stop()


def make_config(tmp_path: Path, **extra):
    """Test config with a lakehouse, landing zone and SQLite MLflow store under tmp_path (+ extra keys)."""
    from jobs.runtime.config import load_config

    return load_config(
        "test",
        {
            "lakehouse_root": str(tmp_path / "lake"),
            "landing": {"root": str(tmp_path / "landing")},
            "mlflow": {
                "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
                "artifact_root": str(tmp_path / "mlartifacts"),
            },
        }
        | extra,
    )


@pytest.fixture
def config(tmp_path: Path, monkeypatch):
    """A config of the test's own: nothing is shared between tests."""
    monkeypatch.chdir(tmp_path)
    return make_config(tmp_path)


HOUSEHOLDS = 1500
AS_OF = "2026-06-30"


def run(spark, config, name, **values):
    """Run one stage in this process on the shared session; returns (StageResult, run id)."""
    from jobs.runtime.runs import new_run_id
    from jobs.runtime.stage import StageContext, execute, stage_arguments

    ctx = StageContext(config=config, run_id=new_run_id(), _spark=spark)
    args = stage_arguments(name, **values)
    return execute(ctx, name, args, echo=False), ctx.run_id


@contextlib.contextmanager
def _exclusive(path: Path):
    """An inter-process lock (flock): the xdist workers of one session build shared data once."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared_dir(tmp_path_factory, worker_id: str) -> Path:
    """This pytest session's folder that all its xdist workers see (their basetemps' parent)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def _once(shared: Path, name: str, build):
    """Build `name` once per session, whichever worker asks first; the others wait and load it."""
    done = shared / f"{name}.pickle"
    with _exclusive(shared / f"{name}.lock"):
        if done.exists():
            return pickle.loads(done.read_bytes())
        value = build(shared / name)
        done.write_bytes(pickle.dumps(value))
        return value


def _nation_config(root: Path):
    config = make_config(root)
    # A larger training share than the default 4 %, so a small nation still trains a model.
    return config.model_copy(update={"generate": config.generate.model_copy(update={"training_rate": 0.3})})


@pytest.fixture(scope="session")
def nation_landing(spark, tmp_path_factory, worker_id):
    """The small nation's landing files (generated once per session): the cluster test needs only these
    to start its own run."""

    def build(root: Path) -> Path:
        landing = root / "landing"
        run(spark, _nation_config(root), "generate", households=HOUSEHOLDS, seed=7, out=str(landing))
        return landing

    return _once(_shared_dir(tmp_path_factory, worker_id), "nation", build)


@pytest.fixture(scope="session")
def nation(spark, nation_landing, tmp_path_factory, worker_id):
    """The small nation through ingest, train, score and publish (local mode), built once per session:
    the pipeline tests use it (and change it, in file order); the cluster test compares its own run with
    this one's first publication."""
    import logging

    def build(_) -> tuple:
        root = nation_landing.parent
        # Everything the pipeline logs goes to a file too, so the personal-data scan can read it.
        handler = logging.FileHandler(root / "pipeline.log")
        handler.setLevel(logging.DEBUG)
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        config = _nation_config(root)
        results = {}
        for stage in ("ingest", "train", "score", "publish"):
            results[stage], _ = run(spark, config, stage, landing=str(nation_landing),
                                    as_of=pd.Timestamp(AS_OF).date())
        manifest = json.loads((nation_landing / "manifest.json").read_text())
        handler.flush()
        # As first published, before any test changes it: for tests that need a lakehouse of their own.
        shutil.copytree(config.path(config.lakehouse), root / "first_publication")
        return config, nation_landing, results, manifest

    built = _once(_shared_dir(tmp_path_factory, worker_id), "nation_run", build)
    from jobs.runtime.tracking import setup_mlflow

    setup_mlflow(built[0])  # the pipeline tests talk to its MLflow store, whichever worker built it
    return built


def first_publication_copy(nation, folder: Path):
    """A config whose lakehouse is a private copy of the nation as first published (shares its MLflow)."""
    config = nation[0]
    shutil.copytree(nation[1].parent / "first_publication", folder)
    return config.model_copy(update={"lakehouse_root": str(folder)})


def dtks_cli(config, *args: str) -> list[str]:
    """The `dtks` command line for a stage on this config's lakehouse and MLflow store (test overlay)."""
    import sys

    return [sys.executable, "-m", "jobs.cli", *args, "--env", "test", "--set", f"lakehouse_root={config.lakehouse}",
            "--set", f"mlflow.tracking_uri={config.mlflow.tracking_uri}",
            "--set", f"mlflow.artifact_root={config.mlflow.artifact_root}"]


def paused(config, folder: Path, failpoint: str, *args: str):
    """A dtks process of its own, stopped at `failpoint` and waiting there (jobs/runtime/faults.py)."""
    import subprocess
    import sys
    import time

    folder.mkdir()
    env = os.environ | {"DTKS_FAILPOINT": failpoint, "DTKS_FAILPOINT_DIR": str(folder),
                        "PYSPARK_PYTHON": sys.executable}
    with open(folder / "output.log", "w") as log:  # a file, not a pipe: a full pipe would block the process
        proc = subprocess.Popen(dtks_cli(config, *args), env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while not (folder / "reached").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"never reached the failpoint: {(folder / 'output.log').read_text()[-3000:]}")
        time.sleep(0.2)
    return proc


# On a few hundred rows adaptive re-planning, many shuffle partitions and code generation cost more time
# than they save: the fuzz and hostile-file modules run under these settings, restored afterwards.
SMALL_DATA = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@contextlib.contextmanager
def small_data_settings(spark):
    before = {k: spark.conf.get(k, None) for k in SMALL_DATA}
    for k, v in SMALL_DATA.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)
