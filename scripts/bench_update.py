"""Update-round benchmark (pemutakhiran): a full round, then the next quarter's delivery, as one application each.

For each size: the nation (reused when it exists), its update delivery (`dtks generate --update-of`,
1 % of survey households re-surveyed and 1 % of registry persons changed), a full round (ingest, train,
score, publish, report) and the update round (ingest, score, publish; report separately) on the same
lakehouse. Then, from the Delta log, what each table's update commits wrote and removed, and whether
the change feed of program_eligibility equals the eligibility difference. With --compare, a full round
on the updated inputs (`--merged`) in a second lakehouse, scored with the same model, and every table
compared with the updated one. Results go to <work>/<size>/update.json and to docs/update_rounds.json (one
entry per size: a run replaces the entries of the sizes it measured and keeps the others), from which the
section of docs/BENCHMARKS.md between the markers below is written again.

    DTKS_NIK_KEY=... .venv/bin/python scripts/bench_update.py --households 300000,1000000 --compare 300000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from bench_pipeline import (  # noqa: E402
    FIRST_LINKAGE,
    ROOT,
    env_for_stages,
    generate,
    pipeline_runs,
    replace_section,
    run_process,
    stage_record,
)

from jobs.publish.stage import QUEUE_STEP, REASONS_STEP  # noqa: E402
from runtime import tables as catalog  # noqa: E402

FULL = ("ingest", "train", "score", "publish", "report")
UPDATE = ("ingest", "score", "publish")
TABLES = tuple(catalog.CATALOG)  # bytes written: every table of the catalog
# Compared with a full round on the updated inputs: the tables whose rows do not depend on the round's history.
COMPARED = ("silver_registry", "silver_survey", "silver_households", "silver_members", "household_scores",
            "dtks_households", "dtks_members", "program_eligibility")
# They carry the national rank, the cut-off or the queue's state as of a date: rewritten whole.
RANKED = ("dtks_households", "verification_queue")
RUN_COLUMNS = {"ingest_run_id", "run_id", "updated_run_id", "scored_run_id", "eligible_since", "record_key"}
BEGIN, END = "<!-- update-rounds -->", "<!-- /update-rounds -->"
# Issue 42's bars: the round, its ingest and its publish against the full round's; bytes per table.
GOAL_SHARE, GOAL_INGEST, GOAL_PUBLISH, GOAL_BYTES = 0.30, 0.15, 0.60, 0.05
# Issue 21's steps of publish, timed apart in pipeline_runs; the goal: together at most 10 % of a round.
APPEAL_STEPS = {"verification queue": QUEUE_STEP, "reasons for change": REASONS_STEP}
GOAL_APPEALS = 0.10


def app_argv(root: Path, landing: Path, stages: tuple[str, ...], as_of: str, mlflow: Path | None = None) -> list[str]:
    store = mlflow or root
    return [sys.executable, "-m", "jobs.cli", "run", "--env", "local",
            "--set", f"lakehouse_root={root / 'lakehouse'}", "--set", f"landing.root={landing}",
            "--set", f"mlflow.tracking_uri=sqlite:///{store / 'mlflow.db'}",
            "--set", f"mlflow.artifact_root={store / 'mlartifacts'}", *FIRST_LINKAGE,
            "--stages", ",".join(stages), "--as-of", as_of]


def app(name: str, argv: list[str], root: Path, since: int = 0) -> dict[str, Any]:
    (root / "logs").mkdir(parents=True, exist_ok=True)
    result = run_process(name, argv, env_for_stages(), root, root / "logs" / f"{name}.log")
    rows = pipeline_runs(root / "lakehouse")[since:]
    result["stages"] = [{"name": r["stage"], **stage_record(r)} for r in rows]
    stages = ", ".join(f"{s['name']} {s['stage_s']:.1f}" for s in result["stages"])
    print(f"  {name:<8} {result['wall_s']:7.1f} s wall ({stages}), rc={result['rc']}", flush=True)
    if result["rc"] != 0:
        raise SystemExit(f"{name} failed: see {result['log']}")
    return result


def check(lakehouse: Path, before: dict[str, int], reference: Path | None) -> dict[str, Any]:
    """In a Spark session: each table's update commits (from the Delta log), the change feed against the
    eligibility difference, and (with a reference lakehouse) the tables compared row for row."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    from runtime.config import load_config
    from runtime.spark import get_spark

    spark = get_spark(load_config("local", {"lakehouse_root": str(lakehouse)}))
    out: dict[str, Any] = {"tables": {}}
    for name in TABLES:
        path = str(lakehouse / name)
        if not DeltaTable.isDeltaTable(spark, path):
            continue
        table = DeltaTable.forPath(spark, path)
        start = before.get(name, -1)
        history = [r.asDict() for r in table.history().where(F.col("version") > start).collect()]
        files_before = spark.read.format("delta").option("versionAsOf", start).load(path).inputFiles() \
            if start >= 0 else []
        bytes_before = sum((Path(f.removeprefix("file:")).stat().st_size for f in files_before), 0)
        written = removed = copied = files_added = files_removed = 0
        for h in history:
            m = h["operationMetrics"] or {}
            written += int(m.get("numTargetBytesAdded", m.get("numOutputBytes", m.get("numAddedBytes", 0))))
            removed += int(m.get("numTargetBytesRemoved", m.get("numRemovedBytes", 0)))
            copied += int(m.get("numTargetRowsCopied", 0))
            files_added += int(m.get("numTargetFilesAdded", m.get("numFiles", m.get("numAddedFiles", 0))))
            files_removed += int(m.get("numTargetFilesRemoved", m.get("numRemovedFiles", 0)))
        out["tables"][name] = {
            "commits": [f"{h['operation']}" for h in sorted(history, key=lambda h: h["version"])],
            "bytes_before": bytes_before, "bytes_written": written, "bytes_removed": removed,
            "rows_copied": copied, "files_added": files_added, "files_removed": files_removed,
            "share_written": written / bytes_before if bytes_before else None,
        }
    name = "program_eligibility"
    path = str(lakehouse / name)
    start = before[name]
    end = DeltaTable.forPath(spark, path).history(1).first().version
    keys = ["program", "household_id"]
    old = spark.read.format("delta").option("versionAsOf", start).load(path).select(*keys, F.col("eligible").alias("a"))
    new = spark.read.format("delta").option("versionAsOf", end).load(path).select(*keys, F.col("eligible").alias("b"))
    diff = old.join(new, keys, "full").where(~F.col("a").eqNullSafe(F.col("b")))
    truth = {(r.program, r.household_id, r.a, r.b) for r in diff.collect()}  # the change set: small
    if end > start:
        feed = (spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", start + 1)
                .option("endingVersion", end).load(path))
        kind = F.col("_change_type")
        per = feed.groupBy(*keys).agg(
            F.max(F.when(kind.isin("update_preimage", "delete"), F.col("eligible"))).alias("a"),
            F.max(F.when(kind.isin("update_postimage", "insert"), F.col("eligible"))).alias("b"),
        )
        fed = {(r.program, r.household_id, r.a, r.b) for r in per.collect()}
    else:
        fed = set()
    out["change_feed"] = {"entries": sum(1 for t in truth if t[3]), "exits": sum(1 for t in truth if not t[3]),
                          "feed_rows": len(fed), "difference_rows": len(truth), "exact": fed == truth}
    if reference is not None:
        compared = {}
        for name in COMPARED:
            a = spark.read.format("delta").load(str(lakehouse / name))
            b = spark.read.format("delta").load(str(reference / name))
            cols = [c for c in a.columns if c not in RUN_COLUMNS]
            a, b = a.select(*cols), b.select(*cols)
            compared[name] = {"rows": a.count(), "reference_rows": b.count(),
                              "only_update": a.exceptAll(b).count(), "only_full": b.exceptAll(a).count()}
        out["compared"] = compared
    spark.stop()
    return out


def versions(lakehouse: Path) -> dict[str, int]:
    out = {}
    for name in TABLES:
        log = lakehouse / name / "_delta_log"
        found = [int(p.stem) for p in log.glob("*.json") if re.fullmatch(r"\d{20}", p.stem)]
        out[name] = max(found) if found else -1
    return out


def bench(args: argparse.Namespace, households: int) -> dict[str, Any]:
    d = Path(args.work).resolve() / str(households)
    d.mkdir(parents=True, exist_ok=True)
    print(f"== {households:,} households in {d}", flush=True)
    generate(d, households, args.seed)
    landing, update, merged = d / "landing", d / "update1", d / "merged1"
    compare = households in args.compare
    if not (update / "manifest.json").exists() or (compare and not (merged / "manifest.json").exists()):
        argv = [sys.executable, "-m", "jobs.cli", "generate", "--env", "local", "--update-of", str(landing),
                "--share", str(args.share), "--out", str(update)] + (["--merged", str(merged)] if compare else [])
        run_process("update", argv, env_for_stages(), d, d / "update_generate.log")
    manifest = json.loads((update / "manifest.json").read_text())
    root = d / "update_app"
    shutil.rmtree(root, ignore_errors=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    out: dict[str, Any] = {"households": households, "share": args.share, "delivery": manifest["row_counts"],
                           "changes": manifest["changes"], "commit": commit.stdout.strip() or None,
                           "date": dt.date.today().isoformat()}
    out["full"] = app("full", app_argv(root, landing, FULL, args.as_of), root)
    before = versions(root / "lakehouse")
    out["update"] = app("update", app_argv(root, update, UPDATE, args.as_of), root, since=len(FULL))
    out["report_after_update"] = app("report", app_argv(root, update, ("report",), args.as_of), root,
                                     since=len(FULL) + len(UPDATE))
    reference = None
    if compare:
        reference = d / "update_reference"
        shutil.rmtree(reference, ignore_errors=True)
        out["reference"] = app("reference", app_argv(reference, merged, UPDATE, args.as_of, mlflow=root), reference)
        reference = reference / "lakehouse"
    json_in = d / "update_check_in.json"
    json_in.write_text(json.dumps({"lakehouse": str(root / "lakehouse"), "before": before,
                                   "reference": str(reference) if reference else None}))
    argv = [sys.executable, str(Path(__file__).resolve()), "--check", str(json_in)]
    run_process("check", argv, env_for_stages(), d, d / "update_check.log")
    out["check"] = json.loads((d / "update_check_out.json").read_text())
    (d / "update.json").write_text(json.dumps(out, indent=2, default=str))
    return out


def appeal_steps(run: dict[str, Any]) -> dict[str, float]:
    """Seconds of each of APPEAL_STEPS in a round's publish (0 where the step did not run)."""
    steps = dict(next((s.get("steps") or [] for s in run["stages"] if s["name"] == "publish"), []))
    steps = {_STEP_SENTENCES.get(name, name): seconds for name, seconds in steps.items()}
    return {k: steps.get(key, 0.0) for k, key in APPEAL_STEPS.items()}


# Results recorded before steps had keys name them by the operator's sentence.
_STEP_SENTENCES = {
    "rebuilding the verification queue (appeals, cut-off band, stale, curbstoning, registry events)": QUEUE_STEP,
    "writing why each household entered or left (eligibility_reasons)": REASONS_STEP,
}


def section(results: list[dict[str, Any]]) -> str:
    lines = [BEGIN, "", "### Update rounds (scripts/bench_update.py)", ""]
    lines += ["One application each (`dtks run --stages ...`), on the same lakehouse: the full round is ingest, "
              "train, score, publish and report; the update round is ingest, score and publish of the next "
              "quarter's delivery (`dtks generate --update-of --share 0.01`), and the report is timed after it "
              "on its own.", ""]
    lines += [f"| households | commit, date | full round | update round | share (bar {GOAL_SHARE:.0%}) | "
              f"ingest share (bar {GOAL_INGEST:.0%}) | publish share (bar {GOAL_PUBLISH:.0%}) | report after it | "
              "delivery | change feed exact | full round on updated inputs |", "|" + "---|" * 11]
    for r in results:
        full, upd, rep = r["full"]["wall_s"], r["update"]["wall_s"], r["report_after_update"]["wall_s"]
        stage = {kind: {s["name"]: s["stage_s"] for s in r[kind]["stages"]} for kind in ("full", "update")}
        parts = []
        for name, goal in (("ingest", GOAL_INGEST), ("publish", GOAL_PUBLISH)):
            a, b = stage["full"].get(name), stage["update"].get(name)
            parts.append("-" if not a or b is None else f"{b / a:.1%} {'met' if b / a <= goal else 'MISSED'}")
        c = r["changes"]
        delivery = (f"{r['delivery']['survey_households']:,} households ({c['RICHER']:,} richer, {c['POORER']:,} "
                    f"poorer, {c['NEW']:,} new); {r['delivery'].get('registry_changes', 0):,} registry events")
        feed = r["check"]["change_feed"]
        comp = r["check"].get("compared")
        same = ("not run" if comp is None else
                "identical" if all(v["only_update"] == v["only_full"] == 0 and v["rows"] == v["reference_rows"]
                                   for v in comp.values()) else "DIFFERENT")
        lines.append(f"| {r['households']:,} | {r.get('commit') or '?'}, {r.get('date') or '?'} | {full:.1f} s | "
                     f"{upd:.1f} s | {upd / full:.1%} "
                     f"{'met' if upd / full <= GOAL_SHARE else 'MISSED'} | {parts[0]} | {parts[1]} | {rep:.1f} s | "
                     f"{delivery} | "
                     f"{'yes' if feed['exact'] else 'NO'} ({feed['entries']:,} entries, {feed['exits']:,} exits) "
                     f"| {same} |")
    lines += ["", "Stage times (s, from pipeline_runs):", ""]
    lines += ["| households | round | " + " | ".join(FULL) + " |", "|---|---|" + "---|" * len(FULL)]
    for r in results:
        for kind in ("full", "update"):
            by = {s["name"]: s["stage_s"] for s in r[kind]["stages"]}
            lines.append(f"| {r['households']:,} | {kind} | " + " | ".join(
                f"{by[s]:.1f}" if s in by else "-" for s in FULL) + " |")
    lines += ["", "What the verification queue and the reasons for change take (publish's own steps, timed in "
              f"pipeline_runs; goal: together at most {GOAL_APPEALS:.0%} of the round; the explanations are columns "
              "of the scoring and ranking passes, with no step of their own):", ""]
    lines += ["| households | round | round wall | " + " | ".join(APPEAL_STEPS) + " | together | share |",
              "|---|---|---|" + "---|" * len(APPEAL_STEPS) + "---|---|"]
    for r in results:
        for kind in ("full", "update"):
            taken = appeal_steps(r[kind])
            total = sum(taken.values())
            share = total / r[kind]["wall_s"]
            lines.append(f"| {r['households']:,} | {kind} | {r[kind]['wall_s']:.1f} s | "
                         + " | ".join(f"{taken[k]:.1f} s" for k in APPEAL_STEPS)
                         + f" | {total:.1f} s | {share:.1%} {'met' if share <= GOAL_APPEALS else 'MISSED'} |")
    for r in results:
        lines += ["", f"What the update round's commits wrote, {r['households']:,} households (Delta operation "
                      f"metrics; bar: at most {GOAL_BYTES:.0%} of a table's bytes, except a table that carries the "
                      "national rank):", ""]
        lines += ["| table | commits | table before | written | share | files added | files removed | "
                  "rows copied |", "|---|---|---|---|---|---|---|---|"]
        for name, t in r["check"]["tables"].items():
            share = t["share_written"]
            flag = "" if share is None or share <= GOAL_BYTES or name in RANKED else " (over)"
            lines.append(f"| {name} | {', '.join(t['commits']) or '-'} | {t['bytes_before'] / 2**20:.1f} MB | "
                         f"{t['bytes_written'] / 2**20:.2f} MB | "
                         f"{'-' if share is None else f'{share:.1%}'}{flag} | {t['files_added']} | "
                         f"{t['files_removed']} | {t['rows_copied']:,} |")
    lines += ["", END]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--households", default="300000,1000000")
    p.add_argument("--compare", default="300000", help="sizes at which a full round on the updated inputs is compared")
    p.add_argument("--share", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--as-of", default="2026-11-28")
    p.add_argument("--work", default="/tmp/dtks_bench")
    p.add_argument("--doc", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    p.add_argument("--results", default=str(ROOT / "docs" / "update_rounds.json"),
                   help="every size's last result, the section's source ('' to write neither)")
    p.add_argument("--check", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.check:
        spec = json.loads(Path(args.check).read_text())
        result = check(Path(spec["lakehouse"]), spec["before"],
                       Path(spec["reference"]) if spec["reference"] else None)
        Path(args.check).with_name("update_check_out.json").write_text(json.dumps(result, indent=2))
        return
    sizes = [int(x) for x in args.households.split(",")]
    args.compare = {int(x) for x in args.compare.split(",") if x}
    results = [bench(args, n) for n in sizes]
    if args.results:
        block = section(merged(Path(args.results), results))
        replace_section(Path(args.doc), BEGIN, END, block)
    else:
        block = section(results)
    print(block)


def merged(path: Path, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every size's last result: this run's replace the entries of their sizes, the others stay (a run at one
    size leaves another size's rows of the doc as they were). Written back to `path`."""
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept.update({str(r["households"]): r for r in results})
    path.write_text(json.dumps(kept, indent=1, default=str, sort_keys=True) + "\n")
    return [kept[k] for k in sorted(kept, key=int)]


if __name__ == "__main__":
    main()
