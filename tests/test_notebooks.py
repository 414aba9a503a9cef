"""The data scientists' notebooks run top to bottom on small data made here (parameters via environment)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import CHILD_JIT
from tests.model_data import make_training_frame, write_training_table

pytestmark = pytest.mark.e2e  # each notebook starts a kernel with its own Spark

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture
def small_registry(spark, config):
    """silver_training as Delta and two registered versions (linear champion, GBM)."""
    from models.training import train

    frame = make_training_frame(800, seed=11)
    write_training_table(spark, config, frame)
    train(frame, config, table_version=0)
    gbm = config.model_copy(update={"model": config.model.model_copy(update={
        "family": "gradient_boosting", "gbm_max_iter": 20})})
    train(frame, gbm, table_version=0)
    return config


def _execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def _parameters(monkeypatch, config) -> None:
    """The notebooks' parameters (environment) for this config's lakehouse and MLflow store."""
    monkeypatch.setenv("DTKS_ENV", "test")
    monkeypatch.setenv("DTKS_LAKEHOUSE", config.lakehouse)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", config.mlflow.tracking_uri)
    monkeypatch.setenv("DTKS_MODEL_NAME", config.mlflow.model_name)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # The kernel's Spark is a cold JVM that runs each step once: the JIT's first tier alone, as for every dtks
    # process a test starts (tests/conftest.py CHILD_JIT); every JVM reads this variable.
    monkeypatch.setenv("JAVA_TOOL_OPTIONS", CHILD_JIT)


def _outputs(notebook: nbformat.NotebookNode) -> str:
    texts = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


def test_notebooks_execute_on_small_data(small_registry, monkeypatch, tmp_path):
    config = small_registry
    _parameters(monkeypatch, config)

    explored = _outputs(_execute(NOTEBOOKS / "explore_training.ipynb", tmp_path))
    assert "silver_training version 0" in explored and "log_hh_size" in explored

    compared = _outputs(_execute(NOTEBOOKS / "compare_models.ipynb", tmp_path))
    assert "versions [1, 2]; champion 1" in compared and "exclusion_error_60" in compared


def test_model_impact_notebook_trains_a_challenger_and_reads_its_impact(own_nation, monkeypatch, tmp_path):
    config = own_nation[0]
    _parameters(monkeypatch, config)
    out = _outputs(_execute(NOTEBOOKS / "model_impact.ipynb", tmp_path))
    assert "dtks_pmt: champion v1; publication 1" in out, out
    assert "model pmt_quantile v2 (challenger)" in out and "impact of dtks_pmt v2 (native) on publication 1" in out
    assert "female_head exclusion_error_60" in out and "verdict at training: promotion disabled" in out
    assert "dtks model promote 2" in out

