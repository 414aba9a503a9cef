"""The fixed cost of a small round, counted per stage: Spark jobs (by kind), Delta commits by operation, files
written, and seconds (issue 42; docs/BENCHMARKS.md, Notes: fixed cost).

Runs `dtks run --households N` (generate included, one process) in a fresh work folder with Spark's event log
on, then reads the event log (jobs and their job group, i.e. the stage; their description, i.e. the step) and
every table's Delta log (commits between the stage's start and end in pipeline_runs). Nothing is timed in a
test: run it alone on the machine, before and after a change, close in time.

    .venv/bin/python scripts/bench_fixed.py --households 1500 --work /tmp/dtks_fixed [--repo DIR]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(repo: Path, work: Path, households: int) -> float:
    events = work / "events"
    events.mkdir(parents=True)
    (work / "conf").symlink_to(repo / "conf")
    extra = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": f"file://{events}",
             "spark.eventLog.compress": "false"}
    command = [sys.executable, "-m", "jobs.cli", "run", "--households", str(households),
               "--set", f"spark.extra={json.dumps(extra)}"]
    started = time.perf_counter()
    with open(work / "out.txt", "w") as out:
        subprocess.run(command, cwd=work, env=os.environ | {"PYTHONPATH": str(repo)}, stdout=out,
                       stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - started


def _jobs(events: Path) -> dict[str, collections.Counter]:
    """Spark jobs per stage, by kind: Delta's snapshot and file-filtering jobs, and the rest (reads, writes,
    counts)."""
    per_stage: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for log in events.glob("*/events_*"):
        for line in log.open():
            event = json.loads(line)
            if event["Event"] != "SparkListenerJobStart":
                continue
            properties = event.get("Properties", {})
            stage = properties.get("spark.jobGroup.id", ":-").split(":")[-1]
            text = properties.get("spark.job.description") or ""
            kind = ("snapshot" if "Compute snapshot" in text else "files" if "Filtering files" in text
                    else "query")
            per_stage[stage][kind] += 1
            step = re.search(rf"dtks {stage}: ([a-z_]+)", text)
            per_stage[stage][f"step {step.group(1) if step else '-'}"] += 1
    return per_stage


def _stage_times(lakehouse: Path) -> list[tuple[str, float, float, float]]:
    """(stage, started, finished, seconds) of the run, in order, from pipeline_runs."""
    import pyarrow as pa
    from deltalake import DeltaTable, QueryBuilder

    table = DeltaTable(str(lakehouse / "pipeline_runs"))
    rows = pa.table(QueryBuilder().register("t", table).execute(
        "SELECT stage, started_at, finished_at, seconds FROM t ORDER BY started_at").read_all()).to_pylist()
    return [(r["stage"], _epoch(r["started_at"]), _epoch(r["finished_at"]), r["seconds"]) for r in rows]


def _epoch(value: dt.datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def _commits(lakehouse: Path) -> list[tuple[float, str, str, int]]:
    """(time, table, operation, files added) of every commit of every table under the lakehouse."""
    found = []
    for log in lakehouse.glob("*/_delta_log/*.json"):
        added, info = 0, None
        for line in log.open():
            action = json.loads(line)
            added += "add" in action
            info = action.get("commitInfo", info)
        if info is not None:
            found.append((info["timestamp"] / 1000, log.parent.parent.name, info["operation"], added))
    return found


def count(work: Path) -> list[dict]:
    jobs = _jobs(work / "events")
    commits = _commits(work / "lakehouse")
    out = []
    stages = _stage_times(work / "lakehouse")
    for i, (stage, started, _, seconds) in enumerate(stages):
        # each stage's commits, its own pipeline_runs row included, come before the next stage starts
        until = stages[i + 1][1] if i + 1 < len(stages) else float("inf")
        mine = [c for c in commits if started <= c[0] < until]
        ops = collections.Counter(op for _, _, op, _ in mine)
        out.append({
            "stage": stage, "seconds": seconds, "jobs": sum(v for k, v in jobs[stage].items() if " " not in k),
            "snapshot_jobs": jobs[stage]["snapshot"], "file_jobs": jobs[stage]["files"],
            "commits": len(mine), "merges": ops["MERGE"], "files_written": sum(a for *_, a in mine),
            "operations": dict(sorted(ops.items())),
            "steps": {k[5:]: v for k, v in sorted(jobs[stage].items()) if k.startswith("step ")},
        })
    return out


def table(rows: list[dict]) -> str:
    lines = ["| stage | s | Spark jobs | of which Delta snapshot / file-filter | Delta commits | MERGEs "
             "| files written | jobs per step |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        steps = ", ".join(f"{k} {v}" for k, v in r["steps"].items())
        lines.append(f"| {r['stage']} | {r['seconds']:.1f} | {r['jobs']} | {r['snapshot_jobs']} / {r['file_jobs']} "
                     f"| {r['commits']} | {r['merges']} | {r['files_written']} | {steps} |")
    total = {k: sum(r[k] for r in rows) for k in ("seconds", "jobs", "snapshot_jobs", "file_jobs", "commits",
                                                   "merges", "files_written")}
    lines.append(f"| all | {total['seconds']:.1f} | {total['jobs']} | {total['snapshot_jobs']} / {total['file_jobs']} "
                 f"| {total['commits']} | {total['merges']} | {total['files_written']} | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=1500)
    parser.add_argument("--work", type=Path, required=True, help="emptied, then the run's working folder")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the dtks checkout to run (default: this one)")
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    wall = _run(args.repo.resolve(), args.work, args.households)
    rows = count(args.work)
    (args.work / "fixed.json").write_text(json.dumps({"wall": wall, "stages": rows}, indent=2))
    print(f"{args.households:,} households, {wall:.1f} s from the command's start (repo {args.repo})")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
