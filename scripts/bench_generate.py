"""Time `dtks generate` at several sizes (default 100k, 250k, 1M households) and print a table.

Why: generation must scale linearly (1M households in at most about 4x the time of 250k). Each size is the
command itself, as a process of its own (`python -m jobs.cli generate`), into a temporary folder: so this
script times what a user runs and never falls behind the generator's code. The rows written come from the
manifest generate writes; the JVM's start is in every figure (a few seconds), as it is for a user.
Usage: .venv/bin/python scripts/bench_generate.py [--sizes 100000 250000 1000000] [--seed 42] [--format csv]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(work: Path, households: int, seed: int, fmt: str) -> tuple[dict, float]:
    """One `dtks generate` of `households` into its own folder under `work`: (manifest, wall seconds)."""
    out = work / f"landing_{households}"
    argv = [sys.executable, "-m", "jobs.cli", "generate", "--env", "local",
            "--set", f"lakehouse_root={work / 'lake'}", "--households", str(households), "--seed", str(seed),
            "--format", fmt, "--out", str(out)]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"dtks generate --households {households} failed:\n{done.stderr[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    return manifest, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 250_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_generate_"))
    try:
        rows = []
        for n in args.sizes:
            manifest, seconds = one(work, n, args.seed, args.format)
            total = sum(manifest["row_counts"].values())
            rows.append((n, manifest["row_counts"]["registry"], total, seconds))
            print(f"  done {n:,} households in {seconds:.1f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'households':>12} {'persons':>12} {'rows written':>13} {'seconds':>9} {'rows/s':>10}")
    for n, persons, total, seconds in rows:
        print(f"{n:>12,} {persons:>12,} {total:>13,} {seconds:>9.1f} {total / seconds:>10,.0f}")
    by_size = {n: s for n, _, _, s in rows}
    if 250_000 in by_size and 1_000_000 in by_size:
        print(f"\n1M / 250k time ratio: {by_size[1_000_000] / by_size[250_000]:.2f} (target <= about 4)")


if __name__ == "__main__":
    main()
