"""MLflow set-up from config: tracking and registry URI, experiment with its artifact location."""

from __future__ import annotations

from pathlib import Path

import mlflow

from runtime.config import DtksConfig


def setup_mlflow(config: DtksConfig, linkage: bool = False) -> str:
    """Point MLflow at the configured store and return the experiment id (created on first use): the ranking
    model's experiment, or with `linkage` its sibling `<experiment>-linkage` for the linkage model's runs."""
    uri = config.mlflow.tracking_uri
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        db = db if db.is_absolute() else Path.cwd() / db
        db.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = config.mlflow.experiment + ("-linkage" if linkage else "")
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifacts = config.mlflow.artifact_root
    if "://" not in artifacts and not artifacts.startswith("mlflow-artifacts:"):
        artifacts = config.path(artifacts).as_uri()
    return mlflow.create_experiment(name, artifact_location=f"{artifacts.rstrip('/')}/{name}")
