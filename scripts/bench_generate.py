"""Time `generate` at several sizes (default 100k, 250k, 1M households) and print a table.

Why: generation must scale linearly (1M households in at most about 4x the time of 250k). Each size is a
full run as the stage does it (build, write Parquet with the counts taken as it writes) into a temporary folder.
Usage: .venv/bin/python scripts/bench_generate.py [--sizes 100000 250000 1000000] [--seed 42]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from jobs.core import regions
from jobs.generate import stage as generate
from jobs.generate import synthetic
from runtime.config import load_config
from runtime.spark import get_spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 250_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_generate_"))
    config = load_config("local", {"lakehouse_root": str(work / "lake")})
    spark = get_spark(config)
    ref = regions.load(config)
    population = synthetic.read_population(config.conf_file(generate.POPULATION_FILE))
    rates = config.generate.defects

    def one(n: int) -> tuple[dict, float]:
        t0 = time.perf_counter()
        nation = synthetic.build(spark, ref, population, n, args.seed, rates, config.thresholds.min_interview_minutes)
        try:
            manifest = generate.write_landing(spark, nation, str(work / f"landing_{n}"), args.format,
                                              {"seed": args.seed, "households": n}, f"bench{n}")
        finally:
            nation.release()
        seconds = time.perf_counter() - t0
        shutil.rmtree(work / f"landing_{n}", ignore_errors=True)
        return manifest, seconds

    one(1_000)  # warm-up: JVM start, code generation caches
    rows = []
    for n in args.sizes:
        manifest, seconds = one(n)
        total = sum(manifest["row_counts"].values())
        rows.append((n, manifest["row_counts"]["registry"], total, seconds))
        print(f"  done {n:,} households in {seconds:.1f} s", flush=True)
    print(f"\n{'households':>12} {'persons':>12} {'rows written':>13} {'seconds':>9} {'rows/s':>10}")
    for n, persons, total, seconds in rows:
        print(f"{n:>12,} {persons:>12,} {total:>13,} {seconds:>9.1f} {total / seconds:>10,.0f}")
    by_size = {n: s for n, _, _, s in rows}
    if 250_000 in by_size and 1_000_000 in by_size:
        print(f"\n1M / 250k time ratio: {by_size[1_000_000] / by_size[250_000]:.2f} (target <= about 4)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
