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
from tests.conftest import AS_OF, assert_same_rows, make_config, nation_copy, run
from tests.published import appeals_truth, eligible_at, net_moves, reasons_of_run

pytestmark = pytest.mark.e2e  # update rounds on a copy of the shared nation

RUN_COLUMNS = {"ingest_run_id", "run_id", "updated_run_id", "scored_run_id", "eligible_since"}
COMPARED = (tables.REGISTRY, tables.SURVEY, tables.HOUSEHOLDS, tables.MEMBERS, tables.SCORES,
            tables.DTKS_HOUSEHOLDS, tables.DTKS_MEMBERS, tables.PROGRAM_ELIGIBILITY)
# MERGEd with deletion vectors (the gold ones by default, layout.gold_deletion_vectors); dtks_households is
# replaced whole at every publish.
WITH_DV = (tables.REGISTRY, tables.SURVEY, tables.HOUSEHOLDS, tables.MEMBERS, tables.SCORES, tables.DTKS_MEMBERS,
           tables.PROGRAM_ELIGIBILITY)
SHARE = 0.05  # of survey households re-surveyed and of persons changed: enough of each kind at this size
PUBLISHED_ON = "2026-03-15"  # the update round's publish: the nation's appeals are past their deadlines


def _config(root: Path, lake: str, mlflow: Path | None = None):
    config = make_config(root, lakehouse_root=str(root / lake))
    if mlflow is not None:  # the reference round scores with the same registered model
        config = config.model_copy(update={"mlflow": config.mlflow.model_copy(update={
            "tracking_uri": f"sqlite:///{mlflow / 'mlflow.db'}", "artifact_root": str(mlflow / "mlartifacts")})})
    return config


def _round(spark, config, landing: Path, stages, as_of=AS_OF, publish_as_of=None) -> tuple[dict, dict]:
    """The stages on `landing`: their results and run ids, by stage."""
    out, ids = {}, {}
    for stage in stages:
        values = {"landing": str(landing), "as_of": pd.Timestamp(as_of).date()} if stage == "ingest" else {}
        if stage == "publish" and publish_as_of:
            values = {"as_of": pd.Timestamp(publish_as_of).date()}
        out[stage], ids[stage] = run(spark, config, stage, **values)
    return out, ids


def _update(spark, config, base: Path, out: Path, merged: Path, form: str = "events"):
    result, _ = run(spark, config, "generate", update_of=str(base), share=SHARE, out=str(out), merged=str(merged),
                    registry_form=form)
    return json.loads((out / "manifest.json").read_text()), result


def _content(spark, config, name: str):
    """A table without the columns that say which run wrote a row."""
    df = tables.read(spark, config, name)
    return df.select(*[c for c in df.columns if c not in (*RUN_COLUMNS, "match_probability")])


@pytest.fixture(scope="module")
def rounds(spark, nation, tmp_path_factory):
    """The update-round state every test of this module reads: a copy of the shared nation (its full round,
    published on QUEUE_AS_OF), then one update round (registry events, 5 % of households re-surveyed or new,
    published on PUBLISHED_ON). A test that writes works on a copy; the full round that update rounds must
    equal is test_rounds_equal_a_full_round_then_maintain_keeps_it's, after a second update round."""
    root = tmp_path_factory.mktemp("update")
    config = nation_copy(nation, root / "nation")
    nation_landing = nation[1]
    before = {name: tables.version(spark, config, name) for name in tables.CATALOG}
    published_before = tables.published_versions(spark, config)
    gold_before = {name: _content(spark, config, name).collect() for name in (tables.PROGRAM_ELIGIBILITY,)}
    manifest, generated = _update(spark, config, nation_landing, root / "update1", root / "merged1")
    results, run_ids = _round(spark, config, root / "update1", ("ingest", "score", "publish"),
                              publish_as_of=PUBLISHED_ON)
    return {"root": root, "config": config, "before": before, "manifest": manifest, "generated": generated,
            "results": results, "gold_before": gold_before, "published_before": published_before,
            "run_ids": run_ids, "landing": nation_landing}


def test_update_delivery_holds_every_kind_of_change(spark, rounds, nation_landing):
    """The generated delivery holds every kind of change, and re-surveyed households really moved."""
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
    """Deletion vectors: every MERGE of the update round copied no unchanged row into a new file; its other
    commits append the rows a change set flagged new (runtime/tables.py merge_changes), replacing nothing."""
    config, before = rounds["config"], rounds["before"]
    for name in WITH_DV:
        history = DeltaTable.forPath(spark, config.table_path(name)).history().where(
            F.col("version") > before[name]).collect()
        assert history, name
        for commit in history:
            metrics = commit.operationMetrics or {}
            if commit.operation == "WRITE":
                assert commit.operationParameters["mode"] == "Append", (name, commit.operationParameters)
                continue
            assert commit.operation == "MERGE", (name, commit.operation)
            assert int(metrics.get("numTargetRowsCopied", 0)) == 0, (name, metrics)
            assert int(metrics.get("numTargetFilesRemoved", 0)) == 0, (name, metrics)
    for name in (*WITH_DV, *tables.GOLD):
        features = spark.sql(f"DESCRIBE DETAIL delta.`{config.table_path(name)}`").first().tableFeatures
        assert ("deletionVectors" in features) == (name in WITH_DV), (name, features)


def test_gold_tables_read_the_same_with_a_non_spark_reader(spark, rounds):
    """After an update round (deletion vectors in dtks_members and program_eligibility), a programme system
    reading with deltalake's SQL path (runtime/delta_reads.py) finds Spark's rows."""
    from runtime import delta_reads

    config = rounds["config"]
    for name in tables.GOLD:
        spark_rows = tables.read(spark, config, name)
        frame = delta_reads.arrow(config, name, "SELECT * FROM t").to_pandas()
        assert len(frame) == spark_rows.count() > 0, name
        key = list(tables.table(name).keys)
        got = frame.sort_values(key).reset_index(drop=True)
        want = spark_rows.toPandas().sort_values(key).reset_index(drop=True)[list(got.columns)]
        try:
            pd.testing.assert_frame_equal(got, want, check_dtype=False, check_categorical=False)
        except AssertionError as error:
            error.add_note(f"comparing {name}")
            raise


def test_rounds_equal_a_full_round_then_maintain_keeps_it(spark, rounds, tmp_path):
    """A second update round, with the whole registry re-delivered (the first delivered registry events): the
    tables equal a fresh full round on the inputs after both, scored with the same registered model (the
    guarantee: update rounds equal a full round, links included). Then `dtks maintain`: still equal, and the
    layout back to that round's. Three rounds in all (full, events, whole registry): each registry form once,
    MERGEd with deletion vectors twice before maintenance. On a copy of the lakehouse: the other tests read it
    as the first update round left it. This test's own pipeline runs: the second round and the fresh round."""
    root = rounds["root"]
    shutil.copytree(rounds["config"].path(rounds["config"].lakehouse), tmp_path / "lake")
    config = rounds["config"].model_copy(update={"lakehouse_root": str(tmp_path / "lake")})
    manifest, _ = _update(spark, config, root / "merged1", tmp_path / "update2", tmp_path / "merged2", "full")
    households_before = tables.read(spark, config, tables.HOUSEHOLDS).count()
    update, _ = _round(spark, config, tmp_path / "update2", ("ingest", "score", "publish"), as_of="2027-06-30")
    fresh = _config(tmp_path, "fresh", mlflow=root / "nation")
    full, _ = _round(spark, fresh, tmp_path / "merged2", ("ingest", "score", "publish"), as_of="2027-06-30")
    # The update round re-matched the delivered rosters and those its registry changes reach, not the nation;
    # it re-scored fewer households than the full round.
    ingest = update["ingest"]
    assert "update round" in ingest.summary[0]
    rematched = int(ingest.summary[0].split("; ")[1].split(" ")[0].replace(",", ""))
    assert manifest["row_counts"]["survey_households"] <= rematched < households_before / 2
    assert 0 < update["score"].rows_out < full["score"].rows_out
    for name in COMPARED:
        assert_same_rows(_content(spark, config, name), _content(spark, fresh, name), name)
    # A link's probability is the pair's when the link was made: the same to a few parts in a million (the name
    # frequencies are the registry's at scoring time, and an update round scores only the re-matched rosters).
    keys = ["household_id", "member_no"]
    probabilities = tables.read(spark, config, tables.MEMBERS).select(*keys, "match_probability").join(
        tables.read(spark, fresh, tables.MEMBERS).select(*keys, F.col("match_probability").alias("p")), keys)
    assert probabilities.where(F.col("match_probability").isNotNull()).count() > 0
    assert probabilities.where(F.col("match_probability").isNull() != F.col("p").isNull()).count() == 0
    assert probabilities.where(F.abs(F.col("match_probability") - F.col("p")) > 1e-6).count() == 0
    # The vault keeps every token it ever issued (a corrected NIK's old one too): a superset.
    vault = {r.nik_token for r in tables.read(spark, config, tables.IDENTITY_VAULT).collect()}
    assert {r.nik_token for r in tables.read(spark, fresh, tables.IDENTITY_VAULT).collect()} <= vault

    result, _ = run(spark, config.model_copy(update={"maintenance": config.maintenance.model_copy(
        update={"vacuum_retain_hours": 0})}), "maintain")
    assert "maintain:" in result.summary[0]
    # Retention 0, yet the versions the latest publication pins stay readable, each file of them on disk:
    # status, diff, explain, export and the programmes read them.
    pinned = tables.published_versions(spark, config)
    kept = {name: set(tables.read(spark, config, name, v).inputFiles()) for name, v in pinned.items()}
    for name, version in pinned.items():  # every row read from the files (a count would come from the log)
        assert tables.read(spark, config, name, version).collect(), name
    for name in COMPARED:
        assert_same_rows(_content(spark, config, name), _content(spark, fresh, name), name)
    for name in (*COMPARED, tables.IDENTITY_VAULT):
        files = spark.sql(f"DESCRIBE DETAIL delta.`{config.table_path(name)}`").first().numFiles
        fresh_files = spark.sql(f"DESCRIBE DETAIL delta.`{fresh.table_path(name)}`").first().numFiles
        assert files <= max(1.1 * fresh_files, fresh_files + 1), (name, files, fresh_files)
        on_disk = {p.resolve() for p in Path(config.table_path(name)).rglob("*.parquet")}
        used = {Path(f.removeprefix("file:")).resolve() for f in tables.read(spark, config, name).inputFiles()}
        pinned_files = {Path(f.removeprefix("file:")).resolve() for f in kept.get(name, ())}
        assert len(used) == files and used | pinned_files <= on_disk, name
        if name not in pinned:  # vacuumed: no other file left (a pinned table keeps what its version's age keeps)
            assert on_disk == used, name


def test_an_update_round_resolves_the_resurveyed_appeals_and_the_rest_lapse(spark, rounds):
    """The nation's appeals after the update round (published on PUBLISHED_ON): an appeal whose household
    (or, for a proposal, whose head) was re-surveyed is RESOLVED with its decile and programmes before and
    after; the rest LAPSED; a resolved appeal that moved its household carries APPEAL."""
    config, landing, run_id = rounds["config"], rounds["landing"], rounds["run_ids"]["publish"]
    gold_v = rounds["published_before"]
    queue_before = tables.read(spark, config, tables.QUEUE, gold_v[tables.QUEUE]).toPandas()
    update = rounds["root"] / "update1"
    queue = tables.read_published(spark, config, tables.QUEUE).toPandas().set_index("entry_id")
    gold_after = tables.published_versions(spark, config)
    surveyed = spark.read.parquet(str(update / "survey_households")).toPandas()
    members = spark.read.parquet(str(update / "survey_members")).select("household_id", "nik").toPandas()
    truth = appeals_truth(spark, landing).set_index("appeal_id")
    appealed = queue_before[queue_before.appeal_ids.apply(len) > 0]
    decile = {when: dict(tables.read(spark, config, tables.DTKS_HOUSEHOLDS, v[tables.DTKS_HOUSEHOLDS])
                         .select("household_id", "decile").toPandas().values) for when, v in
              (("before", gold_v), ("after", gold_after))}
    eligible = {when: eligible_at(spark, config, v[tables.PROGRAM_ELIGIBILITY])
                for when, v in (("before", gold_v), ("after", gold_after))}
    resolved = set()
    for entry in appealed.itertuples():
        now = queue.loc[entry.entry_id]
        if isinstance(entry.household_id, str):
            household = entry.household_id if entry.household_id in set(surveyed.household_id) else None
        else:  # a proposal for an unsurveyed family: resolved when a new household lists the head
            heads = {truth.loc[a].head_nik for a in entry.appeal_ids}
            found = members[members.nik.isin(heads)].household_id
            household = found.iloc[0] if len(found) else None
        if household is None:
            assert now.status == "LAPSED" and now.closed_on == pd.Timestamp(PUBLISHED_ON).date(), entry.entry_id
            continue
        assert now.status == "RESOLVED" and now.household_id == household, entry.entry_id
        resolved.add(household)
        assert now.decile_before == decile["before"].get(household) and now.decile_after == decile["after"][household]
        for when in ("before", "after"):
            got = dict(getattr(now, f"eligible_{when}") or {})
            want = {p: e for (p, h), e in eligible[when].items() if h == household}
            assert got == want, (household, when)
    assert len(resolved) >= 5 and (queue.status == "LAPSED").sum() >= 5
    # Appeals once closed stay closed: none of them opens an entry again.
    assert not queue[(queue.status == "OPEN") & (queue.appeal_ids.apply(len) > 0)].size
    history = tables.read(spark, config, tables.QUEUE_HISTORY).toPandas()
    assert set(history[history.publication_run_id == run_id].entry_id) >= set(appealed.entry_id)
    # Each resolved appeal that moved its household in or out of a programme carries APPEAL.
    moved = net_moves(eligible["before"], eligible["after"])
    found = reasons_of_run(spark, config, run_id)
    for (program, household), _change in moved.items():
        assert ("APPEAL" in found[(program, household)][1]) == (household in resolved), (program, household)
    assert any(h in resolved for _, h in moved)
