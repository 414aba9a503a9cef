"""Shared fixtures: one Spark session with Delta for the whole run, temp lakehouse and MLflow."""

from __future__ import annotations

import os
from pathlib import Path

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
