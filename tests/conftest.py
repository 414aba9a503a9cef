"""Shared fixtures: one Spark session with Delta for the whole run, temp lakehouse and MLflow."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("DTKS_NIK_KEY", "test-key-0123456789abcdef0123456789abcdef")
# The key `dtks rotate-key` moves to: in the environment before the JVMs start, which read it themselves.
os.environ.setdefault("DTKS_NIK_KEY_NEW", "test-new-key-fedcba9876543210fedcba9876543210")


MODULE_ORDER = ("test_pipeline", "test_cluster", "test_update", "test_rotate_key", "test_console", "test_notebooks",
                "test_key_scan", "test_linkage_notebook", "test_linkage_versions", "test_models", "test_generate",
                "test_fuzz_ingest", "test_hostile_landing", "test_ingest", "test_validation", "test_reasons",
                "test_impact", "test_curbstoning")


NATION_FIXTURES = {"nation_landing", "nation", "own_nation"}


def pytest_collection_modifyitems(items):
    """Hands the modules out in MODULE_ORDER, for speed only: no test depends on another having run before
    it (the shared nation is read-only; a test that writes works on a copy of its own).

    `make test` runs two xdist workers with --dist loadfile --no-loadscope-reorder: a module is a unit of
    work, handed out in this order, and a worker takes its next module when two or fewer of its tests are
    left. One worker starts with the nation's pipeline module (it builds the shared nation); the other with
    the cluster test (it needs only the nation's landing files until its last comparison) and then the update
    rounds; the other end-to-end modules follow, then the fast tier's heaviest modules, so that the workers
    finish together (docs/TESTING.md)."""

    def rank(item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)  # stable: file order within a module
    # The fast tier (`make test-fast`) builds no nation: a test that reads one is end-to-end, and says so.
    unmarked = [item.nodeid for item in items if NATION_FIXTURES & set(getattr(item, "fixturenames", ()))
                and item.get_closest_marker("e2e") is None]
    if unmarked:
        raise pytest.UsageError(f"{', '.join(unmarked)} use the shared nation but are not marked e2e "
                                "(docs/TESTING.md, tiers)")


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from runtime.config import load_config
    from runtime.spark import get_spark

    root = tmp_path_factory.mktemp("spark")
    config = load_config("test", {"lakehouse_root": str(root / "lake")})
    extra = os.environ.get("DTKS_TEST_JAVA_OPTIONS")  # `make test-fast`: the JIT's first tier only (docs/TESTING.md)
    if extra:
        java = f"{config.spark.extra['spark.driver.extraJavaOptions']} {extra}"
        config = load_config("test", {"lakehouse_root": str(root / "lake"),
                                      "spark": {"extra": {"spark.driver.extraJavaOptions": java}}})
    session = get_spark(config)
    yield session
    session.stop()


@pytest.fixture(scope="session", autouse=True)
def _mlflow_store_template(tmp_path_factory):
    """A new SQLite MLflow store in this process starts as a copy of one empty store that MLflow made once per
    worker. MLflow builds a new store by running its schema migrations (1-2 s), and most tests that ingest,
    train or register on a lakehouse of their own would otherwise each pay that for a store they use for
    seconds. The copy is what MLflow makes, its Default experiment under the working folder of the moment, as
    MLflow would put it; a `dtks` process of a test builds its own store as an operator's would."""
    import sqlite3

    import mlflow
    from mlflow import MlflowClient

    template = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    with contextlib.chdir(template.parent):  # the tables and the Default experiment, MLflow's tracking URI unset
        MlflowClient(tracking_uri=f"sqlite:///{template}").search_experiments()
    original = mlflow.set_tracking_uri

    def set_tracking_uri(uri) -> None:
        if isinstance(uri, str) and uri.startswith("sqlite:///"):
            db = Path(uri.removeprefix("sqlite:///"))
            if db.is_absolute() and db.parent.is_dir() and not db.exists():
                _copy_sqlite(template, db)
                copy = sqlite3.connect(db)
                with copy:
                    copy.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                                 (str(Path.cwd() / "mlruns" / "0"),))
                copy.close()
        original(uri)

    mlflow.set_tracking_uri = set_tracking_uri
    # Where MLflow points before a test points it anywhere (and where a test puts it back): a store in this
    # session's temp folder. MLflow's own default is a store in the working folder, the project's, where a test
    # that restores it would otherwise leave a mlflow.db.
    default = f"sqlite:///{template.parent / 'default' / 'mlflow.db'}"
    (template.parent / "default").mkdir()
    mlflow.set_tracking_uri(default)
    mlflow.set_registry_uri(default)
    yield
    mlflow.set_tracking_uri = original


def make_config(tmp_path: Path, **extra):
    """Test config with a lakehouse, landing zone, run folders and SQLite MLflow store under tmp_path (+ extra
    keys): a stage run in the test's process writes nothing where pytest was started (the checkout)."""
    from runtime.config import load_config

    return load_config(
        "test",
        {
            "lakehouse_root": str(tmp_path / "lake"),
            "reports_dir": str(tmp_path / "reports"),
            "landing": {"root": str(tmp_path / "landing")},
            "mlflow": {
                "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
                "artifact_root": str(tmp_path / "mlartifacts"),
            },
        }
        | extra,
    )


@pytest.fixture
def config(tmp_path: Path, monkeypatch):
    """A config of the test's own: nothing is shared between tests."""
    monkeypatch.chdir(tmp_path)
    return make_config(tmp_path)


HOUSEHOLDS = 1500
AS_OF = "2026-06-30"
QUEUE_AS_OF = "2025-10-15"  # the nation's publish: the day after the appeals' two weeks of filing


def run(spark, config, name, run_id: str | None = None, **values):
    """Run one stage in this process on the shared session; returns (StageResult, run id)."""
    from jobs.stages import STAGES
    from runtime.config import with_overrides
    from runtime.runs import new_run_id
    from runtime.stage import StageContext, execute, stage_arguments

    args = stage_arguments(STAGES[name], **values)  # a config flag's value is an override, as from the CLI
    ctx = StageContext(config=with_overrides(config, args.overrides), run_id=run_id or new_run_id(), _spark=spark)
    return execute(ctx, STAGES[name], args, echo=False), ctx.run_id


@contextlib.contextmanager
def _exclusive(path: Path):
    """An inter-process lock (flock): the xdist workers of one session build shared data once."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared_dir(tmp_path_factory, worker_id: str) -> Path:
    """This pytest session's folder that all its xdist workers see (their basetemps' parent)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def _once(shared: Path, name: str, build):
    """Build `name` once per session, whichever worker asks first; the others wait and load it."""
    done = shared / f"{name}.pickle"
    with _exclusive(shared / f"{name}.lock"):
        if done.exists():
            return pickle.loads(done.read_bytes())
        value = build(shared / name)
        done.write_bytes(pickle.dumps(value))
        return value


def _nation_config(root: Path):
    config = make_config(root)
    # A larger training share than the default 4 %, so a small nation still trains a model.
    # And more appeals than the default, so the verification queue has a few dozen.
    generate = config.generate
    return config.model_copy(update={"generate": generate.model_copy(update={
        "training_rate": 0.3, "appeal_share": 0.04,
        "defects": generate.defects.model_copy(update={"appeal_invalid": 0.35})})})


@pytest.fixture(scope="session")
def nation_landing(spark, tmp_path_factory, worker_id):
    """The small nation's landing files (generated once per session): the cluster test needs only these
    to start its own run."""

    def build(root: Path) -> Path:
        landing = root / "landing"
        run(spark, _nation_config(root), "generate", households=HOUSEHOLDS, seed=7, out=str(landing))
        return landing

    return _once(_shared_dir(tmp_path_factory, worker_id), "nation", build)


@pytest.fixture(scope="session")
def nation(spark, nation_landing, tmp_path_factory, worker_id):
    """The small nation through ingest, train, score and publish (local mode), built once per session and
    shared by the xdist workers: read-only. Tests only read it; a test that runs a stage, publishes, trains,
    promotes or deletes a model works on `own_nation` (or `nation_copy`). `_shared_nation_unchanged` checks
    after every test that uses it, and this fixture once more at the end of the session, that its Delta
    tables, MLflow store and landing files are as built."""
    import logging

    def build(_) -> tuple:
        root = nation_landing.parent
        # Everything the pipeline logs while building the nation goes to a file too, so the personal-data
        # scan can read it.
        handler = logging.FileHandler(root / "pipeline.log")
        handler.setLevel(logging.DEBUG)
        logging.getLogger().addHandler(handler)
        logging.getLogger().setLevel(logging.INFO)
        try:
            config = _nation_config(root)
            results = {}
            for stage in ("ingest", "train", "score", "publish"):
                day = QUEUE_AS_OF if stage == "publish" else AS_OF
                results[stage], _ = run(spark, config, stage, landing=str(nation_landing),
                                        as_of=pd.Timestamp(day).date())
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
        manifest = json.loads((nation_landing / "manifest.json").read_text())
        # The pristine copy `nation_copy` starts from, and the state the guard compares with.
        pristine = root / "pristine"
        shutil.copytree(config.path(config.lakehouse), pristine / "lake")
        _copy_sqlite(_mlflow_db(config), pristine / "mlflow.db")
        shutil.copytree(config.path(config.mlflow.artifact_root), pristine / "mlartifacts")
        (root / "nation_state.json").write_text(json.dumps(nation_state(config, nation_landing), indent=1))
        return config, nation_landing, results, manifest

    built = _once(_shared_dir(tmp_path_factory, worker_id), "nation_run", build)
    from runtime.tracking import setup_mlflow

    setup_mlflow(built[0])  # the pipeline tests talk to its MLflow store, whichever worker built it
    yield built
    if changed := nation_changes(built):
        pytest.fail(f"the shared nation is no longer as built: {'; '.join(changed)} (a test that writes must "
                    "use own_nation)", pytrace=False)


def _mlflow_db(config) -> Path:
    return Path(config.mlflow.tracking_uri.removeprefix("sqlite:///"))


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (the backup API), opened read-only."""
    import sqlite3

    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _digest(items) -> str:
    import hashlib

    return hashlib.sha256(repr(list(items)).encode()).hexdigest()


def _delta_version(table: Path) -> int:
    """A Delta table's latest version, from its log's file names (no Spark: cheap enough after every test)."""
    import re

    return max(int(p.name[:20]) for p in (table / "_delta_log").iterdir() if re.fullmatch(r"\d{20}\.json", p.name))


def nation_state(config, landing: Path) -> dict[str, object]:
    """What a test must not change: every Delta table's version, every MLflow table's rows, the MLflow
    artifacts and the landing files (names and sizes)."""
    import sqlite3

    lake = config.path(config.lakehouse)
    state: dict[str, object] = {f"Delta table {p.name}": _delta_version(p)
                                for p in sorted(lake.iterdir()) if (p / "_delta_log").is_dir()}
    db = sqlite3.connect(f"{_mlflow_db(config).as_uri()}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for name in names:
            rows = db.execute(f'SELECT * FROM "{name}"').fetchall()
            state[f"MLflow table {name}"] = _digest(sorted(rows, key=repr))
    finally:
        db.close()
    for what, folder in (("MLflow artifacts", config.path(config.mlflow.artifact_root)), ("landing files", landing)):
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        state[what] = _digest((str(p.relative_to(folder)), p.stat().st_size) for p in files)
    return state


def nation_changes(nation, since: dict | None = None) -> list[str]:
    """How the shared nation differs from `since` (by default, the state it was built in): empty if not."""
    config, landing = nation[0], nation[1]
    was = since if since is not None else json.loads((landing.parent / "nation_state.json").read_text())
    now = nation_state(config, landing)
    changes = []
    for key in sorted(was.keys() | now.keys()):
        before, after = was.get(key), now.get(key)
        if before != after:
            if key.startswith("Delta table"):
                changes.append(f"{key} at version {after}, was at version {before}")
            else:
                changes.append(f"{key} {'created' if before is None else 'removed' if after is None else 'changed'}")
    return changes


@pytest.fixture(autouse=True)
def _shared_nation_unchanged(request):
    """Each test that uses the shared nation leaves it as it found it: a test that writes to it fails, named
    (with xdist, a test of the other worker may have written while it ran: the session's final check in
    `nation` then fails in that worker too)."""
    if "nation" not in request.fixturenames:
        yield
        return
    nation = request.getfixturevalue("nation")
    before = nation_state(nation[0], nation[1])
    yield
    if changed := nation_changes(nation, since=before):
        pytest.fail(f"this test changed the shared nation: {'; '.join(changed)} (a test that writes must use "
                    "own_nation)", pytrace=False)


def nation_copy(nation, folder: Path):
    """A config on a private copy of the nation as built: its lakehouse (`folder/lake`) and its MLflow store
    (`folder/mlflow.db`, `folder/mlartifacts`), laid out as the nation's root is. The copy's database names the
    copy's artifacts: every path into the nation's root stored in it (artifact locations, model sources,
    logged parameters) is moved to `folder`."""
    import sqlite3

    config, landing = nation[0], nation[1]
    root = landing.parent
    shutil.copytree(root / "pristine", folder)
    old, new = f"{root}/", f"{folder}/"
    db = sqlite3.connect(folder / "mlflow.db")
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]:
                db.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                           f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0', (old, new, old))
        db.commit()
    finally:
        db.close()
    mlflow = config.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}",
                                              "artifact_root": str(folder / "mlartifacts")})
    return config.model_copy(update={"lakehouse_root": str(folder / "lake"), "mlflow": mlflow})


@pytest.fixture
def own_nation(nation, tmp_path):
    """The nation as `nation` gives it (config, landing, results, manifest), with a config on a private copy
    of its lakehouse and MLflow store (`nation_copy`): for tests that run stages, publish, train or change
    the model registry. MLflow points at the copy during the test and back where it was afterwards."""
    import mlflow

    from runtime.tracking import setup_mlflow

    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    config = nation_copy(nation, tmp_path / "nation")
    setup_mlflow(config)
    yield (config, *nation[1:])
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)


def assert_same_rows(actual, expected, what: str = "") -> None:
    """The same rows in any order (as many times each), under the same column names and types; nullability
    and column metadata aside. A failure prints both sides, row by row, the differing cells marked (chispa),
    and `what` was compared."""
    from chispa import assert_df_equality

    try:
        assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
    except Exception as error:
        if what:
            error.add_note(f"comparing {what}")
        raise


# A `dtks` process of a test runs its stages once, in a JVM of its own: there the JIT's first tier alone costs
# about a quarter less CPU than its optimising tier (docs/TESTING.md, settings), while the sessions of the
# suite's workers, which run stages again and again, keep the optimising tier.
CHILD_JIT = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m"


def dtks_cli(config, *args: str) -> list[str]:
    """The `dtks` command line for a stage on this config's lakehouse and MLflow store (test overlay)."""
    import sys

    java = f"{config.spark.extra['spark.driver.extraJavaOptions']} {CHILD_JIT}"
    return [sys.executable, "-m", "jobs.cli", *args, "--env", "test", "--set", f"lakehouse_root={config.lakehouse}",
            "--set", f"mlflow.tracking_uri={config.mlflow.tracking_uri}",
            "--set", f"mlflow.artifact_root={config.mlflow.artifact_root}",
            "--set", "spark.extra=" + json.dumps({"spark.driver.extraJavaOptions": java})]


@contextlib.contextmanager
def console_lines():
    """What dtks says (runtime.console.say) during the block, in the StringIO it yields."""
    import io

    from runtime import console

    out, before = io.StringIO(), console._current
    console._current = console.Console(out, live=False)
    try:
        yield out
    finally:
        console._current = before


def dtks_command(spark, config, *argv: str) -> tuple[int, str, str]:
    """A read-only `dtks` command (status, diff, explain, export) in this process, on the shared session and
    this config: (exit code, its lines, the error line). The command's function is the one `dtks` runs; what
    the subprocess adds (the entry point, parsing, one line and exit code 2 per error) is proven by
    test_console's command-line tests."""
    from jobs import cli
    from runtime.errors import UserError
    from runtime.runs import new_run_id
    from runtime.stage import StageContext

    args = cli.build_parser().parse_args(list(argv))
    ctx = StageContext(config=config, run_id=new_run_id(), _spark=spark)
    with console_lines() as out:
        try:
            cli.COMMANDS[args.command](ctx, args)
        except UserError as error:
            return 2, out.getvalue(), f"dtks: error: {error}"
    return 0, out.getvalue(), ""


def paused(config, folder: Path, failpoint: str, *args: str):
    """A dtks process of its own, stopped at `failpoint` and waiting there (runtime/faults.py)."""
    import subprocess
    import sys
    import time

    folder.mkdir()
    env = os.environ | {"DTKS_FAILPOINT": failpoint, "DTKS_FAILPOINT_DIR": str(folder),
                        "PYSPARK_PYTHON": sys.executable}
    with open(folder / "output.log", "w") as log:  # a file, not a pipe: a full pipe would block the process
        proc = subprocess.Popen(dtks_cli(config, *args), env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while not (folder / "reached").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"never reached the failpoint: {(folder / 'output.log').read_text()[-3000:]}")
        time.sleep(0.2)
    return proc


# On a few hundred rows adaptive re-planning, many shuffle partitions and code generation cost more time
# than they save: the fuzz and hostile-file modules run under these settings, restored afterwards.
SMALL_DATA = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@contextlib.contextmanager
def small_data_settings(spark):
    before = {k: spark.conf.get(k, None) for k in SMALL_DATA}
    for k, v in SMALL_DATA.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)
