"""Update rounds (pemutakhiran) on the small nation: a full round followed by update rounds leaves the same
tables as one full round on the updated inputs; the change feed holds exactly who entered and who left;
unchanged rows are not rewritten; a non-Spark reader sees the same gold rows; `dtks maintain` brings the
layout back to a fresh round's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from runtime import tables
from tests.conftest import AS_OF, assert_same_rows, make_config, run

RUN_COLUMNS = {"ingest_run_id", "run_id", "updated_run_id", "scored_run_id", "eligible_since"}
COMPARED = (tables.REGISTRY, tables.SURVEY, tables.HOUSEHOLDS, tables.MEMBERS, tables.SCORES,
            tables.DTKS_HOUSEHOLDS, tables.DTKS_MEMBERS, tables.PROGRAM_ELIGIBILITY)
# MERGEd with deletion vectors; the gold tables have none by default (layout.gold_deletion_vectors),
# so that readers without deletion-vector support (delta-rs) read them.
WITH_DV = (tables.REGISTRY, tables.SURVEY, tables.HOUSEHOLDS, tables.MEMBERS, tables.SCORES)
SHARE = 0.05  # of survey households re-surveyed and of persons changed: enough of each kind at this size


def _config(root: Path, lake: str, mlflow: Path | None = None):
    config = make_config(root, lakehouse_root=str(root / lake))
    if mlflow is not None:  # the reference round scores with the same registered model
        config = config.model_copy(update={"mlflow": config.mlflow.model_copy(update={
            "tracking_uri": f"sqlite:///{mlflow / 'mlflow.db'}", "artifact_root": str(mlflow / "mlartifacts")})})
    return config


def _round(spark, config, landing: Path, stages, as_of=AS_OF) -> dict:
    out = {}
    for stage in stages:
        values = {"landing": str(landing), "as_of": pd.Timestamp(as_of).date()} if stage == "ingest" else {}
        out[stage], _ = run(spark, config, stage, **values)
    return out


def _update(spark, config, base: Path, out: Path, merged: Path, form: str = "events"):
    result, _ = run(spark, config, "generate", update_of=str(base), share=SHARE, out=str(out), merged=str(merged),
                    registry_form=form)
    return json.loads((out / "manifest.json").read_text()), result


def _content(spark, config, name: str):
    """A table without the columns that say which run wrote a row."""
    df = tables.read(spark, config, name)
    return df.select(*[c for c in df.columns if c not in RUN_COLUMNS])


@pytest.fixture(scope="module")
def rounds(spark, nation_landing, tmp_path_factory):
    """A full round on the nation, then one update round (registry events); and a full round on the
    updated inputs in a second lakehouse, scored with the same model."""
    root = tmp_path_factory.mktemp("update")
    config = _config(root, "lake")
    _round(spark, config, nation_landing, ("ingest", "train", "score", "publish"))
    before = {name: tables.version(spark, config, name) for name in tables.CATALOG}
    gold_before = {name: _content(spark, config, name).collect() for name in (tables.PROGRAM_ELIGIBILITY,)}
    manifest, generated = _update(spark, config, nation_landing, root / "update1", root / "merged1")
    results = _round(spark, config, root / "update1", ("ingest", "score", "publish"))
    reference = _config(root, "reference", mlflow=root)
    ref_results = _round(spark, reference, root / "merged1", ("ingest", "score", "publish"))
    return {"root": root, "config": config, "reference": reference, "before": before, "manifest": manifest,
            "generated": generated, "results": results, "ref_results": ref_results, "gold_before": gold_before}


def test_update_delivery_holds_every_kind_of_change(spark, rounds, nation_landing):
    manifest, root = rounds["manifest"], rounds["root"]
    changes = manifest["changes"]
    for kind in ("RICHER", "POORER", "NEW", "BIRTH", "DEATH", "MOVE", "NIK_CORRECTION"):
        assert changes[kind] > 0, kind
    assert manifest["round"] == 1 and sorted(p.name for p in root.joinpath("update1").iterdir()
                                             if not p.name.startswith(".")) == [
        "manifest.json", "registry_changes", "survey_households", "survey_members", "truth"]
    events = spark.read.parquet(str(root / "update1" / "registry_changes"))
    corrections = events.where("change = 'NIK_CORRECTION'")
    assert corrections.where("previous_nik IS NULL OR previous_nik = nik").count() == 0
    # Re-surveyed households really moved: richer ones gained assets on balance, poorer ones lost them.
    truth = spark.read.parquet(str(root / "update1" / "truth" / "updates")).where("kind = 'household'")
    assert truth.count() == manifest["row_counts"]["survey_households"]
    assets = " + ".join(("refrigerator", "motorcycle", "car", "air_conditioner", "gold", "land", "livestock",
                         "computer"))
    old = spark.read.parquet(str(nation_landing / "survey_households")).selectExpr("household_id", f"{assets} AS a0")
    new = spark.read.parquet(str(root / "update1" / "survey_households")).selectExpr("household_id", f"{assets} AS a1")
    moved = {r.change: r.gain for r in truth.withColumnRenamed("id", "household_id").join(new, "household_id")
             .join(old, "household_id").groupBy("change").agg(F.avg(F.col("a1") - F.col("a0")).alias("gain"))
             .collect()}
    assert moved["RICHER"] > 0.5 and moved["POORER"] < -0.5, moved


def test_update_round_equals_a_full_round_on_the_updated_inputs(spark, rounds):
    config, reference = rounds["config"], rounds["reference"]
    ingest = rounds["results"]["ingest"]
    assert "update round" in ingest.summary[0]
    survey = rounds["manifest"]["row_counts"]["survey_households"]
    rematched = int(ingest.summary[0].split("; ")[1].split(" ")[0].replace(",", ""))
    assert survey <= rematched < tables.read(spark, config, tables.HOUSEHOLDS).count() / 2
    assert 0 < rounds["results"]["score"].rows_out < rounds["ref_results"]["score"].rows_out
    for name in COMPARED:
        assert_same_rows(_content(spark, config, name), _content(spark, reference, name), name)
    # The vault keeps every token it ever issued (a corrected NIK's old one too): a superset.
    vault = {r.nik_token for r in tables.read(spark, config, tables.IDENTITY_VAULT).collect()}
    assert {r.nik_token for r in tables.read(spark, reference, tables.IDENTITY_VAULT).collect()} <= vault


def test_change_feed_is_the_eligibility_difference(spark, rounds):
    config = rounds["config"]
    start = rounds["before"][tables.PROGRAM_ELIGIBILITY]
    keys = ("program", "household_id")
    before = {(r.program, r.household_id): r.eligible for r in rounds["gold_before"][tables.PROGRAM_ELIGIBILITY]}
    after = {(r.program, r.household_id): r.eligible
             for r in _content(spark, config, tables.PROGRAM_ELIGIBILITY).collect()}
    expected = {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}
    feed = (spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", start + 1)
            .load(config.table_path(tables.PROGRAM_ELIGIBILITY)))
    kind = F.col("_change_type")
    per = feed.groupBy(*keys).agg(
        F.max(F.when(kind.isin("update_preimage", "delete"), F.col("eligible"))).alias("pre"),
        F.max(F.when(kind.isin("update_postimage", "insert"), F.col("eligible"))).alias("post"),
    )
    got = {(r.program, r.household_id): (r.pre, r.post) for r in per.collect()}
    assert got == expected and any(post for _, post in expected.values()) and any(
        pre and not post for pre, post in expected.values())


def test_update_commits_rewrite_no_unchanged_row(spark, rounds):
    """Deletion vectors: every MERGE of the update round copied no unchanged row into a new file."""
    config, before = rounds["config"], rounds["before"]
    for name in WITH_DV:
        history = DeltaTable.forPath(spark, config.table_path(name)).history().where(
            F.col("version") > before[name]).collect()
        assert history, name
        for commit in history:
            metrics = commit.operationMetrics or {}
            assert commit.operation == "MERGE", (name, commit.operation)
            assert int(metrics.get("numTargetRowsCopied", 0)) == 0, (name, metrics)
            assert int(metrics.get("numTargetFilesRemoved", 0)) == 0, (name, metrics)
    for name in WITH_DV + tables.GOLD:
        features = spark.sql(f"DESCRIBE DETAIL delta.`{config.table_path(name)}`").first().tableFeatures
        assert ("deletionVectors" in features) == (name in WITH_DV), (name, features)


def test_gold_tables_read_the_same_with_a_non_spark_reader(spark, rounds):
    import deltalake

    config = rounds["config"]
    for name in tables.GOLD:
        spark_rows = tables.read(spark, config, name)
        frame = deltalake.DeltaTable(config.table_path(name)).to_pandas()
        assert len(frame) == spark_rows.count() > 0, name
        key = list(tables.table(name).keys)
        got = frame.sort_values(key).reset_index(drop=True)
        want = spark_rows.toPandas().sort_values(key).reset_index(drop=True)[list(got.columns)]
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_categorical=False), name


def test_four_rounds_and_maintain_match_a_fresh_round(spark, rounds, tmp_path):
    """Three more rounds (one with the whole registry re-delivered), then `dtks maintain`: the tables
    equal a fresh full round on the inputs after all four, and the layout is back to that round's.
    On a copy of the lakehouse: the other tests read it as the first update round left it."""
    root = rounds["root"]
    shutil.copytree(rounds["config"].path(rounds["config"].lakehouse), tmp_path / "lake")
    config = rounds["config"].model_copy(update={"lakehouse_root": str(tmp_path / "lake")})
    base = root / "merged1"
    for k, form in ((2, "full"), (3, "events"), (4, "events")):
        _update(spark, config, base, tmp_path / f"update{k}", tmp_path / f"merged{k}", form)
        _round(spark, config, tmp_path / f"update{k}", ("ingest", "score", "publish"), as_of="2027-06-30")
        base = tmp_path / f"merged{k}"
    result, _ = run(spark, config.model_copy(update={"maintenance": config.maintenance.model_copy(
        update={"vacuum_retain_hours": 0})}), "maintain")
    assert "maintain:" in result.summary[0]
    fresh = _config(tmp_path, "fresh", mlflow=root)
    _round(spark, fresh, base, ("ingest", "score", "publish"), as_of="2027-06-30")
    for name in COMPARED:
        assert_same_rows(_content(spark, config, name), _content(spark, fresh, name), name)
    for name in (*COMPARED, tables.IDENTITY_VAULT):
        files = spark.sql(f"DESCRIBE DETAIL delta.`{config.table_path(name)}`").first().numFiles
        fresh_files = spark.sql(f"DESCRIBE DETAIL delta.`{fresh.table_path(name)}`").first().numFiles
        assert files <= max(1.1 * fresh_files, fresh_files + 1), (name, files, fresh_files)
        on_disk = [p for p in Path(config.table_path(name)).rglob("*.parquet")]
        assert len(on_disk) == files, name  # vacuumed: no file left that the table no longer uses
