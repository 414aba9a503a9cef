"""What a person at the terminal sees: a quiet console with the stages and their summaries, everything
else in the run's log, and `dtks status` before any run and after a run (while a run holds the lock:
test_pipeline's kill test)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.core import regions
from runtime import tables
from tests import key_scan
from tests.conftest import AS_OF, assert_same_rows, dtks_cli, dtks_command, make_config
from tests.published import GOLD, SILVER

pytestmark = pytest.mark.e2e  # `dtks` as processes of their own, and a `dtks run` on a copy of the shared nation

NOISE = re.compile(r"WARN|Warning|INFO matplotlib")


def dtks(config, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYSPARK_PYTHON": sys.executable}
    return subprocess.run(dtks_cli(config, *args), env=env, cwd=cwd, capture_output=True, text=True, timeout=1200)


def test_status_before_any_run_reads_and_creates_nothing(tmp_path):
    """The command line itself (entry point, parsing, exit codes), as processes: `dtks status` on an empty
    lakehouse starts no Spark; generate over a delivery and a bad argument are one line and exit code 2; a
    plain `dtks run` over a delivery skips generate and ingests it (the one JVM this test starts: the skip
    and ingest's refusal of an incomplete delivery, as a terminal shows them)."""
    config = make_config(tmp_path)
    done = dtks(config, tmp_path, "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"lakehouse {tmp_path / 'lake'}",
        "lock: free",
        "stages: no run recorded yet (start with `dtks run`)",
        "publication: none yet",
        "champion model: none (run `dtks train`)",
    ]
    as_json = json.loads(dtks(config, tmp_path, "status", "--json").stdout)
    assert as_json == {"lakehouse": str(tmp_path / "lake"), "lock": None, "stages": [], "publication": None,
                       "champion": None}
    assert not (tmp_path / "lake").exists() and not (tmp_path / "mlflow.db").exists()
    # A folder holding a delivered extract: `dtks generate` and `dtks run --stages generate,...` refuse it in
    # one line, exit code 2, before any Spark starts; the extract is byte-identical after.
    extract = tmp_path / "delivery" / "registry" / "dukcapil_extract_2026Q3.csv"
    extract.parent.mkdir(parents=True)
    extract.write_bytes(b"nik,kk_number,full_name\n3273015708900001,3273010101010001,A\n")
    base = tmp_path / "nation"  # a generated nation for --update-of (its manifest is all it reads first)
    base.mkdir()
    (base / "manifest.json").write_text(json.dumps({"generator": "dtks generate", "row_counts": {}, "files": {}}))
    for args in (("generate", "--households", "200", "--out", str(tmp_path / "delivery")),
                 ("generate", "--update-of", str(base), "--out", str(tmp_path / "delivery")),
                 ("run", "--stages", "generate,ingest", "--set", f"landing.root={tmp_path / 'delivery'}")):
        refused = dtks(config, tmp_path, *args)
        assert refused.returncode == 2 and refused.stderr.splitlines() == [
            f"dtks: error: {'--out' if args[0] == 'generate' else 'the landing zone'} {tmp_path / 'delivery'} holds "
            "no manifest.json of dtks generate, and registry: generate replaces only a folder that is absent, empty "
            "or written by dtks generate; nothing was touched"], refused.stderr
    plain = dtks(config, tmp_path, "run", "--set", f"landing.root={tmp_path / 'delivery'}",
                 "--set", "landing.format=csv")
    assert plain.returncode == 2, (plain.stdout, plain.stderr)
    assert plain.stdout.splitlines()[2:4] == [
        f"landing zone {tmp_path / 'delivery'} holds a delivery (no manifest.json of dtks generate, and registry): "
        "generate skipped, the pipeline runs on it",
        "stages: ingest -> train -> score -> publish -> report"]
    assert plain.stderr.splitlines() == [
        f"dtks: error: {tmp_path / 'delivery'}/registry: source 'registry' lacks mandatory column(s): birth_date, "
        "sex, village_code, relationship, death_date, updated_at"]  # the extract's three columns only
    assert extract.read_bytes() == b"nik,kk_number,full_name\n3273015708900001,3273010101010001,A\n"
    assert sorted(p.name for p in (tmp_path / "delivery").rglob("*")) == ["dukcapil_extract_2026Q3.csv", "registry"]
    bad = dtks(config, tmp_path, "run", "--stages", "ingest,rank")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines()[-1].endswith(
        "argument --stages: unknown stage(s) rank; stages are generate, ingest, train, score, publish, report")


def test_a_second_identical_run_prints_its_stages_changes_nothing_and_leaves_no_key(spark, own_nation, tmp_path,
                                                                                    monkeypatch):
    """`dtks run` of every stage again on the test nation's own landing, as a process of its own, with the event
    log on. Three guarantees share this one run (each needs a whole pipeline run in its own JVM):
    - what a terminal shows: the header, a line per stage and the summaries, no warning or library message;
      Spark's messages in the run's log;
    - a second identical run changes nothing: every silver and gold table holds the same rows, the eligibility
      MERGE commits nothing (an empty change feed), the equal model trained does not replace the champion;
    - no NIK key material in the event log (every plan that tokenised), the console, the run's log, MLflow,
      pipeline_runs or the Delta logs (the UI's pages, which the history server builds from the event log: the
      cluster test).
    Then `dtks status` (in process) shows every stage, the publication and the champion; `dtks diff` the entries
    by province and reason."""
    from mlflow import MlflowClient

    config, landing, results, _ = own_nation
    held = {name: tables.version(spark, config, name) for name in GOLD + SILVER}
    events = tmp_path / "events"
    events.mkdir()
    extra = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri()}  # merged into the config's
    done = dtks(config, tmp_path, "run", "--stages", "ingest,train,score,publish,report", "--as-of", AS_OF,
                "--set", f"landing.root={landing}", "--set", "spark.extra=" + json.dumps(extra))
    assert done.returncode == 0, done.stdout + done.stderr
    console = done.stdout.splitlines() + done.stderr.splitlines()
    assert not [line for line in console if NOISE.search(line)], console
    header = re.fullmatch(r"dtks run · run (\S+) · env test · lakehouse (.+)", console[0])
    assert header and header[2] == config.lakehouse, console[0]
    run_id = header[1]
    assert console[1] == f"log: reports/{run_id}/dtks.log"
    assert console[2] == "stages: ingest -> train -> score -> publish -> report"
    for stage in ("ingest", "train", "score", "publish", "report"):
        assert [line for line in console if re.match(rf"{stage} +rows in .* out .* s$", line)], stage
    assert any(line.startswith("done in ") for line in console)
    assert any(line.startswith("publish: ") for line in console)
    log = (tmp_path / "reports" / run_id / "dtks.log").read_text()
    assert "Using Spark's default log4j profile" in log and re.search(r" WARN [A-Za-z]+: ", log)
    assert "INFO dtks: publish: ranking every household nationally" in log

    # Nothing changed: the same rows everywhere; the eligibility MERGE had no change to commit.
    for name, version in held.items():
        assert_same_rows(tables.read(spark, config, name), tables.read(spark, config, name, version), name)
    assert tables.version(spark, config, tables.PROGRAM_ELIGIBILITY) == held[tables.PROGRAM_ELIGIBILITY]
    # train registered an equal version 2, which does not beat the champion: nothing downstream moves.
    assert str(MlflowClient().get_model_version_by_alias(config.mlflow.model_name, "champion").version) == "1"

    # No key material anywhere an attacker would look; what was searched holds the plans that tokenised.
    logs = key_scan.event_logs(spark, events)
    assert len(logs) == 1 and b"SparkListenerSQLExecutionStart" in next(iter(logs.values()))
    assert b"dtks_nik_token" in next(iter(logs.values()))
    blobs = (logs | {k: v for k, v in key_scan.files(config.path(config.lakehouse), "lakehouse").items()
                     if "/_delta_log/" in k}
             | {"console stdout": done.stdout.encode(), "console stderr": done.stderr.encode(),
                "run log": log.encode()}
             | key_scan.mlflow_dump(config.mlflow.tracking_uri)
             | key_scan.table_dump(spark, config, tables.PIPELINE_RUNS))
    assert b'"params"' in blobs["mlflow"] and b"ingest" in blobs["pipeline_runs"]
    assert key_scan.scan(blobs, os.environ["DTKS_NIK_KEY"].encode()) == []

    code, text, err = dtks_command(spark, config, "status")
    assert code == 0, err
    lines = text.splitlines()
    assert "lock: free" in lines
    for stage in ("ingest", "train", "score", "publish", "report"):
        assert [line for line in lines if re.match(rf"  {stage} +SUCCEEDED ", line)], (stage, lines)
    assert any(re.match(rf"  report +SUCCEEDED .* run {run_id}$", line) for line in lines), lines
    as_json = json.loads(dtks_command(spark, config, "status", "--json")[1])
    stages = {s["stage"]: s for s in as_json["stages"]}
    assert stages["ingest"]["rows_in"] == results["ingest"].rows_in and stages["ingest"]["run_id"] == run_id
    assert stages["publish"]["run_id"] == run_id and stages["publish"]["status"] == "SUCCEEDED"
    assert as_json["publication"]["publication_id"] == 2 and as_json["publication"]["run_id"] == run_id
    assert set(as_json["publication"]["versions"]) == {"dtks_households", "dtks_members", "program_eligibility",
                                                       "household_scores", "eligibility_reasons",
                                                       "verification_queue", "verification_history"}
    # Read without Spark (deltalake, a local lakehouse): exactly what the Spark reading gives.
    from jobs.lookup import status
    from runtime.stage import StageContext

    ctx = StageContext(config=config, run_id="status-check", _spark=spark)
    without_spark = status.collect(ctx)
    monkeypatch.setattr(status, "_without_spark", lambda ctx: False)
    assert status.collect(ctx) == without_spark
    assert without_spark["stages"] == as_json["stages"] and without_spark["publication"]["run_id"] == run_id
    code, text, err = dtks_command(spark, config, "diff", "--from-version", "0")  # every entry since the first
    assert code == 0, err
    # Read without Spark (deltalake's change feed), as `status` above: the Spark reading prints the same.
    from runtime import delta_reads

    monkeypatch.setattr(delta_reads, "local", lambda config: False)
    assert dtks_command(spark, config, "diff", "--from-version", "0") == (code, text, err)
    monkeypatch.undo()
    names = regions.load(config).names()
    lines = text.splitlines()
    by_reason = lines.index("by reason (a household with several reasons is counted under each):")
    rows = [line.split() for line in lines[2:by_reason]]
    assert rows and all(names.label(r[1]) == " ".join(r[1:-2]) for r in rows), text  # `32 Jawa Barat`
    # The first publication's entries are new interviews.
    entries = r"PKH +new or re-surveyed interview +[1-9][\d,]* +\d+$"
    assert any(re.match(entries, line) for line in lines[by_reason + 2:]), text
    champion = as_json["champion"]
    # train registered version 2, equal to the champion on the same data: it does not replace it.
    assert champion["model"] == config.mlflow.model_name and champion["version"] == "1"
    assert set(champion["metrics"]) >= {"r2", "spearman", "exclusion_error_40", "exclusion_error_60"}
