"""A lakehouse's first linkage version is trained by its first ingest, and the next by `dtks model train-linkage`
(issue 44: training a version is its own command, never a side effect of ingest, except a lakehouse's first).

A module of its own so that `make test`'s two workers can place it (tests/conftest.py MODULE_ORDER)."""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from jobs.model_commands import add_model_commands, run_model_command
from models import linkage_versions
from models.registry import alias_version
from runtime import tables
from tests.conftest import AS_OF, make_config, run

pytestmark = pytest.mark.e2e  # an ingest of the shared nation's landing files, with training


def test_the_first_ingest_trains_the_first_version_and_train_linkage_the_next(spark, nation_landing, tmp_path,
                                                                              capsys):
    """The shared nation's landing files ingested into a lakehouse of its own with no `linkage.initial_model`
    (every other test lakehouse registers conf/linkage_model.json): the suite's one ingest that trains a linkage
    model, as a new production lakehouse does. Then `dtks model train-linkage`, list, compare and promote, in
    this process on the session's Spark."""
    config = make_config(tmp_path, linkage={"initial_model": None})
    tracking, registry_uri = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    try:
        result, _ = run(spark, config, "ingest", landing=str(nation_landing), as_of=dt.date.fromisoformat(AS_OF))
        assert result.details["linkage.version"] == "1"
        assert int(result.details["linkage.links"]) > 0
        name = config.linkage.model_name
        client = MlflowClient()
        first = client.get_model_version(name, "1")
        assert first.tags["origin"] == "trained on the first round"
        assert first.aliases == [config.linkage.alias]

        parser = argparse.ArgumentParser()
        add_model_commands(parser.add_subparsers(dest="command"))
        common = ["--env", "test", "--set", f"lakehouse_root={config.lakehouse_root}",
                  "--set", f"mlflow.tracking_uri={config.mlflow.tracking_uri}",
                  "--set", f"mlflow.artifact_root={config.mlflow.artifact_root}"]

        def dtks_model(*argv: str) -> str:
            action, *rest = argv
            assert run_model_command(parser.parse_args(["model", action, *common, *rest])) == 0
            return capsys.readouterr().out

        capsys.readouterr()
        trained = dtks_model("train-linkage", "--truth", str(nation_landing / "truth" / "members"))
        assert f"{name}: version 2 registered (not in use: dtks model promote --linkage 2)" in trained, trained
        # The same sides and the same seed: the command trains the model ingest trained.
        one, two = (linkage_versions.metrics_of(linkage_versions.load(config, v)) for v in ("1", "2"))
        assert one.keys() == two.keys() and len(one) > 20
        assert all(math.isclose(one[k], two[k], rel_tol=1e-9) for k in one), {k: (one[k], two[k]) for k in one}
        logged = client.get_run(client.get_model_version(name, "2").run_id).data.metrics
        assert logged["links"] == int(result.details["linkage.links"])
        # Trained on about 200 members here (the quality bars are measured at 100 k and 1 M): automatic
        # links are right; some members go to review rather than being linked.
        assert logged["truth_precision"] >= 0.99 and logged["truth_recall"] >= 0.8, logged
        assert alias_version(client, name, config.linkage.alias) == "1"

        listing = dtks_model("list", "--linkage").splitlines()
        assert [line.split()[:2] for line in listing[1:]] == [["1", config.linkage.alias], ["2", "-"]], listing
        compared = dtks_model("compare", "--linkage", "1", "2")
        assert f"{one['lambda']:12.6g} {two['lambda']:12.6g}" in compared, compared
        assert f"version 2 is {config.linkage.alias} (was 1)" in dtks_model("promote", "--linkage", "2")
        assert alias_version(client, name, config.linkage.alias) == "2"

        # What MLflow holds of the versions is the model, never a record: no registry name in its params or files.
        names = {r.name for r in tables.read(spark, config, tables.IDENTITY_REGISTRY).select("name").distinct()
                 .collect() if r.name and " " in r.name}
        assert len(names) > 100
        logged_text = " ".join(
            [" ".join(f"{k} {v}" for k, v in client.get_run(v.run_id).data.params.items())
             for v in client.search_model_versions(f"name = '{name}'")]
            + [p.read_text() for p in Path(config.mlflow.artifact_root).rglob("*") if p.is_file()])
        assert not [n for n in names if n in logged_text]
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry_uri)
