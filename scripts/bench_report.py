"""Pipeline benchmark, the writing half: docs/BENCHMARKS.md from the results scripts/bench_pipeline.py saved.

Reads <work>/<households>/results.json (every size found, or those of --households) and <work>/scoring.json,
and writes the tables: per size the processes, the stages of each one-application run and of the five
processes, Spark's event-log timings, the update round, the output tables' files, the DuckDB baseline; then
scaling between sizes, the scoring paths, and the goals (bench_pipeline.GOALS) with their verdicts. The
doc's hand-written `## Notes` section (to the end of the file, with the update-rounds block that
scripts/bench_update.py keeps there) is carried over from --notes-from.

    python scripts/bench_report.py --work /tmp/dtks_bench                        # writes docs/BENCHMARKS.md
    python scripts/bench_report.py --work /tmp/dtks_bench --households 100000 --out /tmp/BENCHMARKS.md
    python scripts/bench_report.py --work /tmp/dtks_bench --out -                # to stdout
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import GOALS, ROOT, STAGES, UPDATE_STAGES  # noqa: E402

DOC = ROOT / "docs" / "BENCHMARKS.md"
NOTES = "## Notes"
MB = 1024 * 1024


# ------------------------------------------------------------------ figures


def num(n: float | None, spec: str = ",") -> str:
    return "-" if n is None else format(n, spec)


def fmt_mb(n: float | None) -> str:
    return "-" if not n else f"{n / MB:,.0f}"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def total(stages: list[dict], key: str, names=None) -> float:
    return sum(s.get(key) or 0 for s in stages if names is None or s["name"] in names)


def driver_peak(s: dict) -> int:
    """The driver JVM's peak RSS plus the Python driver's: an upper bound of their simultaneous sum (in
    local mode the JVM also runs the executors)."""
    return s["jvm_peak_rss"] + s["driver_py_peak_rss"]


def load_avg(s: dict) -> str:
    return f"{s['load_before'][0]:.1f}→{s['load_after'][0]:.1f}"


def per_m(cpu: float | None, persons: int) -> str:
    """CPU seconds per million persons (registry rows)."""
    return "-" if cpu is None else f"{cpu / persons * 1e6:,.1f}"


def per_3x(ratio: float, data_ratio: float) -> float:
    """A ratio between two sizes, normalised to 3x data."""
    return ratio ** (math.log(3) / math.log(data_ratio))


def full_ok(r: dict) -> bool:
    return len(r.get("full", [])) == len(STAGES) and all(s["rc"] == 0 for s in r["full"])


def update_ok(r: dict) -> bool:
    return len(r.get("update", [])) == len(UPDATE_STAGES) and "layout_update" in r


def apps_ok(r: dict) -> dict[str, dict]:
    return {k: a for k, a in sorted(r.get("apps", {}).items())
            if a["rc"] == 0 and [s["name"] for s in a["stages"]] == list(STAGES)}


def mem_setting(value: str | None) -> str:
    return f"spark.driver_memory={value}" if value else "spark.driver_memory from conf"


def app_ratio_seconds(r: dict) -> tuple[float, str] | None:
    """Ingest + score + publish stage seconds (pipeline_runs) of the first complete one-application run."""
    for label, a in apps_ok(r).items():
        return total(a["stages"], "stage_s", UPDATE_STAGES), label
    return None


def verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    """A markdown table; columns right-aligned but the first (or as `align` says: l/r per column)."""
    align = align or "l" + "r" * (len(header) - 1)
    return (["| " + " | ".join(header) + " |", "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
            + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


# ------------------------------------------------------------------ per size


def processes_table(r: dict) -> list[str]:
    """One row per measured process (or five-process round): wall, CPU and memory of the process tree."""
    rows = []

    def row(what: str, p: dict, stage_s: float | None, spark: dict | None) -> None:
        rows.append([what, p["rc"], f"{p['wall_s']:.1f}", f"{p['cpu_s']:.1f}",
                     num(None if stage_s is None else p["wall_s"] - stage_s, ".1f"), fmt_mb(driver_peak(p)),
                     fmt_mb(p["jvm_peak_rss"]), fmt_mb(p["peak_tree_rss"]),
                     num((spark or {}).get("in_jobs_s"), ".1f"), num((spark or {}).get("task_cpu_s"), ".1f"),
                     pct(p["others_cpu_share"]), pct(p.get("steal_share")), load_avg(p)])

    for label, a in sorted(r.get("apps", {}).items()):
        row(f"one application ({label}, {mem_setting(a.get('driver_memory'))})", a, total(a["stages"], "stage_s"),
            a.get("spark"))
    for which in ("full", "update"):
        for s in r.get(which, []):
            row(f"{which} {s['name']}", s, s.get("stage_s"), s.get("spark"))
    if r.get("duckdb"):
        row("DuckDB baseline", r["duckdb"], None, None)
    return table(["process", "exit", "wall s", "CPU s", "outside stages s", "driver peak MB", "JVM peak MB",
                  "tree peak MB", "Spark jobs s", "task CPU s", "others' CPU", "steal", "load 1-min"], rows)


def app_table(r: dict, app: dict) -> list[str]:
    persons, st = r["persons"], app["stages"]
    rows = [[s["name"] + ("" if s["status"] == "SUCCEEDED" else f" ({s['status']})"), f"{s['stage_s']:.1f}",
             num(s["spark_jobs"]), num(s["stage_cpu_s"], ".1f"), per_m(s["stage_cpu_s"], persons),
             num(s["rows_in"]), num(s["rows_out"])] for s in st]
    cpu = total(st, "stage_cpu_s")
    rows.append(["**stages**", f"**{total(st, 'stage_s'):.1f}**", f"{total(st, 'spark_jobs'):.0f}", f"{cpu:.1f}",
                 per_m(cpu, persons), "", ""])
    return table(["stage", "wall s", "Spark jobs", "CPU s", "CPU-s per M persons", "rows in", "rows out"], rows)


def stage_table(r: dict, which: str) -> list[str]:
    persons, stages, cores = r["persons"], r[which], r.get("cores", 1)
    rows = []
    for s in stages:
        rows_in = s.get("rows_in")
        rows.append([s["name"], f"{s['wall_s']:.1f}", num(s.get("stage_s"), ".1f"), num(s.get("spark_jobs")),
                     num(s.get("stage_cpu_s"), ".1f"), per_m(s.get("stage_cpu_s"), persons), num(rows_in),
                     num(s.get("rows_out")), f"{rows_in / s['wall_s'] / cores:,.0f}" if rows_in else "-",
                     f"{s['cpu_s']:.1f}"])
    wall, cpu = total(stages, "wall_s"), total(stages, "stage_cpu_s")
    rows.append(["**total**", f"**{wall:.1f}**", f"{total(stages, 'stage_s'):.1f}",
                 f"{total(stages, 'spark_jobs'):.0f}", f"{cpu:.1f}", per_m(cpu, persons), "", "",
                 f"{persons / wall / cores:,.0f} persons" if wall else "-", f"{total(stages, 'cpu_s'):.1f}"])
    return table(["stage", "wall s", "in-stage s", "Spark jobs", "in-stage CPU s", "CPU-s per M persons", "rows in",
                  "rows out", "rows/s/core", "CPU s"], rows)


def event_log_table(r: dict) -> list[str]:
    rows = []
    runs = [(f"one application ({label})", a) for label, a in sorted(r.get("apps", {}).items())]
    runs += [(f"{which} {s['name']}", s) for which in ("full", "update") for s in r.get(which, [])]
    for what, p in runs:
        sp = p.get("spark") or {}
        if not sp:
            continue
        slow = "; ".join(f"{x['seconds']:.1f} s `{x['what']}`" + (f" on {', '.join(x['reads'])}" if x["reads"] else "")
                         for x in sp["slowest_sql"])
        rows.append([what, f"{sp['in_jobs_s']:.1f}", f"{p['wall_s'] - sp['in_jobs_s']:.1f}", sp["jobs"], sp["tasks"],
                     f"{sp['task_run_s']:.1f}", f"{sp['task_cpu_s']:.1f}", f"{p['cpu_s'] - sp['task_cpu_s']:.1f}",
                     f"{sp['gc_s']:.1f}", f"{sp['spill_bytes'] / MB:,.0f}",
                     ", ".join(str(n) for n in sp.get("merge_rewrites", [])) or "-", slow])
    if not rows:
        return []
    return ["Spark event log:", ""] + table(
        ["process", "in Spark jobs s", "outside jobs s", "jobs", "tasks", "task time s", "task CPU s",
         "CPU outside tasks s", "GC s", "spill MB", "MERGE rewrote files", "slowest SQL"], rows, "l" + "r" * 10 + "l"
    ) + [""]


def layouts(r: dict) -> list[tuple[str, dict]]:
    """(title, layout) of every table layout measured for a size: after each one-application run, after the
    five-process full run and after the update round."""
    found = [(f"the one application ({mem_setting(a.get('driver_memory'))})", a["layout"])
             for _, a in sorted(r.get("apps", {}).items()) if a.get("layout")]
    found += [(title, r[key]) for key, title in (("layout_full", "the five-process full run"),
                                                 ("layout_update", "the update round")) if r.get(key)]
    return found


def layout_section(r: dict) -> list[str]:
    """A table per measured layout; a layout with the same files per table as an earlier one only names it."""
    lines, shown = [], []
    for title, layout in layouts(r):
        shape = {name: (t["files"], t["partitions"], t["files_per_partition_max"]) for name, t in layout.items()}
        same = next((t for t, s in shown if s == shape), None)
        lines += [f"### Output tables after {title}", ""]
        if same:
            lines += [f"Same files and partitions per table as after {same}.", ""]
            continue
        shown.append((title, shape))
        rows = [[name, ", ".join(t["partition_columns"]) or "-", f"{t['live_bytes'] / MB:,.1f}",
                 f"{t['disk_bytes'] / MB:,.1f}", f"{t['files']:,}", f"{t['partitions']:,}",
                 t["files_per_partition_max"], f"{t['files_per_partition_median']:g}",
                 f"{t['live_bytes'] / t['files'] / 1024:,.0f}" if t["files"] else "-"] for name, t in layout.items()]
        lines += table(["table", "partitioned by", "live MB", "on disk MB", "files", "partitions",
                        "files/partition max", "median", "mean file KB"], rows, "ll" + "r" * 7) + [""]
    return lines


def duckdb_section(r: dict) -> list[str]:
    d = r["duckdb"]
    base = d.get("baseline") or {}
    lines = ["### Single-node baseline (DuckDB, same landing files)", ""]
    if not base:
        return lines + [f"The baseline failed (exit {d['rc']}): see {d['log']}.", ""]
    work, cmp, counts = base["work_seconds"], base.get("comparison") or {}, base["counts"]
    rows = [["DuckDB SQL work", f"{work:.1f}", "1.0x"]]
    rows += [[f"DuckDB step {k}", f"{v:.1f}", ""] for k, v in base.get("step_seconds", {}).items()]
    rows.append(["DuckDB set-up (Python, config, model from MLflow)", f"{base['setup_seconds']:.1f}", ""])
    app = app_ratio_seconds(r)
    if app:
        rows.append([f"ours, one application ({app[1]}): ingest + score + publish in-stage s", f"{app[0]:.1f}",
                     f"**{app[0] / work:.1f}x**"])
    if full_ok(r):
        ours = total(r["full"], "wall_s", UPDATE_STAGES)
        ours_in = total(r["full"], "stage_s", UPDATE_STAGES)
        rows.append(["ours, five processes: ingest + score + publish wall s", f"{ours:.1f}", f"**{ours / work:.1f}x**"])
        rows.append(["ours, five processes: ingest + score + publish in-stage s", f"{ours_in:.1f}",
                     f"{ours_in / work:.1f}x"])
    lines += table(["", "seconds", "ours / DuckDB"], rows)
    lines += ["", f"{base.get('threads')} DuckDB threads. Equality with our dtks_households ({cmp.get('ours', 0):,} "
              f"households ours, {cmp.get('duckdb', 0):,} DuckDB): only ours {cmp.get('only_ours')}, only DuckDB "
              f"{cmp.get('only_duckdb')}, national_rank {cmp.get('rank_mismatch')}, decile "
              f"{cmp.get('decile_mismatch')}, within_coverage {cmp.get('coverage_mismatch')}, welfare_score > 1e-9 "
              f"{cmp.get('score_mismatch')} (largest difference {cmp.get('max_score_diff')}): "
              f"**{cmp.get('mismatches')} mismatches**; model {base.get('model_uri')}, ours version "
              f"{cmp.get('model_versions')}. Accepted rows: registry {counts['registry_accepted']:,}, survey "
              f"households {counts['households_accepted']:,}, members {counts['members_accepted']:,}; "
              f"P = {counts['population']:,}.", ""]
    return lines


def size_section(r: dict) -> list[str]:
    g = r["generate"]
    out = [f"## {r['households']:,} households ({r['persons']:,} persons)", "",
           f"Test data (not pipeline): generate {num(g.get('wall_s'), '.1f')} s"
           + (" (made earlier, timing kept)" if g.get("reused") else "")
           + "; rows: " + ", ".join(f"{k} {v:,}" for k, v in r["row_counts"].items() if "/" not in k)
           + f". Ingest `--as-of {r['as_of']}`.", ""]
    if r.get("failed"):
        out += [f"Incomplete: {r['failed']}.", ""]
    out += ["### Processes", ""] + processes_table(r) + [""]
    for label, app in sorted(r.get("apps", {}).items()):
        out += [f"### One application ({label}: `dtks run`, {mem_setting(app.get('driver_memory'))})", ""]
        out += app_table(r, app) + [""]
    if r.get("full"):
        out += [f"### Five processes ({mem_setting(r.get('stages_driver_memory'))})", ""]
        out += stage_table(r, "full") + [""]
    if r.get("update_batch"):
        b = r["update_batch"]
        out += [f"### Update round: {b['households']:,} of {b['of_households']:,} survey households re-delivered "
                f"({b['members']:,} members, written in {b['seconds']:.1f} s)", ""]
        if update_ok(r):
            full_same, upd = total(r["full"], "wall_s", UPDATE_STAGES), total(r["update"], "wall_s")
            out += [f"Update ingest + score + publish **{upd:.1f} s** = {upd / full_same:.0%} of the full run's "
                    f"({full_same:.1f} s), {upd / total(r['full'], 'wall_s'):.0%} of the whole full run.", ""]
            out += stage_table(r, "update") + [""]
        else:
            out += ["Not completed.", ""]
    out += event_log_table(r)
    out += layout_section(r)
    if r.get("duckdb"):
        out += duckdb_section(r)
    return out


# ------------------------------------------------------------------ across sizes


def scaling_section(results: list[dict]) -> list[str]:
    lines = ["## Scaling", ""]
    complete = [r for r in results if full_ok(r)]
    runs = [r for r in results if r.get("full")]
    if len(runs) < 2:
        return lines + ["Fewer than two sizes with five-process runs: no scaling figures.", ""]
    rows = []
    for ra, rb in zip(complete, complete[1:], strict=False):
        x = rb["persons"] / ra["persons"]
        w = total(rb["full"], "wall_s") / total(ra["full"], "wall_s")
        cpu = total(rb["full"], "cpu_s") / total(ra["full"], "cpu_s")
        mem = max(driver_peak(s) for s in rb["full"]) / max(driver_peak(s) for s in ra["full"])
        rows.append([f"{ra['households']:,} → {rb['households']:,}", f"{x:.2f}", f"{w:.2f}", f"{per_3x(w, x):.2f}",
                     f"{total(rb['full'], 'stage_s') / total(ra['full'], 'stage_s'):.2f}", f"{cpu:.2f}",
                     f"{per_3x(cpu, x):.2f}", f"{mem:.2f}"])
    if rows:
        lines += table(["from → to", "data x", "full-run wall x", "per 3x data", "in-stage x", "CPU s x",
                        "CPU per 3x data", "driver peak x"], rows) + [""]
    first = runs[0]
    rows = []
    for stage in STAGES:
        cells = [stage]
        base = next((s for s in first["full"] if s["name"] == stage and s["rc"] == 0), None)
        for r in runs:
            s = next((s for s in r["full"] if s["name"] == stage and s["rc"] == 0), None)
            if s is None:
                cells.append("-")
                continue
            cell = f"{s['wall_s']:.1f} ({s['cpu_s']:.1f})"
            if base is not None and r is not first:
                cell += f", {per_3x(s['wall_s'] / base['wall_s'], r['persons'] / first['persons']):.2f} per 3x"
            cells.append(cell)
        rows.append(cells)
    lines += [f"Per stage, five processes: wall s (CPU s), and the wall ratio to {first['households']:,} households "
              "per 3x data:", ""]
    return lines + table(["stage"] + [f"{r['households']:,}" for r in runs], rows) + [""]


def scoring_section(scoring: dict | None) -> list[str]:
    lines = ["## Scoring paths (scripts/bench_scoring.py)", ""]
    if not scoring or not scoring.get("steps"):
        return lines + ["Not run in this measurement.", ""]
    first = scoring.get("first_runs") or {}
    rows = [[name, f"{s['rows']:,}", f"{s['seconds']:.2f}", f"{s['rows'] / s['seconds']:,.0f}",
             num(first.get(name), ".2f")] for name, s in scoring["steps"].items()]
    lines += table(["step", "rows", "seconds (median of 3)", "rows/s", "first run s"], rows)
    return lines + ["", f"Process wall {scoring['wall_s']:.1f} s, others' CPU {pct(scoring['others_cpu_share'])}, "
                    f"steal {pct(scoring.get('steal_share'))}, load {load_avg(scoring)}.", ""]


def goals_section(results: list[dict], scoring: dict | None) -> list[str]:
    rows: list[list[str]] = []
    complete = [r for r in results if full_ok(r)]
    with_app = [r for r in results if apps_ok(r)]
    at_1m = lambda r: r["households"] >= 1_000_000  # noqa: E731

    def add(goal: str, measured: str, ok: bool | None) -> None:
        rows.append([goal, measured, verdict(ok)])

    if with_app:
        r = with_app[-1]
        for label, a in apps_ok(r).items():
            w = a["wall_s"]
            add(f"one application ≤ {GOALS['app_seconds_1m']:.0f} s", f"{w:.1f} s at {r['households']:,} ({label})",
                w <= GOALS["app_seconds_1m"] if at_1m(r) else None)
            add(f"one application ≤ {GOALS['app_goal_seconds_1m']:.0f} s (goal)", f"{w:.1f} s ({label})",
                w <= GOALS["app_goal_seconds_1m"] if at_1m(r) else None)
    if complete:
        r = complete[-1]
        w = total(r["full"], "wall_s")
        add(f"five processes ≤ {GOALS['stages_seconds_1m']:.0f} s", f"{w:.1f} s at {r['households']:,}",
            w <= GOALS["stages_seconds_1m"] if at_1m(r) else None)
    if with_app or complete:
        r = max(with_app + complete, key=lambda r: r["households"])
        a = next(iter(apps_ok(r).values()), None)
        rate = r["persons"] / (a["wall_s"] if a else total(r["full"], "wall_s")) / r.get("cores", 1)
        add(f"≥ {GOALS['persons_per_s_per_core']:,} persons/s/core",
            f"{rate:,.0f} at {r['households']:,} ({'one application' if a else 'five processes'})",
            rate >= GOALS["persons_per_s_per_core"] if at_1m(r) else None)
    tried = [(r["households"], f"one application {a['wall_s']:.0f} s", a in apps_ok(r).values())
             for r in results for a in r.get("apps", {}).values() if (a.get("driver_memory") or "").lower() == "2g"]
    tried += [(r["households"], f"five processes {total(r['full'], 'wall_s'):.0f} s", full_ok(r)) for r in results
              if r.get("full") and (r.get("stages_driver_memory") or "").lower() == "2g"]
    big = [ok for n, _, ok in tried if n >= 1_000_000]
    add("1M completes with driver memory 2g", "; ".join(
        f"{what} at {n:,}: {'completed' if ok else 'failed'}" for n, what, ok in tried) or "no 2g run",
        any(big) if big else None)
    procs = [(r["households"], f"{which} {s['name']}", s) for r in results for which in ("full", "update")
             for s in r.get(which, [])]
    procs += [(r["households"], f"one application ({label})", a) for r in results
              for label, a in r.get("apps", {}).items()]
    if procs:
        n, name, worst = max(procs, key=lambda x: driver_peak(x[2]))
        add(f"driver under {GOALS['driver_bytes'] / 1024**3:.0f} GB",
            f"{fmt_mb(driver_peak(worst))} MB (JVM {fmt_mb(worst['jvm_peak_rss'])} MB), {name} at {n:,}",
            driver_peak(worst) < GOALS["driver_bytes"])
    if len(complete) >= 2:
        ratios = [(ra["households"], rb["households"], rb["persons"] / ra["persons"],
                   total(rb["full"], "wall_s") / total(ra["full"], "wall_s"),
                   total(rb["full"], "cpu_s") / total(ra["full"], "cpu_s")) for ra, rb in zip(complete, complete[1:],
                                                                                                strict=False)]
        add(f"time ratio per 3x data ≤ {GOALS['ratio_per_3x']} (five processes)", ", ".join(
            f"{a:,}→{b:,}: wall {per_3x(w, x):.2f}, CPU s {per_3x(c, x):.2f}" for a, b, x, w, c in ratios),
            all(per_3x(w, x) <= GOALS["ratio_per_3x"] for _, _, x, w, _ in ratios))
        mems = [max(driver_peak(s) for s in r["full"]) for r in complete]
        add(f"driver peak grows < {GOALS['driver_growth'] - 1:.0%} over the sizes",
            " → ".join(f"{fmt_mb(m)} MB" for m in mems) + f" ({mems[-1] / mems[0]:.2f}x)",
            mems[-1] / mems[0] < GOALS["driver_growth"])
    steps = (scoring or {}).get("steps") or {}
    noop, native, udf = steps.get("no-op pass"), steps.get("native expressions"), steps.get("mlflow spark_udf")
    if noop and native and udf:
        speed = (native["rows"] / native["seconds"]) / (udf["rows"] / udf["seconds"])
        add(f"native ≥ {GOALS['native_vs_udf']:.0f}x spark_udf", f"{speed:.1f}x (rows/s)",
            speed >= GOALS["native_vs_udf"])
        rel = native["seconds"] / noop["seconds"]
        add(f"native within {GOALS['native_vs_noop']}x of a no-op pass", f"{rel:.2f}x", rel <= GOALS["native_vs_noop"])
    with_update = [r for r in complete if update_ok(r)]
    if with_update:
        r = with_update[-1]
        share = total(r["update"], "wall_s") / total(r["full"], "wall_s")
        add(f"update round (1 %) ≤ {GOALS['update_share']:.0%} of a full run",
            f"{total(r['update'], 'wall_s'):.1f} s = {share:.0%} at {r['households']:,}",
            share <= GOALS["update_share"])
    measured, oks, equal = [], [], []
    for r in results:
        base = (r.get("duckdb") or {}).get("baseline") or {}
        if not base:
            continue
        n, work, bar = r["households"], base["work_seconds"], GOALS["duckdb_ratio"].get(r["households"])
        app = app_ratio_seconds(r)
        procs_ratio = total(r["full"], "wall_s", UPDATE_STAGES) / work if full_ok(r) else None
        ratio = app[0] / work if app else procs_ratio
        measured.append(f"{n:,}: " + ", ".join(
            ([f"one application {app[0] / work:.1f}x"] if app else [])
            + ([f"five processes {procs_ratio:.1f}x"] if procs_ratio else [])))
        if bar and ratio is not None:
            oks.append(ratio <= bar)
        equal.append(f"{n:,}: {(base.get('comparison') or {}).get('mismatches')}")
    if measured:
        bars = ", ".join(f"{b:g}x at {n:,}" for n, b in GOALS["duckdb_ratio"].items())
        add(f"ours / DuckDB, ingest + score + publish (judged on the one application) ≤ {bars}", "; ".join(measured),
            all(oks) if oks else None)
        add("DuckDB result equal to ours", "mismatches " + ", ".join(equal), all(e.endswith(": 0") for e in equal))
    if with_app or complete:
        r = max(with_app + complete, key=lambda r: r["households"])
        jobs = [(label, s["spark_jobs"]) for label, a in apps_ok(r).items() for s in a["stages"]
                if s["name"] == "ingest"]
        jobs += [("five processes", s.get("spark_jobs")) for s in r["full"] if s["name"] == "ingest" and full_ok(r)]
        jobs = [(k, v) for k, v in jobs if v is not None]
        add(f"ingest Spark jobs ≤ {GOALS['ingest_spark_jobs']} (goal)",
            f"{', '.join(f'{k} {v}' for k, v in jobs) or '-'} at {r['households']:,}",
            max(v for _, v in jobs) <= GOALS["ingest_spark_jobs"] if jobs else None)
    worst, where, after_update = 0, "", 0
    for r in results:
        for title, layout in layouts(r):
            for name, t in layout.items():
                if "update" in title:
                    after_update = max(after_update, t["files_per_partition_max"])
                elif t["files_per_partition_max"] > worst:
                    worst, where = t["files_per_partition_max"], f"{name} after {title} at {r['households']:,}"
    if where:
        add(f"≤ {GOALS['files_per_partition']} files in any partition of any table after a full round",
            f"max {worst} ({where})" + (f"; after the update round {after_update}" if after_update else ""),
            worst <= GOALS["files_per_partition"])
    return ["## Goals", "", "Bars and goals of issue 16 (at 1,000,000 households unless said otherwise; "
            "smaller sizes are not judged), and the earlier ones still measured.", ""] + table(
        ["goal", "measured", "verdict"], rows, "lll") + [""]


# ------------------------------------------------------------------ the doc


def method_section(results: list[dict]) -> list[str]:
    m = next((r["machine"] for r in reversed(results) if r.get("machine")), None)
    machine = (f"{m['cores']} cores, {m['memory_bytes'] / 1024**3:.0f} GiB RAM, Python {m['python']}" if m
               else f"{results[-1].get('cores', '?')} cores")
    return ["## Machine and method", "",
            f"- {machine}; Spark local[*] with the `local` config (`spark.driver_memory` from conf/base.yaml "
            "unless `--driver-memory` set it), Delta and MLflow (SQLite) as in production code.",
            "- *One application*: `python -m jobs.cli run --stages ingest,train,score,publish,report`. *Five "
            "processes*: each stage as `python -m jobs.cli <stage>`, so its wall s includes starting Python and a JVM.",
            "- Per stage, from its `pipeline_runs` row: wall s / in-stage s (its own timer), Spark jobs (of its job "
            "group), CPU s (the Python driver's and its local JVM's), rows in and out. CPU-s per M persons = CPU s "
            "/ registry rows x 10^6.",
            "- Per process: *CPU s* of the whole process tree; *driver peak* = the driver JVM's peak RSS plus the "
            "Python driver's (sampled every 0.25 s), *JVM peak* the JVM's alone, *tree peak* the tree's summed RSS; "
            "*others' CPU* = the machine's CPU used by other processes meanwhile, *steal* = the hypervisor's; "
            "*load 1-min* before→after. *Spark jobs s* = union of Spark job intervals (event log).", ""]


def commands_section(results: list[dict], work: str) -> list[str]:
    sizes = ",".join(str(r["households"]) for r in results)
    return ["## Commands", "", "```bash",
            "pip install -e '.[bench]'   # duckdb, psutil",
            "export DTKS_NIK_KEY=...     # 32+ characters (the script sets a benchmark-only key if unset)",
            f".venv/bin/python scripts/bench_pipeline.py --households {sizes} --work {work}",
            f".venv/bin/python scripts/bench_pipeline.py --households 1000000 --work {work} --mode app "
            "--driver-memory 2g --no-duckdb",
            f".venv/bin/python scripts/bench_report.py --work {work}   # this file, from the saved results",
            "```", "",
            "The exact command of every process is in its results.json (`argv`).", ""]


def notes_of(doc: Path) -> str:
    """The hand-written `## Notes` section of `doc`, to the end of the file ('' if none)."""
    text = "\n" + doc.read_text() if doc.exists() else ""
    return text[text.index(f"\n{NOTES}\n") + 1:] if f"\n{NOTES}\n" in text else ""


def build_doc(results: list[dict], scoring: dict | None, work: str, notes: str) -> str:
    results = sorted((r for r in results if r.get("full") or r.get("apps")), key=lambda r: r["households"])
    if not results:
        raise SystemExit("no results to write (run scripts/bench_pipeline.py first)")
    out = ["# Benchmarks", "",
           "Measured by `scripts/bench_pipeline.py` (with `scripts/bench_scoring.py` and `scripts/bench_duckdb.py`), "
           "written by `scripts/bench_report.py`; goals are measured here, never asserted in timed tests. Every "
           f"figure was measured on the machine described; none is estimated. Written "
           f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.", ""]
    out += method_section(results)
    for r in results:
        out += size_section(r)
    out += scaling_section(results) + scoring_section(scoring) + goals_section(results, scoring)
    out += commands_section(results, work)
    out += [notes.rstrip() if notes else f"{NOTES}\n\n(none yet)", ""]
    return "\n".join(out)


def load(work: Path, sizes: list[int] | None) -> tuple[list[dict], dict | None]:
    files = ([work / str(n) / "results.json" for n in sizes] if sizes
             else sorted(work.glob("*/results.json"), key=lambda p: p.parent.name))
    results = [json.loads(f.read_text()) for f in files if f.exists() and f.parent.name.isdigit()]
    for r in results:
        if (r.get("full") and not full_ok(r)) or len(apps_ok(r)) < len(r.get("apps", {})):
            print(f"note: {r['households']:,} households incomplete ({r.get('failed', 'a run missing or failed')})")
    scoring_file = work / "scoring.json"
    return results, json.loads(scoring_file.read_text()) if scoring_file.exists() else None


def write(work: Path, sizes: list[int] | None, out: Path | str, notes_from: Path | None = None) -> None:
    """The doc from the results saved under `work`, to `out` ('-': stdout); the Notes from `notes_from`,
    else from `out` itself, else from docs/BENCHMARKS.md."""
    results, scoring = load(work, sizes)
    notes = notes_of(notes_from) if notes_from else (str(out) != "-" and notes_of(Path(out))) or notes_of(DOC)
    text = build_doc(results, scoring, str(work), notes)
    if str(out) == "-":
        print(text)
        return
    Path(out).write_text(text)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/dtks_bench", help="bench_pipeline.py's work folder")
    parser.add_argument("--households", help="comma-separated sizes (default: every size in the work folder)")
    parser.add_argument("--out", default=str(DOC), help="file to write, '-' for stdout (default: %(default)s)")
    parser.add_argument("--notes-from", help="doc whose `## Notes` section is kept (default: --out if it has one, "
                        "else docs/BENCHMARKS.md)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.households.split(",") if s.strip()] if args.households else None
    write(Path(args.work).resolve(), sizes, args.out, Path(args.notes_from) if args.notes_from else None)


if __name__ == "__main__":
    main()
