"""The runtime works for real: Spark with Delta, time travel, MLflow registry with aliases."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from runtime import runs, tables
from runtime import spark as spark_runtime
from runtime.config import load_config
from runtime.tracking import setup_mlflow


def test_session_is_configured(spark):
    conf = spark.sparkContext.getConf()
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.extensions") == spark_runtime.DELTA_EXTENSION
    assert conf.get("spark.master") == "local[2]"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.codegen.wholeStage") == "false"
    assert conf.get("spark.ui.enabled") == "false"
    # Local mode: the set-up's JARs on the JVM's own class path, where the class archive covers them
    assert conf.get("spark.driver.extraClassPath").split(os.pathsep) == spark_runtime.delta_jars()
    assert conf.get("spark.jars", None) is None
    archive = spark_runtime.jars_dir() / spark_runtime.CLASS_ARCHIVE
    arguments = list(spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
                     .getInputArguments())
    assert (f"-XX:SharedArchiveFile={archive}" in arguments) == archive.is_file()
    assert spark.sparkContext.pythonExec == sys.executable


def test_spark_submit_settings_are_not_overridden(monkeypatch):
    cfg = load_config("test", {"spark": {"extra": {"spark.executor.memory": "1g", "spark.sql.x": "y"}}})
    submitted = spark_runtime.build_conf(cfg, submitted=True, cores=8)
    assert not {"spark.master", "spark.driver.memory", "spark.jars", "spark.executor.memory"} & submitted.keys()
    assert submitted["spark.sql.x"] == "y"
    local = spark_runtime.build_conf(load_config("local"), submitted=False, cores=8)
    assert local["spark.master"] == "local[*]" and local["spark.sql.shuffle.partitions"] == "16"
    # large generated methods (a compiled model) must be JIT-compiled on driver and executors alike,
    # except in the test config, which generates no code
    cluster = spark_runtime.build_conf(load_config("cluster"), submitted=True, cores=8)
    for conf in (cluster, local):
        for role in ("driver", "executor"):
            assert "-XX:-DontCompileHugeMethods" in conf[f"spark.{role}.extraJavaOptions"].split()
    assert "DontCompileHugeMethods" not in submitted["spark.driver.extraJavaOptions"]
    # the local file system is dtks's only where dtks starts the JVM (its JAR on the class path)
    assert local["spark.hadoop.fs.file.impl"] == spark_runtime.LOCAL_FS
    assert local["spark.hadoop.fs.AbstractFileSystem.file.impl"] == spark_runtime.LOCAL_FILE_CONTEXT
    for key in ("spark.hadoop.fs.file.impl", "spark.hadoop.fs.AbstractFileSystem.file.impl"):
        assert key not in submitted and key not in cluster


def test_the_class_archive_is_used_where_it_exists_and_never_breaks_a_start(monkeypatch, tmp_path):
    """Local sessions map classes from the set-up's archive (scripts/class_archive.py), after the config's own
    JVM options; spark-submit's JVMs and a session without an archive get none. With those options a JVM loads
    an archived class from the archive, and one whose archive no longer matches its class path (a JAR changed)
    starts as without it, printing nothing. Shown on a one-class JAR with the JDK's own tools: five small JVMs of
    their own (about 2 s), since what a JVM does with the options is the JVM's to say."""
    import shutil
    import subprocess

    jars = tmp_path / "jars"
    jars.mkdir()
    for name in (".complete", spark_runtime.TOKEN_JAR):
        (jars / name).write_text("")
    monkeypatch.setenv("DTKS_JARS_DIR", str(jars))
    config = load_config("test")
    without = spark_runtime.build_conf(config, submitted=False)
    assert "SharedArchiveFile" not in without["spark.driver.extraJavaOptions"]
    assert without["spark.driver.extraClassPath"] == str(jars / spark_runtime.TOKEN_JAR)
    archive = jars / spark_runtime.CLASS_ARCHIVE
    archive.write_bytes(b"")
    local = spark_runtime.build_conf(config, submitted=False)["spark.driver.extraJavaOptions"]
    assert local.startswith(config.spark.extra["spark.driver.extraJavaOptions"] + " ")  # test.yaml's options kept
    assert f"-XX:SharedArchiveFile={archive}" in local.split()
    assert "SharedArchiveFile" not in spark_runtime.build_conf(config, submitted=True).get(
        "spark.driver.extraJavaOptions", "")
    assert "SharedArchiveFile" not in spark_runtime.build_conf(config, False, class_archive=False)[
        "spark.driver.extraJavaOptions"]

    home = Path(os.environ["JAVA_HOME"]) / "bin" if "JAVA_HOME" in os.environ else None
    java, javac, jar = (shutil.which(tool, path=str(home) if home else None) for tool in ("java", "javac", "jar"))

    def jvm(*args: str) -> str:
        done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    (tmp_path / "Hello.java").write_text('public class Hello { public static void main(String[] a) { '
                                         'System.out.println("hello"); } }\n')
    jvm(javac, "-d", tmp_path, tmp_path / "Hello.java")
    jvm(jar, "cf", "hello.jar", "Hello.class")
    archive.unlink()
    jvm(java, f"-XX:ArchiveClassesAtExit={archive}", "-cp", "hello.jar", "Hello")
    options = spark_runtime.class_archive_options(archive).split()
    loaded = jvm(java, *options, "-Xlog:class+load", "-cp", "hello.jar", "Hello")
    assert "Hello source: shared objects file" in loaded, loaded
    stamp = (tmp_path / "hello.jar").stat().st_mtime
    os.utime(tmp_path / "hello.jar", (stamp + 60, stamp + 60))  # the JAR changed since the archive was made
    assert "Unable to use shared archive" in jvm(java, f"-XX:SharedArchiveFile={archive}", "-cp", "hello.jar",
                                                 "Hello")  # what the JVM would print without the options
    assert jvm(java, *options, "-cp", "hello.jar", "Hello") == "hello\n"


def test_local_lakehouse_files_get_their_permissions_without_chmod(spark, tmp_path):
    """Each file written gets Hadoop's mode (0644 under its default umask 022; directories 0755), set by
    dtks's local file system through java.nio, not by a `chmod` process per file."""
    jvm, hadoop = spark.sparkContext._jvm, spark.sparkContext._jsc.hadoopConfiguration()
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), hadoop)
    assert fs.getClass().getName() == spark_runtime.LOCAL_FS
    path = tmp_path / "t"
    spark.createDataFrame([("32", 1)], "p string, v int").write.format("delta").partitionBy("p").save(str(path))
    files = [f for f in path.rglob("*") if f.is_file()]
    assert any(f.suffix == ".parquet" for f in files)
    assert {f.stat().st_mode & 0o777 for f in files} == {0o644}
    assert {d.stat().st_mode & 0o777 for d in path.rglob("*") if d.is_dir()} == {0o755}
    # a mode java.nio cannot set (the sticky bit) is still set, by Hadoop's own way
    sticky = jvm.org.apache.hadoop.fs.permission.FsPermission(jvm.java.lang.Short.parseShort("1750", 8))
    fs.setPermission(jvm.org.apache.hadoop.fs.Path(str(path / "p=32")), sticky)
    assert (path / "p=32").stat().st_mode & 0o7777 == 0o1750


def test_delta_log_commits_go_through_dtks_file_context(spark, tmp_path):
    """Delta commits its log through Hadoop's FileContext (create, then rename), which is dtks's on a local
    lakehouse: a path's status is Hadoop's own (which takes a link on a file: path for the file it points to), found
    through java.nio rather than a `readlink` process per path, and the commit files get their mode without
    `chmod`."""
    jvm, hadoop = spark.sparkContext._jvm, spark.sparkContext._jsc.hadoopConfiguration()
    context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(jvm.java.net.URI("file:///"), hadoop)
    assert context.getDefaultFileSystem().getClass().getName() == spark_runtime.LOCAL_FILE_CONTEXT
    path = tmp_path / "t"
    spark.createDataFrame([(1,)], "v int").write.format("delta").save(str(path))
    spark.createDataFrame([(2,)], "v int").write.format("delta").mode("append").save(str(path))
    assert sorted(r.v for r in spark.read.format("delta").load(str(path)).collect()) == [1, 2]
    commits = sorted((path / "_delta_log").glob("*.json"))
    assert [c.name for c in commits] == ["00000000000000000000.json", "00000000000000000001.json"]
    assert {c.stat().st_mode & 0o777 for c in commits} == {0o644}
    link = tmp_path / "link.json"
    link.symlink_to(commits[0])
    hadoops = jvm.org.apache.hadoop.fs.RawLocalFileSystem()
    hadoops.initialize(jvm.java.net.URI("file:///"), hadoop)
    for file in (commits[0], link, tmp_path / "missing.json"):
        target = jvm.org.apache.hadoop.fs.Path(f"file://{file}")
        if not file.exists():
            for status in (context.getFileLinkStatus, hadoops.getFileLinkStatus):
                with pytest.raises(Exception, match="FileNotFoundException"):
                    status(target)
            continue
        ours, theirs = context.getFileLinkStatus(target), hadoops.getFileLinkStatus(target)
        assert (ours.isSymlink(), ours.isFile(), ours.getLen()) == (
            theirs.isSymlink(), theirs.isFile(), theirs.getLen()) == (False, True, commits[0].stat().st_size)


def test_missing_delta_jars_say_what_to_run(monkeypatch, tmp_path):
    monkeypatch.setenv("DTKS_JARS_DIR", str(tmp_path))
    with pytest.raises(spark_runtime.SparkSetupError, match="make setup"):
        spark_runtime.delta_jars()


def test_an_empty_jars_dir_setting_is_read_as_unset(monkeypatch):
    """DTKS_JARS_DIR set but empty is read as unset, as the set-up scripts read it (`${DTKS_JARS_DIR:-...}`)."""
    monkeypatch.setenv("DTKS_JARS_DIR", "")
    assert spark_runtime.jars_dir() == spark_runtime.PROJECT_ROOT / ".cache" / "jars"


def test_delta_partitioned_write_read_and_time_travel(spark, config):
    v0 = spark.createDataFrame(
        [("h1", "32", "3273", 1.5), ("h2", "32", "3201", 2.5), ("h3", "94", "9471", 3.5)],
        "household_id string, province_code string, regency_code string, score double",
    )
    tables.overwrite(v0, config, "t", partition_by=["province_code", "regency_code"])
    v1 = v0.where("household_id != 'h2'")
    tables.overwrite(v1, config, "t", partition_by=["province_code", "regency_code"])

    assert tables.version(spark, config, "t") == 1
    assert_df_equality(tables.read(spark, config, "t"), v1, ignore_row_order=True, ignore_column_order=True)
    assert_df_equality(tables.read(spark, config, "t", version=0), v0, ignore_row_order=True, ignore_column_order=True)
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{config.table_path('t')}`").first()
    assert detail.partitionColumns == ["province_code", "regency_code"]
    parts = sorted(p.name for p in (config.path(config.table_path("t")) / "province_code=32").iterdir())
    assert parts == ["regency_code=3201", "regency_code=3273"]
    # A reader holding the publication's row reads at its versions without reading publications (none exists
    # here); without it, the latest version, as before the first publish.
    pinned = tables.read_published(spark, config, "t", {"t": 0})
    assert_df_equality(pinned, v0, ignore_row_order=True, ignore_column_order=True)
    assert tables.read_published(spark, config, "t").count() == 2


def test_a_change_set_merges_the_rows_a_table_holds_and_appends_the_new(spark, config):
    """With `new`, the held rows go through a MERGE without an insert clause (its join is inner, so a small change
    set is broadcast, not the table shuffled) and the new rows are appended: m1 changed, m2 deleted, m3 unchanged
    (its hash), m4 new in a partition the table did not have. A change set of new rows only is one append."""
    schema = "household_id string, member_no int, province_code string, regency_code string, row_hash long, v string"
    name = tables.DTKS_MEMBERS
    tables.overwrite(spark.createDataFrame([("h1", 1, "32", "3201", 1, "a"), ("h1", 2, "32", "3201", 2, "b"),
                                            ("h2", 1, "94", "9471", 3, "c")], schema), config, name)
    changes = spark.createDataFrame([
        ("h1", 1, "32", "3201", 10, "a2", False, False), ("h1", 2, "32", "3201", None, None, False, True),
        ("h2", 1, "94", "9471", 3, "c", False, False), ("h3", 1, "32", "3273", 4, "d", True, False),
    ], f"{schema}, _new boolean, _delete boolean")
    tables.merge_changes(spark, config, name, changes, delete="_delete", new="_new")

    expected = [("h1", 1, "32", "3201", 10, "a2"), ("h2", 1, "94", "9471", 3, "c"), ("h3", 1, "32", "3273", 4, "d")]
    assert_df_equality(tables.read(spark, config, name), spark.createDataFrame(expected, schema),
                       ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)
    history = {r.version: (r.operation, r.operationMetrics) for r in
               spark.sql(f"DESCRIBE HISTORY delta.`{config.table_path(name)}`").collect()}
    assert [history[v][0] for v in (1, 2)] == ["MERGE", "WRITE"]
    merged = history[1][1]
    assert (merged["numTargetRowsUpdated"], merged["numTargetRowsDeleted"], merged["numTargetRowsInserted"]) == (
        "1", "1", "0")

    tables.merge_changes(spark, config, name, changes.where("household_id = 'h3'").withColumn("member_no", F.lit(2)),
                         delete="_delete", new="_new")
    assert tables.version(spark, config, name) == 3
    assert tables.last_commit(spark, config, name).metrics["numOutputRows"] == "1"
    assert tables.read(spark, config, name).count() == 4


def test_pipeline_runs_records_a_stage(spark, config):
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    runs.record(
        spark,
        config,
        "r1",
        "ingest",
        "SUCCEEDED",
        t0,
        t0 + dt.timedelta(seconds=3),
        runs.StageResult(rows_in=10, rows_out=9, details={"a": "1"}),
    )
    row = tables.read(spark, config, tables.PIPELINE_RUNS).first()
    assert (row.run_id, row.stage, row.seconds, row.rows_in, row.rows_out, row.details) == (
        "r1",
        "ingest",
        3.0,
        10,
        9,
        {"a": "1"},
    )
    assert row.code_version and row.env == "test"


class _Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["x"] * 2.0


def test_mlflow_register_alias_and_load_by_alias(config):
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    setup_mlflow(config)
    assert mlflow.get_tracking_uri().startswith("sqlite:///")
    frame = pd.DataFrame({"x": np.arange(5, dtype=float)})
    with mlflow.start_run() as run:
        mlflow.log_metric("r2", 0.5)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=_Doubler(),
            signature=infer_signature(frame, frame["x"] * 2),
            input_example=frame.head(2),
            registered_model_name="runtime_check",
        )
    client = MlflowClient()
    client.set_registered_model_alias("runtime_check", "champion", info.registered_model_version)
    loaded = mlflow.pyfunc.load_model("models:/runtime_check@champion")
    assert loaded.predict(frame).tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert client.get_run(run.info.run_id).data.metrics["r2"] == 0.5
    assert client.get_model_version_by_alias("runtime_check", "champion").version in (1, "1")


def test_missing_key_in_cluster_mode_stops_before_spark(monkeypatch, tmp_path):
    from jobs.stages import STAGES
    from runtime.config import ConfigError
    from runtime.stage import StageContext, execute, stage_arguments

    monkeypatch.delenv("DTKS_NIK_KEY")
    config = load_config("cluster", {"lakehouse_root": str(tmp_path / "lake")})
    ctx = StageContext(config=config, run_id="r1")
    with pytest.raises(ConfigError, match="DTKS_NIK_KEY is not set"):
        execute(ctx, STAGES["ingest"], stage_arguments(STAGES["ingest"]), echo=False)
    assert ctx._spark is None  # no Spark session was started, nothing written
    assert not any(p.name != "_dtks.lock" for p in (tmp_path / "lake").iterdir())
    assert (tmp_path / "lake" / "_dtks.lock").read_text() == ""  # the lock was released


def test_lakehouse_lock_names_its_holder_and_takes_over_a_dead_one(tmp_path, caplog):
    import fcntl
    import json
    import os

    from runtime import lock

    config = load_config("test", {"lakehouse_root": str(tmp_path / "lake")})
    path = tmp_path / "lake" / "_dtks.lock"
    with lock.hold(config, "run-1", "ingest"):
        with lock.hold(config, "run-1", "score"):  # re-entrant: `dtks run` holds it across stages
            pass
        holder = json.loads(path.read_text())
        assert holder["run_id"] == "run-1" and holder["pid"] == os.getpid()
    assert path.read_text() == ""  # released: unlocked, no holder
    # Another holder (its own open file: flock locks conflict between open files, even in one process).
    other = {"run_id": "run-2", "stage": "publish", "pid": 4242, "host": "node-7", "since": "x"}
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.pwrite(fd, json.dumps(other).encode(), 0)
    with pytest.raises(lock.LakehouseBusyError, match=r"in use by run run-2 \(stage publish, pid 4242 on node-7"):
        lock.acquire(config, "run-3", "ingest")
    # It dies without releasing (its file is closed, as the kernel does for a killed process): taken over.
    os.close(fd)
    with caplog.at_level("WARNING"), lock.hold(config, "run-3", "ingest"):
        assert json.loads(path.read_text())["run_id"] == "run-3"
    assert "took over the lakehouse lock of run run-2 (pid 4242" in caplog.text


def test_run_stages_are_checked_and_put_in_pipeline_order(capsys):
    from jobs.cli import build_parser

    args = build_parser().parse_args(["run", "--stages", "publish, ingest,score", "--as-of", "2026-06-30"])
    assert args.stages == ["ingest", "score", "publish"] and str(args.as_of) == "2026-06-30"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--stages", "ingest,pubish"])
    err = capsys.readouterr().err
    assert "unknown stage(s) pubish; stages are generate, ingest, train, score, publish, report" in err


def test_staging_area_is_removed_after_use_and_after_a_killed_stage(spark, config, capsys):
    """Staged rows hold raw NIKs: a stage's own folder goes when it ends (failed or not), and a killed
    stage's leftovers when the next stage takes the lakehouse lock."""
    from jobs.cli import build_parser

    area_dir = Path(config.table_path(tables.STAGING))
    with tables.staging(spark, config, "run-a") as area:
        stored = area.put("numbers", spark.range(3).withColumn("twice", F.col("id") * 2))
        assert sorted(tuple(r) for r in stored.collect()) == [(0, 0), (1, 2), (2, 4)]
        assert list((area_dir / "run-a" / "numbers").glob("part-*.parquet"))
    assert not (area_dir / "run-a").exists()
    with pytest.raises(RuntimeError, match="stage failed"):
        with tables.staging(spark, config, "run-b") as area:
            area.put("numbers", spark.range(2))
            raise RuntimeError("stage failed")
    assert not (area_dir / "run-b").exists()

    # A run id names the folder removed: `..` would be the lakehouse, `../..` its parent (the landing zone's,
    # on the cluster). Refused before anything is removed, here and on the command line.
    (area_dir / "run-c").mkdir(parents=True)
    for walk_out in ("..", "../..", "/tmp", "a/../..", "r'1"):
        with pytest.raises(ValueError, match=r"letters, digits, '-' and '_' only"):
            with tables.staging(spark, config, walk_out):
                pass
    assert (area_dir / "run-c").is_dir() and Path(config.lakehouse).is_dir()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--run-id", ".."])
    assert "argument --run-id: run id '..': letters, digits" in capsys.readouterr().err
    assert build_parser().parse_args(["ingest", "--run-id", "2026Q3_round-2"]).run_id == "2026Q3_round-2"

    leftover = area_dir / "killed-run" / "part-0.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"raw NIKs")
    tables.remove_stale_staging(config)
    assert not area_dir.exists()


def test_every_registered_stage_is_a_stage_module():
    """The stage registry lists real stage modules in pipeline order: NAME, HELP, add_arguments and run,
    each the `stage.py` of its own step folder."""
    from jobs.stages import OPERATOR, PIPELINE_NAMES, STAGES

    assert PIPELINE_NAMES == ("generate", "ingest", "train", "score", "publish", "report")
    assert [s.NAME for s in OPERATOR] == ["maintain", "rotate_key"]
    for name, module in STAGES.items():
        assert module.NAME == name and module.HELP and callable(module.add_arguments) and callable(module.run)
        assert module.__name__ == f"jobs.{name}.stage"


def test_step_seconds_last_until_the_next_step_starts():
    from runtime.stage import step_seconds

    steps = [("reading", 10.0), ("ranking", 12.5), ("writing", 20.0)]
    assert json.loads(step_seconds(steps, 21.25)) == [["reading", 2.5], ["ranking", 7.5], ["writing", 1.25]]
    assert json.loads(step_seconds([], 5.0)) == []
