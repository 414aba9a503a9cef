"""The whole pipeline on a small generated nation: ingest against the generator's truth, national
ranking recomputed in pandas, idempotent re-runs, an update round, the gates and the report."""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pyspark.sql import functions as F

from jobs.core import contract, regions
from jobs.publish import stage as publish_stage
from jobs.report import figures as report_figures
from jobs.report import formats as report_formats
from runtime import region_codes, tables
from runtime.errors import GateFailed
from tests import browser
from tests.conftest import AS_OF, assert_same_rows, dtks_cli, dtks_command, make_config, nation_copy, paused, run
from tests.published import GOLD, SILVER, appeals_truth, eligible_at, net_moves, reasons_of_run

pytestmark = pytest.mark.e2e  # the shared nation's pipeline, and pipelines on copies of it


def versions(spark, config, names):
    return {n: tables.version(spark, config, n) for n in names}


RUN_COLUMNS = ("ingest_run_id", "updated_run_id")  # which run last changed a row: unchanged rows keep theirs

# What each injected member defect must become (BRIEF §4, §6, §7).
MEMBER_STATUS = {
    "nik_missing": "MISSING_NIK",
    "nik_malformed": "INVALID_NIK",
    "nik_placeholder": "INVALID_NIK",
    "nik_not_in_registry": "NOT_FOUND",
    "person_not_in_registry": "NOT_FOUND",
    "birth_date_sex_mismatch": "MATCHED_WITH_DIFFERENCES",
    "birth_date_misreported": "MATCHED_WITH_DIFFERENCES",
    "duplicate_person": "DUPLICATE",
    "deceased_listed": "DECEASED",
}
QUARANTINE_REASON = {
    "future_birth_date": ("survey_members", "BIRTH_IN_FUTURE"),
    "unknown_village": ("survey_households", "UNKNOWN_VILLAGE"),
    "negative_floor_area": ("survey_households", "OUT_OF_RANGE"),
}


def test_injected_defects_end_with_the_right_status(spark, nation):
    config, landing, _, manifest = nation
    truth = spark.read.parquet(str(landing / "truth" / "defects"))
    members = tables.read(spark, config, tables.MEMBERS)
    quarantine = tables.read(spark, config, tables.QUARANTINE)
    counts = manifest["defects"]
    rejected = quarantine.where("source = 'survey_members' AND reason_code = 'HOUSEHOLD_REJECTED'").select(
        F.split("record_key", ":")[0].alias("household_id"),
        F.split("record_key", ":")[1].cast("int").alias("member_no"),
    )
    expected_by_status: dict[str, int] = {}
    for defect, status in MEMBER_STATUS.items():
        rows = truth.where(F.col("defect") == defect)
        # A defective member of a quarantined household is quarantined with it (HOUSEHOLD_REJECTED).
        in_rejected = rows.join(rejected, ["household_id", "member_no"]).count()
        joined = rows.join(members, ["household_id", "member_no"])
        assert rows.count() == counts[defect] and joined.count() + in_rejected == counts[defect], defect
        got = {r.match_status: r.n for r in joined.groupBy("match_status").agg(F.count("*").alias("n")).collect()}
        # A member without a usable NIK may be found by linkage (test_links_are_the_true_persons).
        linked = got.pop(contract.MATCHED_PROBABILISTIC, 0) if status in contract.UNMATCHED else 0
        left = counts[defect] - in_rejected - linked
        assert got == ({status: left} if left else {}), defect
        expected_by_status[status] = expected_by_status.get(status, 0) + counts[defect] - in_rejected - linked
        expected_by_status[contract.MATCHED_PROBABILISTIC] = expected_by_status.get(
            contract.MATCHED_PROBABILISTIC, 0) + linked
    # No other member carries these statuses: nothing is flagged that was not injected.
    for status, n in expected_by_status.items():
        assert members.where(F.col("match_status") == status).count() == n, status
    for defect, (source, reason) in QUARANTINE_REASON.items():
        q = quarantine.where((F.col("source") == source) & (F.col("reason_code") == reason))
        assert q.count() == counts[defect], defect
    short = tables.read(spark, config, tables.HOUSEHOLDS).where(
        (F.unix_timestamp("interview_end") - F.unix_timestamp("interview_start")) < 600
    )
    assert short.count() == counts["short_interview"]


def test_links_are_the_true_persons(spark, nation):
    """Linkage in ingest on the shared nation (the suite's pinned model, conf/linkage_model.json): every member
    it linked is the registry person the generator's truth says, most members without a usable NIK who are in
    the registry are linked, and nobody the registry lacks is."""
    config, landing, results, _ = nation
    truth = spark.read.parquet(str(landing / "truth" / "members"))
    vault = tables.read(spark, config, tables.IDENTITY_VAULT).select("nik_token", F.col("nik").alias("registry_nik"))
    members = tables.read(spark, config, tables.MEMBERS)
    linked = members.where(F.col("match_status") == contract.MATCHED_PROBABILISTIC)
    judged = linked.join(vault, "nik_token", "left").join(
        truth.select("household_id", "member_no", F.col("registry_nik").alias("true_nik")),
        ["household_id", "member_no"])
    assert judged.count() == linked.count() > 0
    assert judged.where(F.col("registry_nik").eqNullSafe(F.col("true_nik"))).count() == linked.count()
    assert linked.where(F.col("match_probability") >= config.linkage.upper).count() == linked.count()
    assert members.where(F.col("match_probability").isNotNull()).count() == linked.count()
    unusable = members.where(F.col("match_status").isin(*contract.UNMATCHED)).unionByName(linked).join(
        truth, ["household_id", "member_no"])
    in_registry = unusable.where(F.col("registry_nik").isNotNull()).count()
    assert linked.count() >= 0.85 * in_registry
    d = results["ingest"].details
    assert int(d["linkage.links"]) == linked.count() and d["linkage.version"] == "1"


def test_office_decisions_are_applied_and_never_asked_again(spark, own_nation, tmp_path):
    """Clerical review's round trip on a copy of the nation, whose least certain links are pending pairs (conf/
    test.yaml): an office confirms one, rejects another and names a pair that never was; the next ingest (the
    nation's delivery again, with the decisions: an update round) links the confirmed member whatever the
    probability, never scores the rejected pair again, quarantines the unknown one, and asks neither decided pair
    again."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from jobs.core import quarantine

    config, landing, _, _ = own_nation
    keys = ["household_id", "member_no", "nik_token"]
    pending = tables.read(spark, config, tables.LINKAGE_REVIEW).orderBy(*keys).collect()
    assert len(pending) >= 2, "the nation needs two pairs to review"
    yes, no = pending[0], pending[1]
    # The survey again, the registry as no event and no training sample: the round brings the decisions.
    delivery = tmp_path / "landing"
    shutil.copytree(landing, delivery, ignore=shutil.ignore_patterns("registry", "training_*"))
    registry = spark.read.parquet(str(landing / "registry"))
    registry.limit(0).select(F.lit(None).cast("string").alias("change"), F.lit(None).cast("string").alias(
        "previous_nik"), *registry.columns).write.parquet(str(delivery / contract.REGISTRY_CHANGES))
    (delivery / contract.LINKAGE_DECISIONS).mkdir()
    at = dt.datetime(2026, 6, 1, 9)
    pq.write_table(pa.table({
        "household_id": [yes.household_id, no.household_id, "H-none"],
        "member_no": pa.array([yes.member_no, no.member_no, 1], pa.int32()),
        "nik_token": [yes.nik_token, no.nik_token, "t-none"],
        "decision": ["CONFIRM", "REJECT", "CONFIRM"],
        "decided_by": ["officer-7"] * 3,
        "decided_at": [at] * 3,
    }), delivery / contract.LINKAGE_DECISIONS / "decisions.parquet")
    result, run_id = run(spark, config, "ingest", landing=str(delivery), as_of=pd.Timestamp(AS_OF).date())

    assert result.details["linkage_decisions.accepted"] == "2"
    member = tables.read(spark, config, tables.MEMBERS).where(
        (F.col("household_id") == yes.household_id) & (F.col("member_no") == yes.member_no)).first()
    assert member.nik_token == yes.nik_token and member.match_probability == yes.match_probability
    assert member.match_status in (contract.MATCHED_PROBABILISTIC, contract.DECEASED)
    review = {tuple(r) for r in tables.read(spark, config, tables.LINKAGE_REVIEW).select(*keys).collect()}
    decided = {tuple(r[k] for k in keys) for r in (yes, no)}
    assert not decided & review  # never asked again
    assert {tuple(r[k] for k in keys) for r in pending} - decided <= review  # the other pairs still wait
    rejected = tables.read(spark, config, tables.QUARANTINE).where(
        (F.col("source") == contract.LINKAGE_DECISIONS) & (F.col("run_id") == run_id)).collect()
    assert [(r.record_key, r.reason_code) for r in rejected] == [("H-none:1", quarantine.UNKNOWN_PAIR)]
    stored = tables.read(spark, config, tables.LINKAGE_DECISIONS)
    assert sorted(r.decision for r in stored.collect()) == ["CONFIRM", "REJECT"]


def personal_data(spark, landing):
    """Raw NIKs and (long) names of the small nation's registry: what must never leave the vault."""
    registry = spark.read.parquet(str(landing / "registry")).select("nik", "full_name").toPandas()  # small nation
    return set(registry["nik"]), {n for n in registry["full_name"] if len(n) >= 8}  # short names occur by chance


def assert_no_personal_data(blob: bytes, niks: set[str], names: set[str]) -> None:
    assert not [n for n in niks if n.encode() in blob]
    assert not [n for n in names if n.encode() in blob]


def test_no_raw_nik_or_name_in_tables_logs_or_mlflow(spark, nation):
    """Personal data stays in the restricted tables (the vault, the identity tables linkage reads): every other
    table, the logs and the MLflow store (the linkage model's versions too) are clean."""
    config, landing, _, _ = nation
    niks, names = personal_data(spark, landing)
    root = config.path(config.lakehouse)
    for table_dir in sorted(p for p in root.iterdir() if (p / "_delta_log").exists()):
        if table_dir.name in tables.RESTRICTED:
            continue
        df = tables.read(spark, config, table_dir.name)
        strings = [c for c, t in df.dtypes if t == "string"]
        values = {v for row in df.select(*strings).collect() for v in row if v} if strings else set()
        assert not values & niks, f"raw NIK in {table_dir.name}"
        assert not values & names, f"name in {table_dir.name}"
    texts = [root.parent / "pipeline.log", root.parent / "mlflow.db"]
    texts += [p for p in (root.parent / "mlartifacts").rglob("*") if p.is_file()]
    blob = b"\n".join(p.read_bytes() for p in texts if p.exists())
    assert len(blob) > 10_000
    assert_no_personal_data(blob, niks, names)


def test_reconciliation_recorded(spark, nation):
    config, _, results, manifest = nation
    d = results["ingest"].details
    for source in ("registry", "survey_households", "survey_members"):
        assert int(d[f"{source}.read"]) == manifest["row_counts"][source]
        assert int(d[f"{source}.read"]) == int(d[f"{source}.accepted"]) + int(d[f"{source}.quarantined"])
    runs = tables.read(spark, config, tables.PIPELINE_RUNS).where("stage = 'ingest'").first()
    assert runs.status == "SUCCEEDED" and runs.details["survey_members.read"] == d["survey_members.read"]


def assert_ranking_equals_pandas(gold: pd.DataFrame, population: int, coverage: float) -> None:
    """Ranks, shares, deciles and coverage recomputed from scores and household sizes alone."""
    df = gold.sort_values(["welfare_score", "household_id"]).reset_index(drop=True)
    share = df["hh_size"].cumsum() / float(population)
    assert (df["national_rank"] == range(1, len(df) + 1)).all()
    assert (df["cum_population_share"] == share).all()
    assert (df["decile"] == share.map(lambda s: min(max(math.ceil(10 * s), 1), 10))).all()
    assert (df["within_coverage"] == (share <= coverage)).all()
    assert set(df["coverage_target"]) == {coverage}
    assert df["decile"].min() == 1 and df["within_coverage"].any() and not df["within_coverage"].all()


RANK_COLUMNS = ("household_id", "province_code", "regency_code", "welfare_score", "hh_size", "national_rank",
                "cum_population_share", "decile", "within_coverage", "coverage_target", "model_name", "model_version")


def test_deciles_and_coverage_equal_pandas(spark, nation):
    config, _, results, _ = nation
    gold = tables.read(spark, config, tables.DTKS_HOUSEHOLDS).select(*RANK_COLUMNS).toPandas()
    population = int(results["publish"].details["population"])
    registry = tables.read(spark, config, tables.REGISTRY).where("death_date IS NULL").count()
    assert population == registry
    assert_ranking_equals_pandas(gold, population, 0.6)
    steps = dict(json.loads(results["publish"].details["steps"]))
    assert {publish_stage.QUEUE_STEP, publish_stage.REASONS_STEP} <= steps.keys()
    # The steps tile the stage: each lasts until the next starts, and together they fit in its recorded time.
    recorded = tables.read(spark, config, tables.PIPELINE_RUNS).where("stage = 'publish'").first().seconds
    assert steps[publish_stage.QUEUE_STEP] > 0 and steps[publish_stage.REASONS_STEP] > 0
    assert 0.5 * recorded < sum(steps.values()) <= recorded + 0.05, (steps, recorded)
    assert set(gold["model_version"]) == {"1"}


def test_verval_trial_runs_on_its_regions_only(spark, own_nation, tmp_path):
    """`--regions` in its own lakehouse, beside the nation (the trial: the regency with the most households).
    On a copy of the nation: the trial registers its own model in the nation's MLflow store."""
    from mlflow import MlflowClient

    from runtime.errors import UserError

    config, landing, _, manifest = own_nation
    national_hh = tables.read(spark, config, tables.HOUSEHOLDS)
    regency = national_hh.groupBy("regency_code").count().orderBy(F.desc("count"), "regency_code").first()[0]
    before = versions(spark, config, GOLD + SILVER)
    champion = MlflowClient().get_model_version_by_alias(config.mlflow.model_name, "champion").version
    nation_root = config.path(config.lakehouse_root).parent
    as_of = pd.Timestamp("2026-06-30").date()

    typo = make_config(nation_root, trial={"regions": ["99"], "root": str(tmp_path / "typo")})
    with pytest.raises(UserError, match="99 not in the region reference"):
        run(spark, typo, "ingest", landing=str(landing), as_of=as_of)
    assert tables.version(spark, typo, tables.HOUSEHOLDS) is None

    trial = make_config(nation_root, trial={"regions": [regency], "root": str(tmp_path / "trial")})
    assert trial.lakehouse == str(tmp_path / "trial" / "lakehouse") and trial.trial.regions == (regency,)
    assert trial.mlflow.model_name == f"{config.mlflow.model_name}_trial_{regency}"
    results = {}
    for stage in ("ingest", "train", "score", "publish"):
        results[stage], _ = run(spark, trial, stage, landing=str(landing), as_of=as_of)

    # The nation is untouched: its tables and its champion.
    assert versions(spark, config, GOLD + SILVER) == before
    assert MlflowClient().get_model_version_by_alias(config.mlflow.model_name, "champion").version == champion
    # Every source row is in the trial or counted outside it.
    d = results["ingest"].details
    for source in ("registry", "survey_households", "survey_members"):
        assert int(d[f"{source}.read"]) + int(d[f"{source}.out_of_scope"]) == manifest["row_counts"][source]
        assert 0 < int(d[f"{source}.read"]) < manifest["row_counts"][source]
    # Same households and the same member outcomes as the national run, for these regions only.
    in_scope = F.col("regency_code") == regency
    national_members = tables.read(spark, config, tables.MEMBERS).where(in_scope)
    trial_members = tables.read(spark, trial, tables.MEMBERS)
    keys = ["household_id", "member_no", "match_status"]
    assert_same_rows(trial_members.select(*keys), national_members.select(*keys))
    gold = tables.read(spark, trial, tables.DTKS_HOUSEHOLDS).select(*RANK_COLUMNS).toPandas()
    national_gold = tables.read(spark, config, tables.DTKS_HOUSEHOLDS).where(in_scope).select("household_id")
    assert set(gold["household_id"]) == {r.household_id for r in national_gold.collect()}
    assert (gold["regency_code"] == regency).all()
    # Ranked within the trial: P is the living registry persons of these regions.
    population = int(results["publish"].details["population"])
    living = "death_date IS NULL"
    national_living = tables.read(spark, config, tables.REGISTRY).where(living)
    national_living = national_living.where(regions.in_scope(F.col("village_code"), trial.trial.regions))
    assert population == national_living.count() == tables.read(spark, trial, tables.REGISTRY).where(living).count()
    assert_ranking_equals_pandas(gold, population, 0.6)
    assert set(gold["model_name"]) == {trial.mlflow.model_name} and set(gold["model_version"]) == {"1"}


def test_regional_export_holds_one_region_and_tokens_only(spark, nation, tmp_path):
    from jobs.lookup.export import export_region
    from runtime.errors import UserError

    config, landing, _, _ = nation
    gold = {t: tables.read_published(spark, config, t) for t in GOLD}
    regency = gold[tables.DTKS_HOUSEHOLDS].groupBy("regency_code").count().orderBy("count", "regency_code").first()[0]
    out = tmp_path / "export"
    theirs = tmp_path / ".export.partial"  # a folder of someone's with the name an older export used: untouched
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    manifest = export_region(spark, config, regency[:2] + "." + regency[2:], str(out))  # the dotted notation
    assert sorted(p.name for p in tmp_path.iterdir()) == [".export.partial", "export"]  # no temp folder left
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]
    assert manifest["region_code"] == regency and manifest["table_versions"] == tables.published_versions(spark, config)
    hh = spark.read.parquet(str(out / tables.DTKS_HOUSEHOLDS))
    members = spark.read.parquet(str(out / tables.DTKS_MEMBERS))
    elig = spark.read.parquet(str(out / tables.PROGRAM_ELIGIBILITY))
    expected_hh = gold[tables.DTKS_HOUSEHOLDS].where(F.col("regency_code") == regency)
    assert_same_rows(hh, expected_hh)
    assert {r.regency_code for r in members.select("regency_code").distinct().collect()} == {regency}
    ids = {r.household_id for r in expected_hh.select("household_id").collect()}
    assert {r.household_id for r in elig.select("household_id").distinct().collect()} == ids
    assert manifest["row_counts"] == {tables.DTKS_HOUSEHOLDS: hh.count(), tables.DTKS_MEMBERS: members.count(),
                                      tables.PROGRAM_ELIGIBILITY: elig.count()}
    # Tokens of this region's persons only; no raw NIK or name anywhere in the export.
    tokens = {r.nik_token for r in members.select("nik_token").collect() if r.nik_token}
    others = gold[tables.DTKS_MEMBERS].where(F.col("regency_code") != regency).select("nik_token").collect()
    assert tokens and not tokens & {r.nik_token for r in others if r.nik_token}
    niks, names = personal_data(spark, landing)
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert_no_personal_data(blob, niks, names)
    files = manifest["files_sha256"]
    assert files and all(len(h) == 64 for h in files.values()) and (out / "manifest.json").exists()
    with pytest.raises(UserError, match="already exists"):
        export_region(spark, config, regency, str(out))
    with pytest.raises(UserError, match="99 not in the region reference"):
        export_region(spark, config, "99", str(tmp_path / "other"))
    assert not (tmp_path / "other").exists()


def published_content(spark, config):
    """Gold tables as published now (their versions pinned: later commits do not change these frames),
    without the columns that say which run wrote a row."""
    drop = ("run_id", "updated_run_id")
    return {t: tables.read_published(spark, config, t).drop(*drop) for t in GOLD}


def assert_same_content(got: dict, expected: dict) -> None:
    for t in GOLD:
        assert_same_rows(got[t], expected[t], t)


def same_rows(a, b) -> bool:
    """The same rows in any order, as many times each (columns by position)."""
    return a.exceptAll(b).isEmpty() and b.exceptAll(a).isEmpty()


def test_publish_killed_mid_write_and_a_concurrent_run(spark, nation, own_nation, tmp_path, caplog):
    """A second run while one holds the lakehouse stops cleanly (as `dtks` on the command line: exit code 2,
    one line naming the holder); `dtks status` names the holder, then the dead holder; SIGKILL between the
    gold commits leaves the previous publication readable; the re-run takes over the lock and equals an
    uninterrupted publish. The publish runs in a process of its own because it is killed; this is the suite's
    one paused publish."""
    import os
    import signal
    import sys

    a, landing, _, _ = own_nation
    b = nation_copy(nation, tmp_path / "b")
    lake = a.path(a.lakehouse)
    before = published_content(spark, a)

    # A publish held between the gold tables' commits (its own process, as an operator runs it) ...
    killed = paused(a, tmp_path / "fp", "publish.between_gold_tables", "publish", "--coverage", "0.5")
    held = versions(spark, a, GOLD + SILVER + (tables.PIPELINE_RUNS,))
    # ... makes a second run stop before writing anything, with the holder named.
    env = os.environ | {"PYSPARK_PYTHON": sys.executable}
    second = subprocess.run(dtks_cli(a, "ingest", "--landing", str(landing)), env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert second.returncode == 2 and "is in use by run" in second.stderr and "nothing was written" in second.stderr
    assert f"pid {killed.pid}" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert versions(spark, a, GOLD + SILVER + (tables.PIPELINE_RUNS,)) == held
    # `dtks status` names the holder, and the held publish is not published yet.
    code, text, _ = dtks_command(spark, a, "status", "--json")
    as_json = json.loads(text)
    lock = as_json["lock"]
    assert code == 0 and (lock["stage"], lock["pid"], lock["alive"]) == ("publish", killed.pid, True)
    assert as_json["publication"]["publication_id"] == 1
    assert f"lock: held: run {lock['run_id']}, stage publish, pid {killed.pid}" in dtks_command(spark, a, "status")[1]

    # Killed there: the half-written publish is not visible through the publication.
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)
    assert (f"lock: left by an interrupted run (the next run takes it over): run {lock['run_id']}"
            in dtks_command(spark, a, "status")[1])
    latest = tables.read(spark, a, tables.DTKS_HOUSEHOLDS).select("coverage_target").distinct().collect()
    assert {r[0] for r in latest} == {0.5}, "the kill should have come after dtks_households was written"
    assert_same_content(published_content(spark, a), before)
    assert f'"pid": {killed.pid}' in (lake / "_dtks.lock").read_text()  # the dead holder

    # The re-run takes over the dead run's lock and completes; it equals an uninterrupted publish.
    with caplog.at_level("WARNING"):
        run(spark, a, "publish", coverage=0.5)
    assert "took over the lakehouse lock" in caplog.text
    run(spark, b, "publish", coverage=0.5)
    after = published_content(spark, a)
    assert_same_content(after, published_content(spark, b))
    assert not all(same_rows(after[t], before[t]) for t in GOLD)
    assert (lake / "_dtks.lock").read_text() == ""  # released


def test_scores_equal_pyfunc_predict(spark, nation):
    import mlflow

    config, _, _, _ = nation
    from models.champion import resolve_model

    model = resolve_model(config, None)
    hh = tables.read(spark, config, tables.HOUSEHOLDS).where("rankable").limit(200)
    scores = tables.read(spark, config, tables.SCORES).select("household_id", "welfare_score", "scoring_path")
    frame = hh.join(scores, "household_id").toPandas()
    predicted = mlflow.pyfunc.load_model(model.uri).predict(frame[list(model.input_columns)])
    assert set(frame["scoring_path"]) == {"native"}
    assert max(abs(pd.Series(predicted).to_numpy() - frame["welfare_score"].to_numpy())) < 1e-9


def test_explanations_add_up_to_the_published_score(spark, nation):
    """Every published household has its explanation (household_scores as the publication pinned it):
    intercept + contributions = welfare_score within 1e-9, each group's contribution equals the model's
    coefficients times the household's terms (numpy, from the registered model), and the distance to the
    cut-off (dtks_households) agrees with within_coverage and the publication's cut-off score."""
    import mlflow

    from models.compile import term_group
    from models.pmt import design_matrix
    from models.pyfunc import unwrap
    from runtime import questionnaire

    config, _, _, _ = nation
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)
    why = tables.read_published(spark, config, tables.SCORES).select("household_id", "model_version", "intercept",
                                                                      "contributions")
    publication = tables.latest_publication(spark, config)
    total = F.aggregate("contributions", F.lit(0.0), lambda acc, c: acc + c["value"])
    joined = gold.join(why, ["household_id", "model_version"], "left")
    frame = joined.withColumn("explained_score", F.col("intercept") + total).toPandas()
    assert len(frame) == gold.count() > 1000
    assert frame["contributions"].notna().all()
    assert (frame["explained_score"] - frame["welfare_score"]).abs().max() <= 1e-9
    # Independently: the model's own coefficients and design matrix, summed per group in numpy.
    model = questionnaire.load_file(config).model
    group_of = model.group_of()
    version = frame["model_version"].iloc[0]
    pmt = unwrap(mlflow.pyfunc.load_model(f"models:/{config.mlflow.model_name}/{version}")).estimator
    terms = design_matrix(frame, pmt.terms) * pmt.coef
    for group in model.groups:
        in_group = [j for j, t in enumerate(pmt.terms) if term_group(t, group_of) == group]
        expected = terms[:, in_group].sum(axis=1)
        got = frame["contributions"].map(lambda cs, g=group: {c["group"]: c["value"] for c in cs}[g]).to_numpy()
        assert abs(got - expected).max() <= 1e-9, group
    assert set(frame["intercept"]) == {pmt.intercept}
    # The cut-off: the last household within coverage; in persons, P x coverage target.
    cutoff = frame.loc[frame["within_coverage"], "welfare_score"].max()
    assert publication.cutoff_score == cutoff
    assert (frame["score_to_cutoff"] == frame["welfare_score"] - cutoff).all()
    line = math.floor(publication.population * publication.coverage_target)
    assert (frame["persons_to_cutoff"] == frame["cum_persons"] - line).all()
    assert ((frame["persons_to_cutoff"] <= 0) == frame["within_coverage"]).all()
    assert (frame.loc[frame["within_coverage"], "score_to_cutoff"] <= 0).all()


def test_dtks_explain_tells_one_household_in_plain_words(spark, nation, monkeypatch):
    """`dtks explain` (its command function, in process): the published decile and programmes, group labels
    in Bahasa Indonesia and English, --json for scripts; an unknown household is one clear line, exit code 2.
    The local lakehouse is read without Spark (deltalake), and says exactly what the Spark reading says."""
    import json

    from jobs.lookup import explain
    from runtime import delta_reads

    config, _, _, _ = nation
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)
    hh = gold.where("within_coverage").orderBy("household_id").first()
    code, out, _ = dtks_command(spark, config, "explain", hh.household_id)
    assert code == 0 and f"household {hh.household_id}, publication " in out
    assert f"decile (desil) {hh.decile}; within coverage (cakupan)" in out
    assert "Kepemilikan aset / assets" in out and "baseline (intersep)" in out
    names = regions.load(config).names()
    assert names.label(hh.province_code) in out and names.label(hh.village_code) in out
    eligible = sorted(r.program for r in tables.read_published(spark, config, tables.PROGRAM_ELIGIBILITY)
                      .where(F.col("household_id") == hh.household_id).where("eligible").collect())
    assert f"eligible for {', '.join(eligible) or 'none'}" in out
    code, out, _ = dtks_command(spark, config, "explain", hh.household_id, "--json")
    found = json.loads(out)
    assert code == 0 and found["decile"] == hh.decile and found["welfare_score"] == hh.welfare_score
    assert abs(found["intercept"] + sum(c["value"] for c in found["contributions"]) - hh.welfare_score) <= 1e-9
    started = []
    without_spark = explain.lookup(config, hh.household_id, lambda: started.append(1) or spark)
    assert not started and json.loads(json.dumps(without_spark, default=str)) == found
    monkeypatch.setattr(delta_reads, "local", lambda config: False)
    assert explain.lookup(config, hh.household_id, lambda: spark) == without_spark
    monkeypatch.undo()
    code, out, err = dtks_command(spark, config, "explain", "NO-SUCH-HOUSEHOLD")
    assert code == 2 and out == ""
    assert err.startswith("dtks: error: household 'NO-SUCH-HOUSEHOLD' is not in publication"), err
    code, out, err = dtks_command(spark, config, "explain", "H' OR '1' = '1")  # typed, not SQL
    assert code == 2 and out == "" and "is not in publication" in err, err


def test_every_entry_and_exit_carries_its_reason(spark, own_nation, tmp_path):
    """Each cause in turn: one round that brings a new survey batch for one province and deaths elsewhere, then a
    programme rule, then the coverage target (the model: test_a_candidates_impact_is_what_promoting_and_publishing_it_
    changes; each reason on literal rows: tests/test_reasons.py). Every household that entered or left, and only
    those, has a reasons row; the cause is on exactly the households it changed, the others were re-ranked
    (RANK_SHIFT). Only the re-surveyed and the registry's households are re-scored; ranks are national, so the
    province's richer households leave and nobody who entered got richer. `dtks diff` counts them. One own
    nation for the four causes: each round is one publish (the last one ingest and score too)."""
    config, landing, _, _ = own_nation

    def publish(policy: bool = False, **values) -> tuple[dict[tuple[str, str], tuple[str, set[str]]], str]:
        """Publish; with `policy`, `dtks model impact` of the configured coverage and rules foretells its moves."""
        before = eligible_at(spark, config)
        if policy:
            foretold = measure(spark, config)  # the published scores, this config's coverage and programmes
        _, run_id = run(spark, config, "publish", **values)
        found = reasons_of_run(spark, config, run_id)
        moves = net_moves(before, eligible_at(spark, config))
        assert {k: c for k, (c, _) in found.items()} == moves
        assert found
        if policy:
            expected = collections.Counter((p, province_of[hh], c) for (p, hh), c in moves.items())
            got = {(r.program, r.province_code, c): n for r in foretold.by_province.itertuples()
                   for c, n in (("ENTERED", r.entered_households), ("LEFT", r.left_households)) if n and
                   r.program != "WITHIN_COVERAGE"}
            assert got == dict(expected)
        return found, run_id

    from jobs.policy import eligibility
    from jobs.policy.impact import measure

    province_of = {r.household_id: r.province_code for r in tables.read_published(
        spark, config, tables.DTKS_HOUSEHOLDS).select("household_id", "province_code").collect()}

    # One round, two causes (first: the nation's open appeals of the province are resolved by it, before any
    # other publish lets them lapse). The most populous province re-interviewed a month later: every household there
    # gets a refrigerator and a car. And deaths elsewhere: every member of three households within coverage
    # died before their interview, registered only now (registry events; the rest of the survey is delivered
    # again unchanged). Chosen among households whose members are all in the registry and listed nowhere else,
    # so nobody else's roster changes.
    province = (tables.read(spark, config, tables.HOUSEHOLDS).groupBy("province_code").count()
                .orderBy(F.col("count").desc()).first().province_code)
    hh = spark.read.parquet(str(landing / "survey_households"))
    later = hh.withColumn("_p", F.col("village_code").substr(1, 2) == province)
    for col in ("interview_start", "interview_end"):
        later = later.withColumn(col, F.when(F.col("_p"), F.col(col) + F.expr("INTERVAL 30 DAYS")).otherwise(
            F.col(col)))
    for col in ("refrigerator", "car"):
        later = later.withColumn(col, F.when(F.col("_p"), F.lit(1)).otherwise(F.col(col)))
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)
    members = spark.read.parquet(str(landing / "survey_members")).select("household_id", "nik")
    registry = spark.read.parquet(str(landing / "registry"))
    listed_once = members.groupBy("nik").count().where("count = 1").select("nik")
    known = registry.where("death_date IS NULL").select("nik", F.lit(True).alias("_known"))
    clean = (members.join(listed_once.withColumn("_once", F.lit(True)), "nik", "left").join(known, "nik", "left")
             .groupBy("household_id").agg(F.min(F.coalesce(F.col("_once") & F.col("_known"), F.lit(False))).alias("ok"))
             .where("ok"))
    killed = [r.household_id for r in gold.where(f"decile <= 2 AND province_code != '{province}'")
              .join(clean, "household_id", "left_semi").orderBy("household_id").limit(3).collect()]
    assert len(killed) == 3
    # Registered late: dead before the interview, so the roster the survey listed was already wrong.
    interviewed = hh.select("household_id", "interview_start")
    their = members.where(F.col("household_id").isin(killed)).join(interviewed, "household_id").select(
        "nik", F.date_sub(F.to_date("interview_start"), 10).alias("_died"))
    dead = (registry.join(their, "nik")
            .withColumn("death_date", F.greatest(F.col("_died"), F.date_add("birth_date", 1))).drop("_died")
            .withColumn("updated_at", F.lit(pd.Timestamp("2026-06-15 08:00:00").to_pydatetime()))
            .withColumn("change", F.lit("DEATH")).withColumn("previous_nik", F.lit(None).cast("string")))
    batch = tmp_path / "batch"
    shutil.copytree(landing, batch, ignore=shutil.ignore_patterns("registry", "training_*", "survey_households"))
    later.drop("_p").write.parquet(str(batch / "survey_households"))
    dead.select("change", "previous_nik", *registry.columns).write.parquet(str(batch / "registry_changes"))

    old_scores = tables.read(spark, config, tables.SCORES).toPandas().set_index("household_id")
    elig_v = tables.version(spark, config, tables.PROGRAM_ELIGIBILITY)
    before = eligible_at(spark, config, elig_v)
    run(spark, config, "ingest", landing=str(batch), as_of=pd.Timestamp("2026-06-30").date())
    result, scored_by = run(spark, config, "score")
    found, published_by = publish()
    # Only the re-surveyed province's households and the three with deaths were scored again; the others kept
    # their scores; new assets raised the province's scores (ages moved a month).
    new_scores = tables.read(spark, config, tables.SCORES).toPandas().set_index("household_id")
    rescored = new_scores[new_scores["scored_run_id"] == scored_by]
    assert len(rescored) == result.rows_out > 0
    assert {p for h, p in rescored["province_code"].items() if h not in killed} == {province}
    others = new_scores[(new_scores["province_code"] != province) & ~new_scores.index.isin(killed)].index
    assert (new_scores.loc[others, "welfare_score"] == old_scores.loc[others, "welfare_score"]).all()
    resurveyed = rescored[rescored["province_code"] == province].index
    gain = new_scores.loc[resurveyed, "welfare_score"] - old_scores.loc[resurveyed, "welfare_score"]
    assert (gain > -0.05).all() and (gain > 0).mean() > 0.5
    # Ranks are national: the province's households that left got richer; any other that left (but the dead's)
    # kept its score, moved by the others (the deaths also move the coverage line: fewer living persons); nobody
    # who entered got richer.
    gain_all = (new_scores["welfare_score"] - old_scores["welfare_score"]).fillna(0.0)
    moves = net_moves(before, eligible_at(spark, config))
    left = {hh for (_, hh), change in moves.items() if change == "LEFT" and hh not in killed}
    entered = {hh for (_, hh), change in moves.items() if change == "ENTERED"}
    richer = {hh for hh in left if province_of[hh] == province}
    assert richer and (gain_all.loc[list(richer)] > 0).all() and (gain_all.loc[list(left - richer)] == 0).all()
    assert entered and (gain_all.loc[list(entered)] <= 1e-12).all() and not entered & set(killed)
    # Why: the dead's households left for the registry; the re-interviewed province's households carry INTERVIEW
    # (and APPEAL where this publish resolved their appeal); the rest were re-ranked by them.
    appealed = set(tables.read_published(spark, config, tables.QUEUE).where("status = 'RESOLVED'")
                   .toPandas().household_id)
    assert appealed and {province_of[h] for h in appealed} == {province}
    assert {hh for (_, hh), (_, why) in found.items() if "REGISTRY" in why} == set(killed)
    assert all(change == "LEFT" and why == {"REGISTRY"} for (_, hh), (change, why) in found.items() if hh in killed)
    for (_, hh), (_, why) in found.items():
        if hh not in killed:
            want = {"INTERVIEW"} | ({"APPEAL"} if hh in appealed else set()) if province_of[hh] == province else {
                "RANK_SHIFT"}
            assert why == want, (hh, why)
    assert any(why == {"INTERVIEW"} for _, why in found.values())
    # The operator's view (`dtks diff` and the change feed it reads): per programme and province, who entered
    # and who left; the exits by reason.
    feed = (spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", elig_v + 1)
            .load(config.table_path(tables.PROGRAM_ELIGIBILITY)))
    diff = {(r.program, r.province_code): (r.entered, r.left) for r in eligibility.changes(feed).collect()}
    exits = collections.Counter(province_of[hh] for (_, hh), change in moves.items() if change == "LEFT")
    assert sum(n for (_, p), (_, n) in diff.items() if p == province) == exits[province]
    assert sum(n for (_, n) in diff.values()) == sum(exits.values())
    assert sum(n for (n, _) in diff.values()) == len([1 for c in moves.values() if c == "ENTERED"])
    code, out, _ = dtks_command(spark, config, "diff")
    assert code == 0
    gone = collections.Counter(program for (program, hh) in found if hh in killed)
    for program, n in gone.items():
        assert re.search(rf"^{program} +registry event \(death, duplicate, move\) +0 +{n}$", out, re.M), out
    # The queue's registry events, flagged at ingest, are the households whose head's registry record says they
    # died, live in another village or are on another KK, worked out here from the silver tables; but those whose
    # current interview already closed an entry (a signal does not queue it again).
    registry = tables.read(spark, config, tables.REGISTRY).select(
        "nik_token", F.col("village_code").alias("r_village"), F.col("kk_token").alias("r_kk"), "death_date").toPandas()
    heads = (tables.read(spark, config, tables.MEMBERS).where("relationship = 1").select("household_id", "nik_token")
             .toPandas().merge(registry, on="nik_token"))
    surveyed = tables.read(spark, config, tables.HOUSEHOLDS).select(
        "household_id", "village_code", "kk_token", "interview_date").toPandas()
    heads = heads.merge(surveyed, on="household_id")
    event = (heads.death_date.notna() | (heads.r_village != heads.village_code)
             | (heads.r_kk.notna() & heads.kk_token.notna() & (heads.r_kk != heads.kk_token)))
    history = tables.read(spark, config, tables.QUEUE_HISTORY).where(
        "status != 'OPEN' AND household_id IS NOT NULL").toPandas()
    done = {(r.household_id, d) for r in history.itertuples() for d in (r.interview_date, r.resurvey_date)}
    expected = {r.household_id for r in heads[event].itertuples() if (r.household_id, r.interview_date) not in done}
    queue = tables.read_published(spark, config, tables.QUEUE).toPandas()
    queued = set(queue[queue.reasons.apply(lambda r: "REGISTRY_EVENT" in r)].household_id)
    assert set(killed) <= queued == expected

    # Then the policy, on the same nation. The programme rules (rule_version unchanged): SEMBAKO narrowed to
    # deciles 1-4, and a new programme for every household within coverage. Every change is the policy's, on
    # those two programmes only.
    rules = yaml.safe_load(config.conf_file(config.programs_file).read_text())
    rules["programs"]["SEMBAKO"]["deciles"] = [1, 4]
    rules["programs"]["KARTU"] = {"deciles": [1, 10], "within_coverage": True}
    (tmp_path / "programs.yaml").write_text(yaml.safe_dump(rules))
    config = config.model_copy(update={"programs_file": str(tmp_path / "programs.yaml")})
    found, _ = publish(policy=True)
    assert all(why == {"POLICY"} for _, why in found.values())
    assert {(p, c) for (p, _), (c, _) in found.items()} == {("SEMBAKO", "LEFT"), ("KARTU", "ENTERED")}
    # The coverage target, 0.6 -> 0.5: KARTU's households beyond the new line leave, for the policy.
    config = config.model_copy(update={"ranking": config.ranking.model_copy(update={"coverage_target": 0.5})})
    found, _ = publish(policy=True)
    assert {(p, c) for (p, _), (c, _) in found.items()} == {("KARTU", "LEFT")}
    assert all(why == {"POLICY"} for _, why in found.values())


def test_appeals_are_ingested_and_queued_with_their_deadlines(spark, nation):
    """The generated appeals: defects quarantined with the expected codes, counts reconciled, and every valid
    appeal queued once, about its household, with its type as a reason and its deadline from config."""
    config, landing, results, manifest = nation
    truth = appeals_truth(spark, landing)
    d = results["ingest"].details
    copies = (truth.defect == "duplicate").sum()
    assert int(d["appeals.read"]) == manifest["row_counts"]["appeals"] == len(truth) + copies
    assert int(d["appeals.read"]) == int(d["appeals.accepted"]) + int(d["appeals.quarantined"])
    bad = truth[truth.defect.notna()]
    assert len(bad) >= 8 and bad.defect.nunique() >= 5
    quarantined = tables.read(spark, config, tables.QUARANTINE).where("source = 'appeals'").toPandas()
    assert (sorted(zip(quarantined.record_key, quarantined.reason_code, strict=True))
            == sorted(zip(bad.appeal_id, bad.reason_code, strict=True)))
    valid = truth[truth.defect.isna() | (truth.defect == "duplicate")]
    stored = tables.read(spark, config, tables.APPEALS).toPandas()
    assert sorted(stored.appeal_id) == sorted(valid.appeal_id) and int(d["appeals.accepted"]) == len(valid)
    heads = set(truth.head_nik.dropna())
    assert heads and stored.head_token.notna().any() and not set(stored.head_token.dropna()) & heads  # tokens only

    queue = tables.read_published(spark, config, tables.QUEUE).toPandas()
    history = tables.read_published(spark, config, tables.QUEUE_HISTORY).toPandas()
    assert len(history) == len(queue) and set(history.entry_id) == set(queue.entry_id)  # first publish: all new
    assert (queue.status == "OPEN").all()  # 2025-10-15: no deadline has passed yet
    of_appeal = queue.explode("appeal_ids").dropna(subset=["appeal_ids"]).set_index("appeal_ids")
    assert sorted(of_appeal.index) == sorted(valid.appeal_id)  # each valid appeal in exactly one entry
    days, as_of = config.queue.deadline_days, dt.date(2025, 10, 15)
    filed = stored.set_index("appeal_id")
    for appeal in valid.itertuples():
        entry = of_appeal.loc[appeal.appeal_id]
        assert appeal.appeal_type in entry.reasons
        if isinstance(appeal.household_id, str):
            assert entry.household_id == appeal.household_id
    for entry in queue.itertuples():  # the earliest of its reasons' deadlines: from filing, or from today
        starts = [filed.loc[a].filed_at.date() + dt.timedelta(days=days[filed.loc[a].appeal_type])
                  for a in entry.appeal_ids]
        starts += [as_of + dt.timedelta(days=days[r]) for r in entry.reasons if r not in ("SANGGAH", "USUL")]
        assert entry.deadline == min(starts), entry.entry_id
    # The other reasons come from their rules: the curbstoner's households, and the band around the cut-off.
    curb = queue[queue.reasons.apply(lambda r: "CURBSTONING" in r)]
    enumerators = set(tables.read(spark, config, tables.HOUSEHOLDS).where(
        F.col("household_id").isin(list(curb.household_id))).toPandas().enumerator_id)
    assert enumerators and enumerators <= set(manifest["parameters"]["curbstoning_enumerators"])
    near = set(queue[queue.reasons.apply(lambda r: "NEAR_CUTOFF" in r)].household_id)
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS).toPandas()
    population = int(results["publish"].details["population"])
    line = math.floor(population * config.ranking.coverage_target)
    band = math.floor(population * config.queue.near_cutoff_band)
    assert near == set(gold[(gold.cum_persons - line).abs() <= band].household_id) and near
    assert set(queue.priority) <= set(range(1, 7)) and (queue[queue.reasons.apply(
        lambda r: "SANGGAH" in r)].priority == 1).all()


def test_each_gate_failure_keeps_the_published_tables(spark, own_nation):
    """On a copy of the nation: it records an unbalanced ingest and deletes the model version."""
    import datetime as dt

    from mlflow import MlflowClient

    from jobs.publish import gates
    from runtime import runs

    config, _, _, _ = own_nation
    v = versions(spark, config, GOLD)
    strict = config.model_copy(
        update={"thresholds": config.thresholds.model_copy(update={"min_national_match_rate": 0.999})}
    )
    with pytest.raises(GateFailed, match="national_match_rate"):
        run(spark, strict, "publish")
    regional = config.model_copy(
        update={"thresholds": config.thresholds.model_copy(update={"min_region_match_rate": 0.999})}
    )
    with pytest.raises(GateFailed, match="region_match_rate"):
        run(spark, regional, "publish")
    # A surveyed regency with no ranked household (checked on the staged frames publish builds).
    def regencies(name: str) -> set[str]:
        return {r.regency_code for r in tables.read(spark, config, name).select("regency_code").distinct().collect()}

    surveyed, ranked = regencies(tables.HOUSEHOLDS), regencies(tables.DTKS_HOUSEHOLDS)
    one = sorted(ranked)[0]
    missing = gates.regions_covered(surveyed, ranked - {one})
    assert not missing.passed and one in missing.detail
    # The latest ingest did not balance.
    now = dt.datetime.now(dt.UTC)
    runs.record(
        spark,
        config,
        "unbalanced",
        "ingest",
        "SUCCEEDED",
        now,
        now,
        runs.StageResult(
            details={"survey_members.read": "10", "survey_members.accepted": "8", "survey_members.quarantined": "1"}
        ),
    )
    with pytest.raises(GateFailed, match="reconciliation: rows read != accepted"):
        run(spark, config, "publish")
    # The scored model version is no longer in the registry.
    MlflowClient().delete_model_version(config.mlflow.model_name, "1")
    with pytest.raises(GateFailed, match="model_registered: dtks_pmt v1 is not in the model registry"):
        run(spark, config, "publish")
    assert versions(spark, config, GOLD) == v


def artifacts_dir() -> Path:
    """Where test artefacts (the report's screenshots) are kept after the run: $DTKS_TEST_ARTIFACTS, by default
    <repo>/test-artifacts (git-ignored)."""
    folder = Path(os.environ.get("DTKS_TEST_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def expected_quarantine_places(spark, config, landing) -> dict[tuple[str, str, str], int]:
    """Quarantined survey rows by (province, source, reason), worked out from the landing files: a household's
    province is the first two digits of its delivered village code when they name a province of the reference
    (accepted or rejected, for any reason); a member's is its household's; anything else (no household row,
    a code naming no province, a key made from a whole row) is `unknown`."""
    quarantine = tables.read(spark, config, tables.QUARANTINE).where(F.col("source").startswith("survey_"))
    provinces = sorted(regions.load(config).provinces["province_code"])
    digits = F.substring(region_codes.plain_column(F.col("village_code")), 1, 2)
    village = (spark.read.parquet(str(landing / "survey_households"))
               .select("household_id", digits.alias("province")).where(F.col("province").isin(*provinces))
               .groupBy("household_id").agg(F.min("province").alias("province")))
    household = F.when(F.col("source") == "survey_members", F.split("record_key", ":")[0]).otherwise(
        F.col("record_key"))
    rows = (quarantine.withColumn("household_id", household).join(village, "household_id", "left")
            .groupBy(F.coalesce("province", F.lit(report_figures.UNKNOWN)).alias("province"), "source", "reason_code")
            .count().collect())
    return {(r.province, r.source, r.reason_code): r["count"] for r in rows}


def check_report_page(spark, config, landing, page: Path, curbstoner: str, folder: Path) -> None:
    """The report page in Chromium at a desktop's and a phone's width (tests/browser.py): names beside codes,
    the national coverage the gold table gives, one map tile per published province, quarantine placed by
    province, the curbstoner listed, sorting and filtering, and no horizontal overflow. Screenshots are kept
    (artifacts_dir)."""
    text = page.read_text()
    # Self-contained: no script, image, style sheet or frame from elsewhere; links only within the page.
    assert not re.search(r"<(?:script|img|iframe|link)\b[^>]*\b(?:src|href)=", text, re.I)
    assert not re.search(r"url\(", text) and all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', text))
    assert "List=function" in text  # list.js inlined
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)
    publication = tables.latest_publication(spark, config)
    covered = gold.where("within_coverage").agg(F.sum("hh_size")).first()[0]
    coverage = covered / publication.population
    gold_provinces = {r.province_code for r in gold.select("province_code").distinct().collect()}
    names = regions.load(config).provinces.set_index("province_code")["province_name"]
    quarantine = {(r.source, r.reason_code): r["count"]
                  for r in tables.read(spark, config, tables.QUARANTINE).groupBy("source", "reason_code").count()
                  .collect()}
    expected_places = expected_quarantine_places(spark, config, landing)
    # Every quarantined survey row of this nation names a province (rows that cannot be placed are proven in
    # tests/test_ingest.py and shown as "province unknown" in tests/test_report_page.py).
    assert expected_places and all(k[0] != report_figures.UNKNOWN for k in expected_places)
    kept = artifacts_dir()
    shutil.copy(page, kept / "report.html")
    for width in (1280, 390):
        seen = browser.probe(page, width, folder, filter_text=curbstoner)
        for state in ("closed", "open"):  # provinces closed as loaded, then every province open
            layout = seen[state]
            assert layout["innerWidth"] == width, (state, layout)
            assert layout["scrollWidth"] <= layout["innerWidth"], (width, state, layout)
            assert not layout["overflowing"], (width, state, layout["overflowing"])
        for code in gold_provinces:
            assert f"{code} {names[code]}" in seen["text"], (width, code)
        assert float(seen["coverage"]) == pytest.approx(coverage, rel=1e-12), (seen["coverage"], coverage)
        assert sorted(seen["mapProvinces"]) == sorted(gold_provinces)  # one tile each
        assert seen["mapNoData"] == 38 - len(gold_provinces)
        assert all(any(f"{c} {names[c]}: coverage " in t for t in seen["mapTitles"]) for c in gold_provinces)
        assert seen["toggled"]  # the map's match-rate view
        placed: dict[tuple[str, str, str], int] = {}
        for province, source, reason, rows in seen["quarantine"]:
            placed[(province, source, reason)] = placed.get((province, source, reason), 0) + rows
        assert {k: v for k, v in placed.items() if k[1].startswith("survey_")} == expected_places
        totals: dict[tuple[str, str], int] = {}
        for (_, source, reason), rows in placed.items():
            totals[(source, reason)] = totals.get((source, reason), 0) + rows
        assert totals == quarantine  # every quarantined row counted once
        assert curbstoner in seen["enumerators"]
        assert seen["filtered"] == [curbstoner]  # the filter box keeps the matching enumerator only
        up, down = ([float(v) for v in seen[k]] for k in ("sortedUp", "sortedDown"))
        assert len(up) >= 2 and up == sorted(up) and down == sorted(down, reverse=True)
        shot = browser.screenshot(page, width, min(seen["firstOpenHeight"], 16_000), folder,
                                  folder / f"report-{width}.png")
        assert shot.stat().st_size > 20_000
        shutil.copy(shot, kept / shot.name)


def test_report_finds_the_curbstoner_and_renders(spark, own_nation, tmp_path):
    config, landing, _, manifest = own_nation
    run(spark, config, "report", reports_dir=str(tmp_path / "reports"), no_mlflow=True)
    _, second_run = run(spark, config, "report", reports_dir=str(tmp_path / "again"), no_mlflow=True)
    for name in (tables.QUALITY_BY_REGION, "quality_enumerators"):  # a second report says the same
        df = tables.read(spark, config, name)
        first, again = (df.where(cond).drop("run_id")
                        for cond in (F.col("run_id") != second_run, F.col("run_id") == second_run))
        assert_same_rows(first, again, name)
        assert not first.isEmpty(), name
    enum = tables.read(spark, config, "quality_enumerators").orderBy(F.col("revisit_score").desc()).limit(3).collect()
    curbstoners = set(manifest["parameters"]["curbstoning_enumerators"])
    found = sorted(curbstoners & {r.enumerator_id for r in enum})
    assert found
    page = next((tmp_path / "reports").glob("*/index.html"))
    assert [p.name for p in page.parent.iterdir()] == ["index.html"]  # one self-contained file
    check_report_page(spark, config, landing, page, found[0], tmp_path / "browser")
    niks, names = personal_data(spark, landing)
    assert_no_personal_data(b"".join(p.read_bytes() for p in (tmp_path / "reports").rglob("*") if p.is_file()),
                            niks, names)
    by_region = tables.read(spark, config, tables.QUALITY_BY_REGION).where(F.col("run_id") == second_run)
    accepted = by_region.agg(F.sum("households_accepted")).first()[0]
    assert accepted == tables.read(spark, config, tables.HOUSEHOLDS).count()


# ---------------------------------------------------------------- before a model goes live: impact and the gate

def dtks_model(config, capsys, *argv: str) -> tuple[int, str, str]:
    """`dtks model ACTION ...` in this process, on the shared Spark session: (exit code, stdout, stderr)."""
    import argparse

    from jobs.model_commands import add_model_commands, run_model_command

    parser = argparse.ArgumentParser()
    add_model_commands(parser.add_subparsers(dest="command"))
    action, *rest = argv
    common = ["--env", "test", "--set", f"lakehouse_root={config.lakehouse}",
              "--set", f"mlflow.tracking_uri={config.mlflow.tracking_uri}",
              "--set", f"mlflow.artifact_root={config.mlflow.artifact_root}"]
    capsys.readouterr()
    code = run_model_command(parser.parse_args(["model", action, *common, *rest]))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def published_frames(spark, config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published households (id, province, persons, decile, coverage flag) and eligibility (wide)."""
    hh = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS).select(
        "household_id", "province_code", "hh_size", "decile", "within_coverage").toPandas().set_index("household_id")
    elig = (tables.read_published(spark, config, tables.PROGRAM_ELIGIBILITY)
            .select("program", "household_id", "eligible").toPandas()
            .pivot(index="household_id", columns="program", values="eligible"))
    return hh, elig.assign(WITHIN_COVERAGE=hh["within_coverage"])


def moves_between(before: tuple[pd.DataFrame, pd.DataFrame], after: tuple[pd.DataFrame, pd.DataFrame]) -> dict:
    """(program, province) -> (entered households, entered persons, left households, left persons), non-zero only."""
    hh, was = before
    now = after[1].reindex(was.index)
    out = {}
    for program in was.columns:
        entered, left = now[program] & ~was[program], was[program] & ~now[program]
        for province, part in hh.groupby("province_code"):
            e, lv = entered.loc[part.index], left.loc[part.index]
            counts = (int(e.sum()), int(part["hh_size"][e].sum()), int(lv.sum()), int(part["hh_size"][lv].sum()))
            if any(counts):
                out[(program, province)] = counts
    return out


def test_a_candidates_impact_is_what_promoting_and_publishing_it_changes(spark, own_nation, capsys, tmp_path):
    """A quantile-regression PMT trained as challenger: its shadow ranking writes nothing, and what it
    foretells (entries and exits per programme and province, persons, decile transitions, churn) is what
    promoting it, scoring and publishing then changes, and every change carries the reason MODEL. Its native
    scores equal pyfunc's; the report shows its impact."""
    import mlflow
    from mlflow import MlflowClient

    from jobs.policy.impact import measure
    from models.impact import COVERAGE

    config, _, _, _ = own_nation
    trained, _ = run(spark, config, "train", family="pmt_quantile", no_promote=True)
    version = trained.model_version
    assert version == "2" and trained.details["family"] == "pmt_quantile"
    assert trained.details["alias"] == "challenger"
    assert "promotion disabled" in trained.details["promotion_reason"]
    before_versions = tables.current_versions(spark, config)
    taken = tmp_path / "taken"  # --out: a new or empty folder only, refused before anything is measured
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    code, out, err = dtks_model(config, capsys, "impact", version, "--out", str(taken))
    assert code == 2 and err.splitlines() == [f"dtks: error: --out {taken} already exists and is not an empty folder: "
                                              "the impact tables go to a new or empty one; nothing was written"]
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    code, out, _ = dtks_model(config, capsys, "impact", version)
    assert code == 0 and f"impact of dtks_pmt v{version} (native) on publication 1" in out, out
    run_of = MlflowClient().get_model_version(config.mlflow.model_name, version).run_id
    logged = MlflowClient().get_run(run_of).data.metrics["impact_churn"]
    code, out, _ = dtks_model(config, capsys, "impact", version, "--coverage", "0.3")  # a what-if
    assert code == 0 and "not logged to the version's MLflow run" in out, out
    assert MlflowClient().get_run(run_of).data.metrics["impact_churn"] == logged
    impact = measure(spark, config, version)
    assert tables.current_versions(spark, config) == before_versions  # no table written
    assert trained.details["impact_churn"] == f"{impact.churn:.4f}"  # measured at training too
    before = published_frames(spark, config)

    code, out, err = dtks_model(config, capsys, "promote", version, "--force", "--reason", "impact test")
    assert code == 0, err
    run(spark, config, "score")
    eligible_before = eligible_at(spark, config)
    _, published_by = run(spark, config, "publish", as_of=pd.Timestamp("2025-10-15").date())
    after = published_frames(spark, config)
    # Every entry and exit of this publish is the model's: only the model changed.
    found = reasons_of_run(spark, config, published_by)
    assert {k: c for k, (c, _) in found.items()} == net_moves(eligible_before, eligible_at(spark, config))
    assert all(why == {"MODEL"} for _, why in found.values()) and {c for c, _ in found.values()} == {"ENTERED", "LEFT"}

    expected = moves_between(before, after)
    got = {(r.program, r.province_code): (r.entered_households, r.entered_persons, r.left_households, r.left_persons)
           for r in impact.by_province.itertuples() if (r.entered_households, r.left_households) != (0, 0)}
    assert {p for p, _ in expected} - {COVERAGE} and got == expected
    assert impact.households == len(before[0]) and impact.persons == before[0]["hh_size"].sum()
    programs = [p for p in before[1].columns if p != COVERAGE]
    changed = (before[1][programs] != after[1][programs].reindex(before[1].index)).any(axis=1)
    assert impact.persons_changed == before[0]["hh_size"][changed].sum() > 0
    transitions = pd.crosstab(before[0]["decile"], after[0]["decile"].reindex(before[0].index)).stack()
    got_transitions = impact.transitions.set_index(["decile_before", "decile_after"])["households"]
    assert got_transitions.to_dict() == {k: v for k, v in transitions.items() if v}
    moved = (before[0]["decile"] - after[0]["decile"].reindex(before[0].index)).abs() >= 2
    assert impact.households_decile_moved_2 == moved.sum()
    # per subgroup: the same moves, of the households in it (female heads here)
    heads = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS).where("head_female = 1").select(
        "household_id").toPandas()["household_id"]
    female = moves_between((before[0].loc[heads], before[1].loc[heads]), after)
    sub = impact.by_subgroup[impact.by_subgroup["subgroup"] == "female_head"].set_index("program")
    for program in programs:
        assert sub.loc[program, "left_households"] == sum(v[2] for (p, _), v in female.items() if p == program)

    # every score replaced by the new version's, same row_hash or not; scored natively, equal to pyfunc's prediction
    scored_by = tables.read(spark, config, tables.SCORES).select("model_version").distinct().collect()
    assert [r.model_version for r in scored_by] == [version]
    scores = tables.read(spark, config, tables.SCORES).select("household_id", "welfare_score", "scoring_path",
                                                              "model_version")
    frame = tables.read(spark, config, tables.HOUSEHOLDS).where("rankable").join(scores, "household_id").toPandas()
    assert set(frame["scoring_path"]) == {"native"} and set(frame["model_version"]) == {version}
    model = mlflow.pyfunc.load_model(f"models:/dtks_pmt/{version}")
    predicted = model.predict(frame[model.metadata.get_input_schema().input_names()])
    assert max(abs(pd.Series(predicted).to_numpy() - frame["welfare_score"].to_numpy())) < 1e-9

    # logged to the version's run, and shown by the report of the publication that used it
    run_id = MlflowClient().get_model_version("dtks_pmt", version).run_id
    logged = {a.path for a in MlflowClient().list_artifacts(run_id, "impact")}
    assert logged == {f"impact/{n}" for n in ("impact_by_province.csv", "impact_by_subgroup.csv",
                                              "decile_transitions.csv", "impact_summary.json")}
    assert "plots/impact_by_province.png" in {a.path for a in MlflowClient().list_artifacts(run_id, "plots")}
    report, _ = run(spark, config, "report", no_mlflow=True)
    page = Path(report.details["report"]).read_text()
    assert f"dtks_pmt v{version} was measured against publication 1" in page
    assert report_formats.pct(impact.churn, 2) in page


def test_the_churn_gate_holds_back_a_model_trained_on_shuffled_features(spark, own_nation, capsys):
    """Features shuffled against the target: the model ranks nearly at random, so most of the nation would
    change eligibility. It is not promoted, the reason names the limit; `dtks model promote` refuses it too,
    and `--force` promotes it recording who and why."""
    import numpy as np
    from mlflow import MlflowClient

    from jobs.policy.impact import measure
    from models import registry
    from models.features import load_spec
    from models.training import collect_training, train

    config, _, _, _ = own_nation
    frame = collect_training(tables.read(spark, config, tables.TRAINING), load_spec(config), config)
    inputs = load_spec(config).input_columns
    order = np.random.default_rng(0).permutation(len(frame))
    frame[inputs] = frame[inputs].iloc[order].to_numpy()
    outcome = train(frame, config, impact=lambda v: measure(spark, config, v))
    client, name = MlflowClient(), config.mlflow.model_name
    assert not outcome.promoted and outcome.impact.churn > config.promotion.max_churn
    assert f"churn {outcome.impact.churn:.2%} of persons exceeds promotion.max_churn" in outcome.reason
    assert registry.champion_version(client, name) == "1"
    assert registry.alias_version(client, name, "challenger") == outcome.version

    code, _, err = dtks_model(config, capsys, "promote", outcome.version)
    assert code == 2 and "promotion.max_churn" in err and "--force --reason" in err, err
    assert registry.champion_version(client, name) == "1"
    code, _, err = dtks_model(config, capsys, "promote", outcome.version, "--force")
    assert code == 2 and "needs --reason" in err
    code, out, _ = dtks_model(config, capsys, "promote", outcome.version, "--force", "--reason", "field trial",
                              "--by", "analyst-7")
    assert code == 0 and registry.champion_version(client, name) == outcome.version
    tags = client.get_model_version(name, outcome.version).tags
    assert tags["forced_by"] == "analyst-7" and tags["forced_reason"] == "field trial"
    assert tags["promotion_reason"].startswith("forced by analyst-7: field trial (over: churn ")
