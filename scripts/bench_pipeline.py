"""Pipeline benchmark, the measuring half: the five stages as one application and as five processes, a
DuckDB baseline, an update round. scripts/bench_report.py turns the saved figures into docs/BENCHMARKS.md.

For each size (households): generate a nation (timed apart: it is test data, not pipeline), then, each on a
fresh lakehouse and MLflow store:
- one application (`--mode app`): `python -m jobs.cli run --stages ingest,train,score,publish,report`;
- five processes (`--mode stages`): each stage as `python -m jobs.cli <stage>`;
- the DuckDB baseline (scripts/bench_duckdb.py) on the same landing files, checked equal to our
  dtks_households;
- (five-process mode only) an update round: 1 % of the households re-delivered with later interviews and
  changed answers, ingest + score + publish timed against the full run;
- optionally (`--scoring`) scripts/bench_scoring.py with the first size's champion model.

Where each figure comes from:
- per stage (seconds, rows in/out, Spark jobs, CPU s of the Python driver and its local JVM): the stage's
  own row in the run's `pipeline_runs` Delta table, read with the `deltalake` package;
- per process: wall time; CPU s of the whole process tree (our waited-for children's CPU time; we are a
  child subreaper, so a JVM that outlives its Python driver is re-parented to us, waited for and counted);
  peak RSS of the tree's sum and of the driver JVM and the Python driver (psutil, sampled every 0.25 s);
  the share of the machine's CPU used by other processes meanwhile and the hypervisor's steal
  (psutil.cpu_times); the 1-minute load average before and after;
- Spark's job timings, task CPU, GC, spill and slowest SQL: the Spark event log;
- table sizes, data files and files per partition: each table's Delta log (`deltalake`).

Results go to <work>/<households>/results.json (and <work>/scoring.json); results of the same nation are
kept where a run does not redo them (e.g. a 2g one-application run beside them). Then, unless `--doc ''`,
bench_report.py writes the doc from every size asked for.

    pip install -e '.[bench]'        # duckdb, psutil (deltalake is a requirement of dtks itself)
    python scripts/bench_pipeline.py --households 100000,1000000 --work /tmp/dtks_bench
    python scripts/bench_pipeline.py --households 1000000 --work /tmp/dtks_bench --mode app --driver-memory 2g \\
        --no-duckdb   # adds a 2g one-application run beside the results already in the work folder
    python scripts/bench_pipeline.py --report-only --households 100000,1000000 --work /tmp/dtks_bench
    python scripts/bench_report.py --work /tmp/dtks_bench --out /tmp/BENCHMARKS.md   # the same, elsewhere

`--report-only` measures nothing: it is bench_report.py on the saved results (it no longer re-reads the
event logs). Goals are measured here (GOALS, judged by bench_report.py), never asserted in timed tests.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "train", "score", "publish", "report")
UPDATE_STAGES = ("ingest", "score", "publish")
CORES = os.cpu_count() or 1
MB = 1024 * 1024
GOALS = {  # issue 16's bars (and goals) at 1M households unless said otherwise
    "app_seconds_1m": 180.0,
    "app_goal_seconds_1m": 80.0,
    "stages_seconds_1m": 240.0,
    "persons_per_s_per_core": 25_000,
    "driver_bytes": 2 * 1024**3,
    "driver_growth": 1.25,  # driver peak over the measured range of sizes
    "ratio_per_3x": 3.3,
    "native_vs_udf": 10.0,
    "native_vs_noop": 1.5,
    "update_share": 0.15,
    "duckdb_ratio": {100_000: 15.0, 1_000_000: 4.0},
    "ingest_spark_jobs": 15,
    "files_per_partition": 2,
}

# ------------------------------------------------------------------ measuring a process tree


def _set_subreaper() -> None:
    """Orphaned descendants (the JVM outliving its Python driver, which does not wait for it) are
    re-parented to us, so they are waited for and their CPU time lands in our children's CPU time."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


class TreeMonitor(threading.Thread):
    """Samples the RSS of every process below this one: the peak of their sum, and each process's own
    peak, by kind: java (the driver JVM), driver (the Python driver), other (Python workers, shells)."""

    def __init__(self, driver_pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.driver_pid, self.interval = driver_pid, interval
        self.peak_tree = 0
        self.peaks: dict[int, tuple[str, int]] = {}
        self._halt = threading.Event()

    def sample(self) -> None:
        procs: dict[int, tuple[str, int, int]] = {}
        for p in psutil.Process().children(recursive=True):
            try:
                with p.oneshot():
                    procs[p.pid] = (p.name(), p.ppid(), p.memory_info().rss)
            except psutil.Error:
                continue
        total = 0
        for pid, (name, parent, rss) in procs.items():
            if name == "java" and procs.get(parent, ("",))[0] == "java":
                continue  # the JVM starting a command (vfork): shares the JVM's memory, would count it twice
            total += rss
            kind = "java" if name == "java" else "driver" if pid == self.driver_pid else "other"
            self.peaks[pid] = (kind, max(rss, self.peaks.get(pid, ("", 0))[1]))
        self.peak_tree = max(self.peak_tree, total)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak(self, kind: str) -> int:
        return max((v for k, v in self.peaks.values() if k == kind), default=0)


def _reap_orphans(timeout: float = 120.0) -> int:
    """Wait for re-parented descendants (see _set_subreaper); how many there were."""
    reaped, deadline = 0, time.time() + timeout
    while time.time() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.2)
        else:
            reaped += 1
    return reaped


def _busy(t) -> float:
    """CPU seconds the VM's own processes ran (all cores): user, nice, system, irq, softirq."""
    return t.user + t.nice + t.system + t.irq + t.softirq


def run_process(name: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> dict[str, Any]:
    """Run one command, measured (output to `log`); returns the process figures."""
    me = psutil.Process()
    load_before = psutil.getloadavg()
    machine0, own0 = psutil.cpu_times(), me.cpu_times()
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        monitor = TreeMonitor(proc.pid)
        monitor.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        monitor.stop()
    orphans = _reap_orphans()
    machine1, own1 = psutil.cpu_times(), me.cpu_times()
    cpu = (own1.children_user - own0.children_user) + (own1.children_system - own0.children_system)
    mine = (own1.user - own0.user) + (own1.system - own0.system)  # this script's sampling
    others = _busy(machine1) - _busy(machine0) - cpu - mine
    capacity = wall * CORES
    return {
        "name": name,
        "argv": argv,
        "rc": rc,
        "wall_s": wall,
        "cpu_s": cpu,
        "others_cpu_share": max(0.0, others) / capacity if capacity else 0.0,
        "steal_share": (machine1.steal - machine0.steal) / capacity if capacity else 0.0,
        "load_before": load_before,
        "load_after": psutil.getloadavg(),
        "peak_tree_rss": monitor.peak_tree,
        "jvm_peak_rss": monitor.peak("java"),
        "driver_py_peak_rss": monitor.peak("driver"),
        "orphans_reaped": orphans,
        "log": str(log),
    }


# ------------------------------------------------------------------ Delta tables (pipeline_runs, layout)


def pipeline_runs(lakehouse: Path) -> list[dict]:
    """The rows of `pipeline_runs`, oldest first, with the stage's own Spark job count and CPU seconds
    taken out of `details`."""
    from deltalake import DeltaTable

    table = lakehouse / "pipeline_runs"
    if not (table / "_delta_log").is_dir():
        return []
    rows = DeltaTable(str(table)).to_pyarrow_table().to_pylist()
    for r in rows:
        details = dict(r.get("details") or [])
        r["spark_jobs"] = int(details["spark_jobs"]) if "spark_jobs" in details else None
        r["cpu_seconds"] = float(details["cpu_seconds"]) if "cpu_seconds" in details else None
        r["steps"] = json.loads(details["steps"]) if "steps" in details else []
    return sorted(rows, key=lambda r: r["finished_at"])


def stage_record(row: dict) -> dict[str, Any]:
    """A stage's figures as it recorded them in pipeline_runs."""
    return {"status": row["status"], "stage_s": row["seconds"], "rows_in": row["rows_in"],
            "rows_out": row["rows_out"], "spark_jobs": row["spark_jobs"], "stage_cpu_s": row["cpu_seconds"],
            "run_id": row["run_id"], "steps": row.get("steps", [])}


def file_layout(table: Path) -> dict[str, Any]:
    """From the Delta log: live bytes and data files, files per partition (max, median); and the bytes
    on disk (every version)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    delta = DeltaTable(str(table))
    columns = list(delta.metadata().partition_columns)
    adds = pa.table(delta.get_add_actions(flatten=True))
    keys = zip(*(adds.column(f"partition.{c}").to_pylist() for c in columns), strict=True) if columns \
        else [()] * adds.num_rows
    counts = sorted(Counter(keys).values())
    return {
        "live_bytes": sum(adds.column("size_bytes").to_pylist()),
        "disk_bytes": sum(p.stat().st_size for p in table.rglob("*") if p.is_file()),
        "files": adds.num_rows,
        "partitions": len(counts),
        "files_per_partition_max": max(counts, default=0),
        "files_per_partition_median": statistics.median(counts) if counts else 0,
        "partition_columns": columns,
    }


def tables_layout(lakehouse: Path) -> dict[str, dict]:
    return {p.name: file_layout(p) for p in sorted(lakehouse.iterdir()) if (p / "_delta_log").is_dir()}


# ------------------------------------------------------------------ Spark's own timings (event log)

TABLE_IN_PATH = re.compile(r"file:(/[^\s,\]\)]+)")


def spark_timing(folder: Path) -> dict[str, Any]:
    """From a Spark event log: time inside Spark jobs, task metrics, MERGE rewrites, slowest SQL executions."""
    # Spark 4 writes rolling logs (eventlog_v2_<app>/events_<n>_<app>); older Spark one file per app.
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus"))]
    if not files:
        return {}
    index = lambda p: int(p.name.split("_")[1]) if p.name.startswith("events_") else 0  # noqa: E731
    jobs: dict[int, list[int]] = {}
    sqls: dict[int, dict[str, Any]] = {}
    run_ms = cpu_ns = gc_ms = spill = tasks = 0
    rewrites: dict[tuple, int] = {}
    for line in (line for p in sorted(files, key=index) for line in p.open(errors="replace")):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        ev = e.get("Event", "")
        if ev == "SparkListenerJobStart":
            jobs[e["Job ID"]] = [e["Submission Time"], e["Submission Time"]]
        elif ev == "SparkListenerJobEnd" and e["Job ID"] in jobs:
            jobs[e["Job ID"]][1] = e["Completion Time"]
        elif ev == "SparkListenerTaskEnd":
            m = e.get("Task Metrics") or {}
            tasks += 1
            run_ms += m.get("Executor Run Time", 0)
            cpu_ns += m.get("Executor CPU Time", 0)
            gc_ms += m.get("JVM GC Time", 0)
            spill += m.get("Disk Bytes Spilled", 0)
        elif ev.endswith("SparkListenerSQLExecutionStart"):
            paths = TABLE_IN_PATH.findall(e.get("physicalPlanDescription", ""))
            sqls[e["executionId"]] = {"start": e["time"], "end": e["time"], "what": e.get("description", ""),
                                      "reads": sorted({Path(p.rstrip("/")).name for p in paths})[:4]}
            m = re.search(r"MERGE operation - Rewriting (\d+) files", e.get("description", ""))
            if m:  # one MERGE logs it more than once
                rewrites[(e.get("rootExecutionId"), m.group(0))] = int(m.group(1))
        elif ev.endswith("SparkListenerSQLExecutionEnd") and e["executionId"] in sqls:
            sqls[e["executionId"]]["end"] = e["time"]
    busy, last_end = 0, 0
    for start, end in sorted(jobs.values()):
        start = max(start, last_end)
        if end > start:
            busy += end - start
            last_end = end
    top = sorted(sqls.values(), key=lambda s: s["end"] - s["start"], reverse=True)[:3]
    return {
        "in_jobs_s": busy / 1000,
        "jobs": len(jobs),
        "tasks": tasks,
        "task_run_s": run_ms / 1000,
        "task_cpu_s": cpu_ns / 1e9,
        "gc_s": gc_ms / 1000,
        "spill_bytes": spill,
        "merge_rewrites": list(rewrites.values()),
        "slowest_sql": [{"seconds": (s["end"] - s["start"]) / 1000, "what": s["what"][:90], "reads": s["reads"]}
                        for s in top],
    }


# ------------------------------------------------------------------ one size


# A round is measured on a lakehouse that has its linkage version: the first is registered from the shipped file
# (conf/linkage_model.json), as docs/DEPLOYMENT.md tells a trial to. Training a lakehouse's first version from its
# own round is a one-time cost, measured by scripts/bench_linkage.py, not part of a round's.
FIRST_LINKAGE = ("--set", "linkage.initial_model=linkage_model.json")


def stage_argv(stage: str, d: Path, landing: Path, as_of: str, event_dir: Path | None,
               driver_memory: str | None = None) -> list[str]:
    """`python -m jobs.cli <stage>` on the lakehouse and MLflow store in `d`; stage "run" is the one application."""
    argv = [sys.executable, "-m", "jobs.cli", stage, "--env", "local",
            "--set", f"lakehouse_root={d / 'lakehouse'}",
            "--set", f"landing.root={landing}",
            "--set", f"mlflow.tracking_uri=sqlite:///{d / 'mlflow.db'}",
            "--set", f"mlflow.artifact_root={d / 'mlartifacts'}", *FIRST_LINKAGE]
    if driver_memory:
        argv += ["--set", f"spark.driver_memory={driver_memory}"]
    if event_dir is not None:
        event_dir.mkdir(parents=True, exist_ok=True)
        extra = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": event_dir.as_uri(),
                 "spark.eventLog.compress": "false", "spark.local.dir": str(d / "spark-local")}
        argv += ["--set", "spark.extra=" + json.dumps(extra)]
    if stage == "run":  # report writes to reports/ under the working directory, `d`
        argv += ["--stages", ",".join(STAGES), "--as-of", as_of]
    if stage == "ingest":
        argv += ["--landing", str(landing), "--as-of", as_of]
    if stage == "report":
        argv += ["--reports-dir", str(d / "reports")]
    return argv


def replace_section(path: Path, begin: str, end: str, block: str) -> None:
    """Put `block` (which starts with `begin` and ends with `end`) in place of the doc's section between those
    markers, or at its end when it has none yet."""
    text = path.read_text() if path.exists() else ""
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def env_for_stages() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DTKS_NIK_KEY", "benchmark-only-key-not-a-secret-0123456789")
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    # the code of this checkout, whatever the venv's install of it (processes run in the work folder)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _num(n: float | None, spec: str = ",") -> str:
    return "-" if n is None else format(n, spec)


def _failed(result: dict) -> str:
    return "" if result["rc"] == 0 else f"  FAILED rc={result['rc']} (see {result['log']})"


def run_stage(stage: str, d: Path, landing: Path, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    event_dir = d / "events" / f"{tag}_{stage}" if args.event_log else None
    if event_dir is not None and event_dir.exists():
        shutil.rmtree(event_dir)
    argv = stage_argv(stage, d, landing, args.as_of, event_dir, args.driver_memory)
    seen = {r["run_id"] for r in pipeline_runs(d / "lakehouse")}
    result = run_process(stage, argv, env_for_stages(), d, d / "logs" / f"{tag}_{stage}.log")
    mine = [r for r in pipeline_runs(d / "lakehouse") if r["run_id"] not in seen and r["stage"] == stage]
    if mine:
        result.update(stage_record(mine[-1]))
    if event_dir is not None:
        result["spark"] = spark_timing(event_dir)
    print(f"  {tag:<7} {stage:<9} {result['wall_s']:7.1f} s wall, stage {result.get('stage_s') or 0:7.1f} s, "
          f"{_num(result.get('spark_jobs'))} Spark jobs, CPU {result['cpu_s']:.1f} s, "
          f"peak RSS {result['peak_tree_rss'] / MB:6.0f} MB, others' CPU {result['others_cpu_share']:.0%}"
          + _failed(result), flush=True)
    return result


def app_label(driver_memory: str | None) -> str:
    return f"app_{driver_memory}" if driver_memory else "app"


def run_app(args: argparse.Namespace, d: Path, landing: Path) -> dict[str, Any]:
    """The five stages as one application (`dtks run`), in its own folder under `d` (fresh lakehouse and
    MLflow store); per stage what pipeline_runs recorded."""
    root = d / app_label(args.driver_memory)
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)
    event_dir = root / "events" / "app" if args.event_log else None
    argv = stage_argv("run", root, landing, args.as_of, event_dir, args.driver_memory)
    result = run_process("run", argv, env_for_stages(), root, root / "logs" / "run.log")
    result["driver_memory"] = args.driver_memory
    result["root"] = str(root)
    result["stages"] = [{"name": r["stage"], **stage_record(r)} for r in pipeline_runs(root / "lakehouse")]
    if event_dir is not None:
        result["spark"] = spark_timing(event_dir)
    if result["rc"] == 0:
        result["layout"] = tables_layout(root / "lakehouse")
    stages = ", ".join(f"{s['name']} {s['stage_s']:.1f} s" for s in result["stages"])
    print(f"  {root.name:<7} {result['wall_s']:7.1f} s wall ({stages}), CPU {result['cpu_s']:.1f} s, "
          f"peak RSS {result['peak_tree_rss'] / MB:.0f} MB, others' CPU {result['others_cpu_share']:.0%}"
          + _failed(result), flush=True)
    return result


def generate(d: Path, households: int, seed: int) -> dict[str, Any]:
    """Reuse a nation of the same size and seed (its earlier timing kept in generate.json), else make one."""
    landing = d / "landing"
    manifest = landing / "manifest.json"
    record = d / "generate.json"
    if manifest.exists():
        params = json.loads(manifest.read_text())["parameters"]
        if params["households"] == households and params["seed"] == seed:
            timing = json.loads(record.read_text()) if record.exists() else {}
            return {"reused": True, **timing}
        shutil.rmtree(landing)
    argv = stage_argv("generate", d, landing, "", None) + ["--households", str(households), "--seed", str(seed),
                                                          "--out", str(landing)]
    result = run_process("generate", argv, env_for_stages(), d, d / "generate.log")
    if result["rc"] != 0:
        raise SystemExit(f"generate failed: see {d / 'generate.log'}")
    record.write_text(json.dumps(result, indent=2))
    return {"reused": False, **result}


def make_update_landing(landing: Path, out: Path, share: float, seed: int) -> dict[str, Any]:
    """A re-delivery for `share` of the survey households: a month later, with a refrigerator and a car
    (so their scores change), and their rosters; the registry and training sample re-delivered as they are
    (hard links: same files)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    for source in ("registry", "training_households", "training_members"):
        (out / source).mkdir(parents=True)
        for f in (landing / source).iterdir():
            os.link(f, out / source / f.name)
    hh = ds.dataset(landing / "survey_households", format="parquet").to_table()
    rng = np.random.default_rng(seed)
    k = max(1, round(share * len(hh)))
    chosen = hh.take(pa.array(np.sort(rng.choice(len(hh), size=k, replace=False))))
    month = pa.scalar(30 * 86400 * 10**9, pa.duration("ns"))
    cols = {}
    for name in chosen.column_names:
        col = chosen.column(name)
        if name in ("interview_start", "interview_end"):
            col = pc.add(col, month)
        elif name in ("refrigerator", "car"):
            col = pa.array(np.ones(len(chosen), dtype=np.int32))
        cols[name] = col
    changed = pa.table(cols, schema=hh.schema)
    (out / "survey_households").mkdir(parents=True)
    # Spark wrote INT96 timestamps; write the same so the re-delivery reads with the same types.
    pq.write_table(changed, out / "survey_households" / "part-00000.parquet", use_deprecated_int96_timestamps=True)
    members = ds.dataset(landing / "survey_members", format="parquet")
    wanted = pc.unique(chosen.column("household_id"))
    roster = members.to_table(filter=pc.field("household_id").isin(wanted))
    (out / "survey_members").mkdir(parents=True)
    pq.write_table(roster, out / "survey_members" / "part-00000.parquet", use_deprecated_int96_timestamps=True)
    return {"households": changed.num_rows, "members": roster.num_rows, "of_households": hh.num_rows,
            "seconds": time.perf_counter() - t0}


def run_round(kind: str, stages, d: Path, landing: Path, args, out: dict) -> bool:
    """Run `stages` one process each, recording results under out[kind]; False at the first failure."""
    for stage in stages:
        result = run_stage(stage, d, landing, args, kind)
        out[kind].append(result)
        save(d, out)
        if result["rc"] != 0:
            out["failed"] = f"{kind} {stage}"
            return False
    out[f"layout_{kind}"] = tables_layout(d / "lakehouse")
    return True


STAGES_KEYS = ("full", "update", "update_batch", "layout_full", "layout_update", "stages_driver_memory",
               "resumed_after", "failed", "duckdb")


def machine() -> dict[str, Any]:
    return {"cores": CORES, "memory_bytes": psutil.virtual_memory().total, "python": platform.python_version()}


def bench_size(args: argparse.Namespace, households: int) -> dict[str, Any]:
    d = Path(args.work).resolve() / str(households)
    d.mkdir(parents=True, exist_ok=True)
    print(f"== {households:,} households in {d}", flush=True)
    gen = generate(d, households, args.seed)
    landing = d / "landing"
    manifest = json.loads((landing / "manifest.json").read_text())
    previous = d / "results.json"
    # Results of the same nation are kept where this run does not redo them (e.g. a 2g app run beside them).
    prev = json.loads(previous.read_text()) if previous.exists() and gen["reused"] else {}
    stages_mode, label = args.mode in ("stages", "both"), app_label(args.driver_memory)
    out: dict[str, Any] = {"households": households, "seed": args.seed, "as_of": args.as_of, "cores": CORES,
                           "machine": machine(), "row_counts": manifest["row_counts"],
                           "persons": manifest["row_counts"]["registry"], "generate": gen, "full": [],
                           "update": [], "apps": dict(prev.get("apps", {}))}
    if args.mode != "stages" and not (args.resume and out["apps"].get(label, {}).get("rc") == 0):
        out["apps"].pop(label, None)
        out["apps"][label] = run_app(args, d, landing)
        save(d, out)
    if not stages_mode:
        out.update({k: prev[k] for k in STAGES_KEYS if k in prev})
    else:
        resumed = prev if args.resume else None
        done_stages = [x for x in (resumed or {}).get("full", []) if x["rc"] == 0]
        stale = ("lakehouse", "mlflow.db", "mlartifacts", "reports", "events", "logs", "update_landing",
                 "duckdb_ranked.parquet")
        for old in stale if not (args.keep_lakehouse or resumed) else ("update_landing",):
            path = d / old
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        out["stages_driver_memory"] = args.driver_memory
        if resumed:  # development or a broken-off run: keep the stages that finished, run the rest
            out["full"] = done_stages
            out["resumed_after"] = [x["name"] for x in done_stages]
            out.update({k: resumed[k] for k in ("duckdb",) if k in resumed})
        (d / "logs").mkdir(exist_ok=True)
        stages = [s for s in STAGES if s in args.stages and s not in out.get("resumed_after", [])]
        if not run_round("full", stages, d, landing, args, out):
            return save(d, out)
        save(d, out)
    app_ok = out["apps"].get(label, {}).get("rc") == 0 and args.mode != "stages"
    try:  # the baseline reads the champion model and dtks_households of the run just made
        if args.duckdb and (stages_mode or app_ok):
            baseline_run(args, d, d if stages_mode else d / label, landing, out)
    except Exception as exc:  # a broken baseline must not lose the pipeline's figures
        out["duckdb_error"] = repr(exc)
        print(f"  duckdb baseline failed: {exc!r}", flush=True)
    save(d, out)
    if not (args.update and stages_mode):
        return save(d, out)
    out["update_batch"] = make_update_landing(landing, d / "update_landing", args.update_share, args.seed)
    run_round("update", UPDATE_STAGES, d, d / "update_landing", args, out)
    return save(d, out)


def baseline_run(args: argparse.Namespace, d: Path, root: Path, landing: Path, out: dict[str, Any]) -> None:
    json_out = d / "duckdb.json"
    json_out.unlink(missing_ok=True)
    (d / "logs").mkdir(exist_ok=True)
    argv = [sys.executable, str(ROOT / "scripts" / "bench_duckdb.py"), "--landing", str(landing),
            "--lakehouse", str(root / "lakehouse"), "--tracking-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--as-of", args.as_of, "--threads", str(CORES), "--out", str(d / "duckdb_ranked.parquet"),
            "--json", str(json_out)]
    result = run_process("duckdb", argv, env_for_stages(), d, d / "logs" / "duckdb.log")
    result["baseline"] = json.loads(json_out.read_text()) if json_out.exists() else None
    out["duckdb"] = result
    base = result["baseline"] or {}
    print(f"  duckdb  baseline  {result['wall_s']:7.1f} s wall, SQL {base.get('work_seconds', 0):7.1f} s, "
          f"mismatches {base.get('comparison', {}).get('mismatches')}" + _failed(result), flush=True)


def save(d: Path, out: dict[str, Any]) -> dict[str, Any]:
    (d / "results.json").write_text(json.dumps(out, indent=2, default=str))
    return out


def run_scoring(args: argparse.Namespace, households: int) -> dict[str, Any]:
    d = Path(args.work).resolve() / str(households)
    json_out = d / "bench_scoring.json"
    json_out.unlink(missing_ok=True)
    argv = [sys.executable, str(ROOT / "scripts" / "bench_scoring.py"), "--households", str(args.scoring_rows),
            "--model-uri", "models:/dtks_pmt@champion", "--tracking-uri", f"sqlite:///{d / 'mlflow.db'}",
            "--udf-households", str(args.udf_households), "--json", str(json_out)]
    result = run_process("bench_scoring", argv, env_for_stages(), d, d / "logs" / "bench_scoring.log")
    result.update(json.loads(json_out.read_text()) if json_out.exists() else {})
    (Path(args.work).resolve() / "scoring.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"  scoring {result['wall_s']:7.1f} s wall" + _failed(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", default="100000,300000,1000000", help="comma-separated sizes")
    parser.add_argument("--work", default="/tmp/dtks_bench", help="work folder (one sub-folder per size)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", default=dt.datetime.now(dt.UTC).date().isoformat(),
                        help="ingest --as-of (also given to the baseline)")
    parser.add_argument("--update-share", type=float, default=0.01, help="share of households re-delivered")
    parser.add_argument("--no-duckdb", dest="duckdb", action="store_false", help="skip the DuckDB baseline")
    parser.add_argument("--no-event-log", dest="event_log", action="store_false", help="no Spark event logs")
    parser.add_argument("--scoring", action="store_true", help="also run scripts/bench_scoring.py (first size)")
    parser.add_argument("--udf-households", type=int, default=100_000)
    parser.add_argument("--scoring-rows", type=int, default=1_000_000, help="rows for bench_scoring.py")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "BENCHMARKS.md"),
                        help="where bench_report.py writes the doc; '' to write none")
    parser.add_argument("--report-only", action="store_true", help="measure nothing: the doc from saved results")
    parser.add_argument("--stages", default=",".join(STAGES), help="development: full-run stages to run")
    parser.add_argument("--keep-lakehouse", action="store_true", help="development: keep the previous lakehouse")
    parser.add_argument("--resume", action="store_true",
                        help="continue a broken-off size: keep its lakehouse and finished stages (results.json)")
    parser.add_argument("--no-update", dest="update", action="store_false", help="skip the update round")
    parser.add_argument("--mode", choices=("app", "stages", "both"), default="both",
                        help="the five stages as one application (dtks run), as five processes, or both")
    parser.add_argument("--driver-memory", help="e.g. 2g: --set spark.driver_memory=... for every stage process "
                        "and the application (default: conf)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.households.split(",") if s.strip()]
    args.stages = [s.strip() for s in args.stages.split(",")]
    work = Path(args.work).resolve()
    if not args.report_only:
        _set_subreaper()
        if args.duckdb:
            try:
                import duckdb  # noqa: F401
            except ImportError:
                raise SystemExit("duckdb is not installed: pip install -e '.[bench]' (or pass --no-duckdb)") from None
        scoring = None
        for n in sizes:
            try:
                result = bench_size(args, n)
                if args.scoring and scoring is None and "failed" not in result:
                    # right after the first size, with its champion model: the largest sizes may not finish
                    scoring = run_scoring(args, n)
            except Exception as exc:  # keep what was measured (results.json); the other sizes still run
                print(f"  {n:,} households: benchmark broke off: {exc!r}", flush=True)
                d = work / str(n)
                if (d / "results.json").exists():
                    save(d, {**json.loads((d / "results.json").read_text()), "failed": repr(exc)})
    if args.doc:  # the writing half, as its own process: measuring never imports it
        subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "bench_report.py"), "--work", str(work),
                        "--households", ",".join(map(str, sizes)), "--out", args.doc], check=True)


if __name__ == "__main__":
    main()
