"""Stage `generate`: write a synthetic nation into the landing zone (docs/CONTRACTS.md, landing table).

Thin on purpose: parse, build the DataFrames with jobs.generate.synthetic, write them. Everything is written to
a temporary sibling folder first and swapped in at the end, so a failed run never leaves a half-written
landing zone behind. Each folder gets a fixed number of files, sorted by key: same seed, same files.
"""

from __future__ import annotations

import argparse
import sys

from pyspark.sql import Observation

from jobs.core import regions
from jobs.core.deliveries import check_replaceable
from runtime import sizing
from runtime.errors import UserError
from runtime.locations import is_local
from runtime.runs import StageResult
from runtime.stage import StageContext, config_flag, main_for

NAME = "generate"
HELP = "write a synthetic nation (registry, survey, training sample, truth, injected defects) to the landing zone"
SIZED = False  # the landing zone is its output, not its input: a new nation is sized by what it draws (run)
# A new nation's landing zone in Parquet, truth included, per household: what its size on disk will be, which
# decides the Spark settings it is drawn with (conf/base.yaml, spark.small_input), as it will for ingest.
LANDING_BYTES_PER_HOUSEHOLD = 244
POPULATION_FILE = "reference/province_population.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    config_flag(parser, "--out", "landing.root", "landing folder to (re)write")
    config_flag(parser, "--format", "landing.format", "file format of a new nation")
    parser.add_argument("--update-of", metavar="LANDING",
                        help="write the next round's delivery for the nation in LANDING (in its format, from its "
                             "seed) to --out, instead of a new nation")
    config_flag(parser, "--share", "generate.update_share",
                "--update-of: share of survey households re-surveyed and of persons changed")
    parser.add_argument("--registry-form", choices=("events", "full"), default="events",
                        help="--update-of: registry changes as events (registry_changes) or the whole registry")
    parser.add_argument("--merged", metavar="FOLDER",
                        help="--update-of: also write the nation after the update (a full round's inputs)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options `dtks run` accepts too; defect rates go through --set generate.defects.<name>=<rate>."""
    config_flag(parser, "--households", "generate.households", "number of households")
    config_flag(parser, "--seed", "generate.seed", "random seed of a new nation")


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    # The generator's modules (pandas, numpy) are imported when it runs: every `dtks` command imports this one.
    from jobs.generate import defects, synthetic, villages, world
    from jobs.generate.delivery import output_files, write_landing

    if getattr(args, "update_of", None):  # a hand-made Namespace (tests) may lack the update options
        return run_update(ctx, args)
    config = ctx.config
    n, seed, fmt = config.generate.households, config.generate.seed, config.landing.format
    out = config.location(config.landing.root)
    check_replaceable(out, None if is_local(out) else ctx.spark)  # before drawing: a delivery is never replaced
    rates = config.generate.defects
    ref = regions.load(config)
    regions.check_scope(ref, config.trial.regions)
    population = villages.read_population(config.conf_file(POPULATION_FILE))
    parameters = {
        "households": n, "seed": seed, "training_rate": config.generate.training_rate,
        "appeal_share": config.generate.appeal_share,
        "format": fmt, "files_per_folder": output_files(n),
        "defect_rates": rates.model_dump(), "reporting_errors": config.generate.reporting_errors.model_dump(),
        "min_interview_minutes": config.thresholds.min_interview_minutes,
        "reference_date": world.REFERENCE_DATE.isoformat(),
        "survey_start": world.SURVEY_START.isoformat(), "survey_days": world.SURVEY_DAYS,
        "region_reference_version": ref.version, "trial_regions": list(config.trial.regions),
    }
    ctx.step("draw", f"drawing {n:,} households over the region reference (seed {seed})")
    spark = ctx.spark  # the session first: fitting changes its settings
    ctx.fit(n * LANDING_BYTES_PER_HOUSEHOLD / sizing.MB)
    nation = synthetic.build(spark, ref, population, n, seed, rates, config.generate.reporting_errors,
                             config.thresholds.min_interview_minutes,
                             config.generate.training_rate, config.trial.regions, config.generate.appeal_share)

    def describe(row_counts: dict[str, int], observed: dict[str, Observation]) -> dict:
        found = observed["truth/defects"].get
        return {
            "generator": "dtks generate",
            "seed": seed,
            "round": 0,
            "parameters": parameters | nation.plan.parameters,
            "row_counts": row_counts,
            "defects": {name: int(found[name]) for name in defects.DEFECTS},
            "stats": {"persons": row_counts["registry"], "deaths": int(observed["registry"].get["deaths"])},
        }

    ctx.step("write", f"writing the landing files to {out}")
    try:
        manifest = write_landing(ctx.spark, nation.tables, nation.keys, nation.plan.n_files, out, fmt, ctx.run_id,
                                 describe)
    finally:
        nation.release()
    counts = manifest["row_counts"]
    return StageResult(
        rows_in=None,
        rows_out=sum(counts.values()),
        details={"households": str(n), "seed": str(seed), "persons": str(counts["registry"]), "out": out},
        summary=[
            f"generate: {n:,} households, {counts['registry']:,} persons, {counts['survey_households']:,} surveyed, "
            f"{sum(manifest['defects'].values()):,} injected defects -> {out} ({fmt})"
        ],
    )


def run_update(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    """The next round's delivery for an existing nation (jobs/generate/update.py)."""
    from jobs.generate import update

    config = ctx.config
    base, out = config.location(args.update_of), config.location(config.landing.root)
    merged = config.location(args.merged) if args.merged else None
    if merged is not None and merged.rstrip("/") == out.rstrip("/"):
        raise UserError(f"--merged {merged} is --out too: the delivery and the merged nation need a folder each")
    for what, target in (("--out", out), ("--merged", merged)):
        if target is not None and target.rstrip("/") == base.rstrip("/"):
            raise UserError(f"{what} {target} is the nation --update-of reads: it is never written; give "
                            "another folder")
        if target is not None:
            check_replaceable(target, None if is_local(target) else ctx.spark, what)
    ctx.step("draw", f"drawing the next round's delivery for {base}")
    manifest = update.deliver(ctx.spark, config, base, out, args.registry_form, merged, ctx.run_id)
    counts, changes, round_no = manifest["row_counts"], manifest["changes"], manifest["round"]
    return StageResult(
        rows_in=None,
        rows_out=sum(counts.values()),
        details={"round": str(round_no), "out": out, **{f"changes.{k}": str(v) for k, v in changes.items()}},
        summary=[f"generate: update round {round_no} of {base}: {counts['survey_households']:,} households "
                 f"({changes.get('RICHER', 0):,} richer, {changes.get('POORER', 0):,} poorer, "
                 f"{changes.get('NEW', 0):,} new), registry events "
                 + ", ".join(f"{k.lower()} {changes.get(k, 0):,}" for k in ("BIRTH", "DEATH", "MOVE", "NIK_CORRECTION"))
                 + f" -> {out}"],
    )


if __name__ == "__main__":
    sys.exit(main_for(sys.modules[__name__]))
