"""Shared fixtures: one Spark session with Delta for the whole run, temp lakehouse and MLflow."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("DTKS_NIK_KEY", "test-key-0123456789abcdef0123456789abcdef")


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


@pytest.fixture(scope="session")
def nation(spark, tmp_path_factory):
    """A small generated nation through ingest, train, score and publish (local mode): shared by the
    pipeline tests and the cluster test, which compares its own run with this one."""
    import logging

    root = tmp_path_factory.mktemp("nation")
    # Everything the pipeline logs goes to a file too, so the personal-data scan can read it.
    handler = logging.FileHandler(root / "pipeline.log")
    handler.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    config = make_config(root)
    # A larger training share than the default 4 %, so a small nation still trains a model.
    config = config.model_copy(update={"generate": config.generate.model_copy(update={"training_rate": 0.3})})
    landing = root / "landing"
    run(spark, config, "generate", households=HOUSEHOLDS, seed=7, out=str(landing))
    results = {}
    for stage in ("ingest", "train", "score", "publish"):
        results[stage], _ = run(spark, config, stage, landing=str(landing), as_of=pd.Timestamp(AS_OF).date())
    manifest = json.loads((landing / "manifest.json").read_text())
    handler.flush()
    return config, landing, results, manifest
