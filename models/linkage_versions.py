"""The linkage model as a tracked model: each version's settings with m and u per comparison level and λ, logged
to MLflow as a registered model of its own (`linkage.model_name`); ingest scores with the version the alias
`linkage.alias` points to, so every run with the same inputs links the same members.

What is logged is the model (settings, m, u, λ), counts and measured quality, never a record: no name, NIK or
record-level chart.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from models import linkage
from runtime.config import DtksConfig
from runtime.errors import UserError

log = logging.getLogger("dtks.models")
ARTIFACT = "linkage"  # the run's artifact folder holding model.json
MODEL_FILE = "model.json"


def _client(config: DtksConfig):
    from mlflow import MlflowClient

    from runtime.tracking import setup_mlflow

    setup_mlflow(config, linkage=True)
    return MlflowClient()


def metrics_of(model: dict) -> dict[str, float]:
    """λ and each comparison level's m and u, as MLflow metrics (keys: m/<comparison>/<level number>)."""
    out = {"lambda": float(model["probability_two_random_records_match"])}
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for i, level in enumerate(levels):
            for p in ("m", "u"):
                value = level.get(f"{p}_probability")
                if value is not None:
                    out[f"{p}/{comparison['output_column_name']}/{i}"] = float(value)
    return out


def register(config: DtksConfig, model: dict, origin: str, measured: dict[str, float] | None = None) -> str:
    """Log `model` as a new version (run params: its comparisons' levels; metrics: λ, m, u and `measured`);
    returns the version. `origin`: how it came to be (trained on a round, or a file)."""
    import mlflow

    from runtime.tracking import setup_mlflow

    client = _client(config)
    experiment = setup_mlflow(config, linkage=True)
    name = config.linkage.model_name
    with mlflow.start_run(experiment_id=experiment, run_name=f"linkage {origin}") as run:
        mlflow.log_params({f"levels/{c}": "; ".join(levels) for c, levels in _labels(model).items()})
        mlflow.log_params({"origin": origin, "blocking_rules": len(model["blocking_rules_to_generate_predictions"])})
        mlflow.log_metrics(metrics_of(model) | (measured or {}))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ARTIFACT
            path.mkdir()
            (path / MODEL_FILE).write_text(json.dumps(model, indent=2, sort_keys=True) + "\n")
            mlflow.log_artifacts(str(path), ARTIFACT)
        source = f"{run.info.artifact_uri.rstrip('/')}/{ARTIFACT}"
    try:
        client.get_registered_model(name)
    except Exception:  # noqa: BLE001 - MLflow raises its own error for an unknown name
        client.create_registered_model(name, description="probabilistic linkage of members without a usable NIK")
    version = str(client.create_model_version(name, source=source, run_id=run.info.run_id).version)
    client.set_model_version_tag(name, version, "origin", origin)
    log.info("linkage model %s version %s registered (%s)", name, version, origin)
    return version


def _labels(model: dict) -> dict[str, list[str]]:
    return {c["output_column_name"]: [lv.get("label_for_charts", lv["sql_condition"])
                                      for lv in c["comparison_levels"] if not lv.get("is_null_level")]
            for c in model["comparisons"]}


def load(config: DtksConfig, version: str) -> dict:
    import mlflow

    client = _client(config)
    source = client.get_model_version(config.linkage.model_name, version).source
    return json.loads((Path(mlflow.artifacts.download_artifacts(artifact_uri=source)) / MODEL_FILE).read_text())


def current(config: DtksConfig) -> tuple[str, dict] | None:
    """(version, model) the alias points to; None when the lakehouse has no version yet (`pinned` makes one)."""
    from models.registry import alias_version

    version = alias_version(_client(config), config.linkage.model_name, config.linkage.alias)
    return None if version is None else (version, load(config, version))


def pinned(config: DtksConfig, train: Callable[[], dict]) -> tuple[str, dict]:
    """(version, model) the alias points to. A lakehouse with no version registers its first, made alias:
    the `linkage.initial_model` file, else trained by `train()` on this round's data."""
    found = current(config)
    if found is not None:
        return found
    client = _client(config)
    name, alias = config.linkage.model_name, config.linkage.alias
    if client.search_model_versions(f"name = '{name}'"):
        raise UserError(f"linkage model {name} has versions but none is '{alias}' (linkage.alias): make one "
                        f"with `dtks model promote --linkage VERSION`")
    if config.linkage.initial_model:
        path = config.conf_file(config.linkage.initial_model)  # an absolute path stays
        if not path.is_file():
            raise UserError(f"linkage.initial_model: {path} not found")
        model, origin = json.loads(path.read_text()), f"file {path.name}"
    else:
        model, origin = train(), "trained on the first round"
    version = register(config, model, origin)
    promote(config, version, f"the lakehouse's first version ({origin})")
    return version, load(config, version)


def promote(config: DtksConfig, version: str, reason: str) -> str | None:
    """Point the alias in use at `version`; returns the version it pointed to before."""
    from models.registry import alias_version

    client = _client(config)
    name, alias = config.linkage.model_name, config.linkage.alias
    client.get_model_version(name, version)  # an unknown version fails here, naming it
    before = alias_version(client, name, alias)
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "role", alias)
    client.set_model_version_tag(name, version, "promotion_reason", reason)
    if before is not None and before != version:
        client.set_model_version_tag(name, before, "role", f"former {alias}")
    log.info("linkage model %s version %s is %s: %s", name, version, alias, reason)
    return before


def thresholds(config: DtksConfig) -> linkage.Thresholds:
    return linkage.Thresholds(upper=config.linkage.upper, lower=config.linkage.lower)
