"""The champion read from a SQLite MLflow store without MLflow (models/registry_reads.py, what `dtks status`
shows) is what MLflow's client says of the same store: the version behind the alias, its tags, its run's latest
metrics (NaN included); nothing behind an alias that points nowhere; an error, not an answer, from a store
MLflow did not lay out."""

from __future__ import annotations

import math
import sqlite3

import mlflow
import pytest
from mlflow import MlflowClient

from jobs.lookup.status import _champion_from_mlflow
from models import registry_reads


def _store(tmp_path):
    """Two versions of model `m`, each from a run of its own; `champion` on the second, which has a tag, a metric
    logged at two steps and a NaN metric."""
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "artifacts").as_uri())
    runs = []
    for r2 in (0.2, 0.5):
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "r2", r2, step=0)
        runs.append(run.info.run_id)
    client.log_metric(runs[1], "r2", 0.7, step=1)  # the latest step is the run's value
    client.log_metric(runs[1], "spearman", math.nan)
    client.create_registered_model("m")
    for run_id in runs:
        client.create_model_version("m", source=(tmp_path / "artifacts" / run_id).as_uri(), run_id=run_id)
    client.set_model_version_tag("m", "2", "family", "pmt_linear")
    client.set_registered_model_alias("m", registry_reads.CHAMPION, "2")
    return db, uri


def _plain(found: registry_reads.AliasedVersion | None):
    """Comparable: NaN as a string (NaN equals nothing, itself included)."""
    if found is None:
        return None
    return found.version, found.tags, {k: repr(v) if math.isnan(v) else v for k, v in found.metrics.items()}


def test_the_champion_read_without_mlflow_is_mlflows_answer(tmp_path):
    db, uri = _store(tmp_path)
    read = registry_reads.aliased_version(db, "m", registry_reads.CHAMPION)
    assert _plain(read) == ("2", {"family": "pmt_linear"}, {"r2": 0.7, "spearman": "nan"})
    assert _plain(read) == _plain(_champion_from_mlflow(uri, "m"))
    assert registry_reads.aliased_version(db, "m", "challenger") is None
    assert registry_reads.aliased_version(db, "other", registry_reads.CHAMPION) is None
    assert _champion_from_mlflow(uri, "other") is None


def test_a_store_mlflow_did_not_lay_out_is_an_error(tmp_path):
    db = tmp_path / "other.db"
    sqlite3.connect(db).close()
    with pytest.raises(sqlite3.Error):
        registry_reads.aliased_version(db, "m", registry_reads.CHAMPION)
