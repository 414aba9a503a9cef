"""No command replaces a delivery it did not write (jobs/core/deliveries.py `foreign`, jobs/cli.py
`run_stages`): generate replaces a folder only when it is absent, empty or its own; `dtks run` skips generate
over a delivery, and `--stages generate` over one stops. Every refused folder is byte-identical after."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from jobs import cli
from jobs.core.deliveries import foreign
from runtime.config import load_config
from runtime.errors import UserError
from runtime.stage import StageContext
from tests.conftest import console_lines, make_config, run

EXTRACT = "dukcapil_extract_2026Q3.csv"


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file under `folder` by relative path, with the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def generated(folder: Path, generator: str = "dtks generate") -> Path:
    """What `dtks generate` leaves: its manifest (and the manifest's checksum sidecar) and the folders it counts,
    each file listed in the manifest with its size."""
    for name in ("registry", "survey_households", "truth/defects"):
        (folder / name).mkdir(parents=True)
        (folder / name / "part-00000.parquet").write_bytes(b"PAR1")
        (folder / name / "_SUCCESS").write_bytes(b"")
    files = {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    (folder / "manifest.json").write_text(json.dumps({"generator": generator, "row_counts": {
        "registry": 3, "survey_households": 1, "truth/defects": 0}, "files": files}))
    (folder / ".manifest.json.crc").write_bytes(b"crc")
    return folder


def delivered(folder: Path, fmt: str = "csv") -> Path:
    """A provider's delivery: the civil-registry extract, no manifest."""
    (folder / "registry").mkdir(parents=True)
    if fmt == "csv":
        (folder / "registry" / EXTRACT).write_text("nik,kk_number,full_name\n3273015708900001,3273010101010001,A\n")
    else:
        (folder / "registry" / "part-00000-delivered.parquet").write_bytes(b"PAR1 delivered PAR1")
    return folder


def test_foreign_names_what_generate_did_not_write(tmp_path):
    """Absent, empty and generated folders may be replaced; a delivery (CSV or Parquet, no manifest), a foreign
    manifest, and a generated manifest beside a foreign file may not, and the words say what is foreign."""
    assert foreign(str(tmp_path / "absent")) is None
    (tmp_path / "empty").mkdir()
    assert foreign(str(tmp_path / "empty")) is None
    assert foreign(str(generated(tmp_path / "ours"))) is None
    assert foreign(str(generated(tmp_path / "update", "dtks generate --update-of"))) is None
    assert foreign(str(delivered(tmp_path / "csv"))) == "no manifest.json of dtks generate, and registry"
    assert foreign(str(delivered(tmp_path / "parquet", "parquet"))) == "no manifest.json of dtks generate, and registry"
    theirs = generated(tmp_path / "theirs", "dukcapil export 4.1")
    assert foreign(str(theirs)) == "a manifest.json that dtks generate did not write"
    (theirs / "manifest.json").write_text("{not json")
    assert foreign(str(theirs)) == "a manifest.json that is not dtks generate's"
    mixed = generated(tmp_path / "mixed")
    (mixed / EXTRACT).write_text("nik\n")
    (mixed / "appeals").mkdir()
    assert foreign(str(mixed)) == f"appeals, {EXTRACT} beside dtks generate's files"
    # Inside generated folders: a file added (a provider's Parquet among generate's), one rewritten since (its
    # size differs), a manifest without its file list (an older generate). A removed file is not foreign.
    added = generated(tmp_path / "added")
    (added / "registry" / "pandas.parquet").write_bytes(b"PAR1 pandas PAR1")
    (added / "truth" / "defects" / "part-00000.parquet").write_bytes(b"PAR1PAR1")
    (added / "survey_households" / "_SUCCESS").unlink()
    assert foreign(str(added)) == ("registry/pandas.parquet, truth/defects/part-00000.parquet, which dtks generate "
                                   "did not write")
    (added / "registry" / "pandas.parquet").unlink()
    (added / "truth" / "defects" / "part-00000.parquet").write_bytes(b"PAR1")
    assert foreign(str(added)) is None
    old = generated(tmp_path / "old")
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "files"}))
    assert foreign(str(old)) == "a manifest.json of an older dtks generate, without its list of files"
    many = delivered(tmp_path / "many")
    for name in ("survey_households", "survey_members", "training_households"):
        (many / name).mkdir()
    assert foreign(str(many)) == ("no manifest.json of dtks generate, and registry, survey_households, "
                                  "survey_members and 1 more")


def with_manifest_of(other: str):
    def make(folder: Path) -> Path:
        return generated(folder, other)
    return make


def beside_generated(folder: Path) -> Path:
    generated(folder)
    (folder / EXTRACT).write_text("nik\n3273015708900001\n")
    return folder


def added_to_generated(folder: Path) -> Path:
    generated(folder)
    (folder / "registry" / EXTRACT).write_text("nik\n3273015708900001\n")
    return folder


DELIVERIES = {  # how a delivery is made -> what `foreign` says of it
    "csv": (delivered, "no manifest.json of dtks generate, and registry"),
    "parquet": (lambda folder: delivered(folder, "parquet"), "no manifest.json of dtks generate, and registry"),
    "foreign_manifest": (with_manifest_of("dukcapil export 4.1"), "a manifest.json that dtks generate did not write"),
    "beside_generated": (beside_generated, f"{EXTRACT} beside dtks generate's files"),
    "inside_generated": (added_to_generated, f"registry/{EXTRACT}, which dtks generate did not write"),
}


@pytest.mark.parametrize(("make", "found"), DELIVERIES.values(), ids=DELIVERIES.keys())
def test_generate_refuses_a_delivery_and_touches_nothing(tmp_path, monkeypatch, make, found):
    """`generate --out`, `generate --update-of --out` and `--merged` over a delivery (CSV or Parquet with no
    manifest, another tool's manifest, a generated nation with a provider's file beside or inside it): one line
    naming the folder and what is foreign, nothing written (the refusal comes before any drawing); a generated
    base is never an output. No Spark session: the refusal comes before generate starts one."""
    monkeypatch.chdir(tmp_path)
    spark = None
    config = make_config(tmp_path)
    delivery = make(tmp_path / "delivery")
    base = generated(tmp_path / "nation")
    before = {"delivery": fingerprint(delivery), "nation": fingerprint(base)}
    line = (f"--out {delivery} holds {found}: generate replaces only a folder that is absent, empty or written by "
            "dtks generate; nothing was touched")
    with pytest.raises(UserError) as refused:
        run(spark, config, "generate", households=200, out=str(delivery))
    assert str(refused.value) == line
    with pytest.raises(UserError) as refused:
        run(spark, config, "generate", update_of=str(base), out=str(delivery))
    assert str(refused.value) == line
    with pytest.raises(UserError) as refused:
        run(spark, config, "generate", update_of=str(base), out=str(tmp_path / "update"), merged=str(delivery))
    assert str(refused.value) == line.replace("--out", "--merged", 1)
    with pytest.raises(UserError, match=rf"^--merged {tmp_path / 'update'} is --out too: the delivery and the merged"):
        run(spark, config, "generate", update_of=str(base), out=str(tmp_path / "update"),
            merged=str(tmp_path / "update"))
    with pytest.raises(UserError, match=rf"^--merged {base} is the nation --update-of reads: it is never written"):
        run(spark, config, "generate", update_of=str(base), out=str(tmp_path / "update"), merged=str(base))
    assert {"delivery": fingerprint(delivery), "nation": fingerprint(base)} == before
    # Nothing else written: no update folder, no temp sibling; the lakehouse holds only the lock generate took.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["delivery", "lake", "nation"]
    assert [p.name for p in (tmp_path / "lake").iterdir()] == ["_dtks.lock"]


def stages_of_run(config, chosen: list[str] | None) -> tuple[list[str], str]:
    """The stages `dtks run` would run on this config (with --stages `chosen`), and what it printed."""
    with console_lines() as out:
        stages = cli.run_stages(StageContext(config=config, run_id="guard"), chosen)
    return stages, out.getvalue()


def test_a_plain_run_skips_generate_over_a_delivery_and_stages_generate_stops(tmp_path):
    """Over a delivery a plain `dtks run` starts at ingest and says why in one line; `--stages generate,...`
    stops with one line; over an empty or generated landing zone (the demo) generate runs; the cluster
    environment never generates by default."""
    everything = ["generate", "ingest", "train", "score", "publish", "report"]
    config = make_config(tmp_path)
    assert stages_of_run(config, None) == (everything, "")  # no landing zone yet: the demo generates it
    generated(tmp_path / "landing")
    assert stages_of_run(config, None) == (everything, "")  # its own nation: generated again
    for kind, (make, found) in DELIVERIES.items():
        delivery = make(tmp_path / kind)
        before = fingerprint(delivery)
        config = make_config(tmp_path, landing={"root": str(delivery)})
        assert stages_of_run(config, None) == (everything[1:], (
            f"landing zone {delivery} holds a delivery ({found}): generate skipped, the pipeline runs on it\n"))
        assert stages_of_run(config, ["ingest", "score"]) == (["ingest", "score"], "")
        with pytest.raises(UserError) as refused:
            stages_of_run(config, ["generate", "ingest"])
        assert str(refused.value) == (f"the landing zone {delivery} holds {found}: generate replaces only a folder "
                                      "that is absent, empty or written by dtks generate; nothing was touched")
        assert fingerprint(delivery) == before
    cluster = load_config("cluster", {"lakehouse_root": str(tmp_path / "lake"),
                                      "landing": {"root": str(tmp_path / "empty")}})
    assert stages_of_run(cluster, None) == (everything[1:], "")
    cluster = load_config("cluster", {"lakehouse_root": str(tmp_path / "lake"), "landing": {"root": str(delivery)}})
    assert stages_of_run(cluster, None) == (everything[1:], "")
    assert fingerprint(delivery) == before


def project(tmp_path: Path) -> Path:
    """A project folder as `make demo`, `make test` and a trial leave it, with the Makefile and what
    `make clean` runs copied from this checkout."""
    root = tmp_path / "project"
    for part in ("Makefile", "scripts/clean.py", "jobs/__init__.py", "jobs/core/__init__.py",
                 "jobs/core/deliveries.py", "runtime/__init__.py", "runtime/errors.py", "runtime/locations.py"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        (root / part).write_bytes((Path(__file__).parents[1] / part).read_bytes())
    for built in (".venv/bin", ".cache/jars", "jobs/jvm/target", "dist", ".pytest-tmp/fast", "lakehouse/silver_survey",
                  "mlruns/artifacts", "reports/r1", "trials/3201/lakehouse"):
        (root / built).mkdir(parents=True)
        (root / built / "x").write_bytes(b"x")
    generated(root / "trials" / "3201" / "landing")
    return root


def make_clean(root: Path) -> str:
    """`make clean` itself (a subprocess: the Makefile's line is what a user runs); what it printed."""
    done = subprocess.run(["make", "-s", "clean"], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def test_make_clean_removes_the_demo_and_keeps_a_delivery(tmp_path):
    """Beside the demo's own landing zone, `make clean` removes it and what was built from it; beside a
    delivery it keeps the delivery, the lakehouse, MLflow store and reports (one line says so), byte-identical;
    a trial goes only with a generated landing zone and nothing but dtks's outputs; build outputs always go."""
    build = [".venv", ".cache", "jobs/jvm/target", "dist", ".pytest-tmp"]
    demo = project(tmp_path / "demo")
    generated(demo / "landing")
    assert make_clean(demo) == ""
    assert not any((demo / p).exists() for p in [*build, "landing", "lakehouse", "mlruns", "reports", "trials"])

    kept = project(tmp_path / "delivery")
    delivered(kept / "landing")
    delivered(kept / "trials" / "31" / "landing")
    before = {name: fingerprint(kept / name) for name in ("landing", "lakehouse", "mlruns", "reports", "trials/31")}
    assert make_clean(kept).splitlines() == [
        "make clean: kept landing, lakehouse, mlruns, reports: landing holds a delivery (no manifest.json of dtks "
        "generate, and registry)",
        "make clean: kept trials/31: landing holds a delivery (no manifest.json of dtks generate, and registry)",
    ]
    assert {name: fingerprint(kept / name) for name in before} == before
    assert not any((kept / p).exists() for p in [*build, "trials/3201"])

    # The register was built from a landing zone outside the project: no landing/, or an empty one, beside it.
    # A trial folder holding a file of someone's, a stray file in trials/ and a standalone cluster's state stay.
    for landing in (None, "empty"):
        elsewhere = project(tmp_path / f"elsewhere_{landing}")
        if landing:
            (elsewhere / "landing").mkdir()
        (elsewhere / "trials" / "3201" / "notes.txt").write_text("analysis")
        (elsewhere / "trials" / "README").write_text("trials")
        (elsewhere / ".mlflow-server").mkdir()
        kept = "landing, lakehouse" if landing else "lakehouse"
        assert make_clean(elsewhere).splitlines() == [
            f"make clean: kept {kept}, mlruns, reports: no nation generated by the demo in landing/ beside them "
            "(built from a landing zone elsewhere)",
            "make clean: kept trials/3201: it holds notes.txt, which the demo did not write",
            "make clean: kept trials/README: not a trial folder"]
        assert (elsewhere / "lakehouse" / "silver_survey" / "x").exists() and (elsewhere / ".mlflow-server").is_dir()
        assert (elsewhere / "trials" / "3201" / "lakehouse" / "x").exists()


def test_folders_written_side_by_side_count_their_rows_and_a_failed_one_leaves_nothing(spark, tmp_path):
    """write_landing writes the folders a few at a time (jobs/generate/delivery.py `_write_all`): each folder's
    rows counted from its own write, the stage's job group on every write's jobs; one folder's failure is
    raised once the others stop, and the landing zone is left as it was (here: absent), no temp sibling."""
    from jobs.generate.delivery import write_landing

    frames = {name: spark.range(n).selectExpr("id AS k", "id * 2 AS v") for name, n in
              (("a", 3), ("b", 5), ("c/d", 7), ("e", 1))}
    keys = dict.fromkeys(frames, ["k"])
    sc = spark.sparkContext
    sc.setJobGroup("delivery-test", "write_landing")
    try:
        manifest = write_landing(spark, frames, keys, 1, str(tmp_path / "ok"), "parquet", "r1",
                                 lambda counts, observed: {"generator": "dtks generate", "row_counts": counts})
        jobs = sc.statusTracker().getJobIdsForGroup("delivery-test")
    finally:
        sc._jsc.clearJobGroup()  # the session is shared by the worker's tests
    assert manifest["row_counts"] == {"a": 3, "b": 5, "c/d": 7, "e": 1}
    assert [r.k for r in spark.read.parquet(str(tmp_path / "ok" / "c/d")).collect()] == list(range(7))
    assert len(jobs) >= len(frames)  # every folder's write in the caller's group, from any lane

    broken = frames | {"b": spark.range(5).selectExpr("id AS k", "raise_error('broken on purpose') AS v")}
    with pytest.raises(Exception, match="broken on purpose"):
        write_landing(spark, broken, keys, 1, str(tmp_path / "failed"), "parquet", "r2",
                      lambda counts, observed: {"row_counts": counts})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok"]
