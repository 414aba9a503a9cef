"""Stage `generate`: write a synthetic nation into the landing zone (docs/CONTRACTS.md, landing table).

Thin on purpose: parse, build the DataFrames with jobs.synthetic, write them. Everything is written to
a temporary sibling folder first and swapped in at the end, so a failed run never leaves a half-written
landing zone behind. Each folder gets a fixed number of files, sorted by key: same seed, same files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from jobs import regions, synthetic
from jobs.landing import CHANGES
from jobs.runtime.errors import UserError
from jobs.runtime.runs import StageResult
from jobs.runtime.stage import StageContext, main_for

NAME = "generate"
HELP = "write a synthetic nation (registry, survey, training sample, truth, injected defects) to the landing zone"
POPULATION_FILE = "reference/province_population.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--out", help="landing folder to (re)write (default: landing.root)")
    parser.add_argument("--format", choices=("parquet", "csv"), help="file format (default: landing.format)")
    parser.add_argument("--update-of", metavar="LANDING",
                        help="write the next round's delivery for the nation in LANDING instead of a new nation")
    parser.add_argument("--share", type=float, default=0.01,
                        help="--update-of: share of survey households re-surveyed and of persons changed (0.01)")
    parser.add_argument("--registry-form", choices=("events", "full"), default="events",
                        help="--update-of: registry changes as events (registry_changes) or the whole registry")
    parser.add_argument("--merged", metavar="FOLDER",
                        help="--update-of: also write the nation after the update (a full round's inputs)")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options `dtks run` accepts too; defect rates go through --set generate.defects.<name>=<rate>."""
    parser.add_argument("--households", type=int, help="number of households (default: generate.households)")
    parser.add_argument("--seed", type=int, help="random seed (default: generate.seed)")


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    if getattr(args, "update_of", None):  # a hand-made Namespace (tests) may lack the update options
        return run_update(ctx, args)
    config = ctx.config
    n = args.households if args.households is not None else config.generate.households
    seed = args.seed if args.seed is not None else config.generate.seed
    fmt = args.format or config.landing.format
    if n < 10:
        raise UserError(f"--households: at least 10 households are needed (got {n})")
    out = args.out or config.landing.root
    out = out if "://" in out and not out.startswith("file://") else str(config.path(out))
    rates = config.generate.defects
    ref = regions.load(config)
    regions.check_scope(ref, config.trial.regions)
    population = synthetic.read_population(config.conf_file(POPULATION_FILE))
    parameters = {
        "households": n, "seed": seed, "training_rate": config.generate.training_rate,
        "format": fmt, "files_per_folder": synthetic.output_files(n),
        "defect_rates": rates.model_dump(), "min_interview_minutes": config.thresholds.min_interview_minutes,
        "reference_date": synthetic.REFERENCE_DATE.isoformat(),
        "survey_start": synthetic.SURVEY_START.isoformat(), "survey_days": synthetic.SURVEY_DAYS,
        "region_reference_version": ref.version, "trial_regions": list(config.trial.regions),
    }
    nation = synthetic.build(ctx.spark, ref, population, n, seed, rates, config.thresholds.min_interview_minutes,
                             config.generate.training_rate, config.trial.regions)

    def describe(row_counts: dict[str, int], observed: dict[str, Observation]) -> dict:
        found = observed["truth/defects"].get
        return {
            "generator": "dtks generate",
            "seed": seed,
            "round": 0,
            "parameters": parameters | nation.plan.parameters,
            "row_counts": row_counts,
            "defects": {name: int(found[name]) for name in synthetic.DEFECTS},
            "stats": {"persons": row_counts["registry"], "deaths": int(observed["registry"].get["deaths"])},
        }

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


def _write(df: DataFrame, path: str, fmt: str, files: int, keys: list[str]) -> None:
    """Fixed file count and key order: the bytes depend on the seed and size only."""
    writer = df.repartition(files, *keys).sortWithinPartitions(*keys).write.mode("overwrite").format(fmt)
    if fmt == "csv":  # RFC 4180: a quote inside a value is doubled (Spark's default escapes it with a backslash)
        writer = writer.option("header", True).option("escape", '"')
    writer.save(path)


def _observed(name: str, df: DataFrame) -> tuple[DataFrame, Observation]:
    """`df` with its row count (and for the manifest's stats, defects and deaths) taken as it is written.

    Why: counting from the write itself spares reading every folder back afterwards.
    """
    metrics = [F.count(F.lit(1)).alias("rows")]
    if name == "truth/defects":
        metrics += [F.sum(F.when(F.col("defect") == d, 1).otherwise(0)).alias(d) for d in synthetic.DEFECTS]
    if name == "registry":
        metrics.append(F.count("death_date").alias("deaths"))
    if name == "truth/updates":
        metrics += [F.count_if(F.col("change") == c).alias(c) for c in ("RICHER", "POORER", "NEW", *CHANGES)]
    observation = Observation(f"generate {name}")
    return df.observe(observation, *metrics), observation


def read(spark: SparkSession, path: str, fmt: str) -> DataFrame:
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", True).option("inferSchema", False).option("multiLine", True).option(
            "escape", '"')
    return reader.load(path)


def run_update(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    """The next round's delivery for an existing nation (jobs/synthetic_update.py)."""
    from jobs import questionnaire, synthetic_update

    config, spark = ctx.config, ctx.spark
    if not 0 < args.share <= 0.5:
        raise UserError(f"--share must be in (0, 0.5], got {args.share}")
    base = args.update_of if "://" in args.update_of else str(config.path(args.update_of))
    try:
        previous = json.loads(open(f"{base}/manifest.json").read())
    except OSError as exc:
        raise UserError(f"--update-of {args.update_of}: no manifest.json of a generated nation there") from exc
    if not args.out:
        raise UserError("--update-of needs --out: the folder for the update's delivery")
    fmt = args.format or previous["parameters"].get("format", config.landing.format)
    seed = args.seed if args.seed is not None else previous["seed"]
    round_no = int(previous.get("round", 0)) + 1
    q = questionnaire.load(config)
    frames, keys = synthetic_update.build(spark, base, fmt, q, args.share, seed, round_no, args.registry_form)
    files = previous["parameters"].get("files_per_folder", 2)
    parameters = {"update_of": base, "share": args.share, "registry_form": args.registry_form,
                  "format": fmt, "seed": seed, "files_per_folder": max(1, files // 4)}

    def describe(row_counts: dict[str, int], observed: dict[str, Observation]) -> dict:
        return {"generator": "dtks generate --update-of", "seed": seed, "round": round_no, "parameters": parameters,
                "row_counts": row_counts, "changes": {k: int(v) for k, v in observed["truth/updates"].get.items()
                                                      if k != "rows"}}

    out = str(config.path(args.out)) if "://" not in args.out else args.out
    manifest = write_landing(spark, frames, keys, parameters["files_per_folder"], out, fmt, ctx.run_id, describe)
    if args.merged:
        merged = synthetic_update.apply(spark, base, out, fmt, q)
        merged_keys = {s: ["nik"] if s == "registry" else ["household_id"] + (["member_no"] if "members" in s else [])
                       for s in merged}
        full = {"generator": "dtks generate --update-of --merged", "seed": seed, "round": round_no,
                "parameters": previous["parameters"] | {"merged_from": [base, out]}}
        write_landing(spark, merged, merged_keys, files, str(config.path(args.merged)), fmt, ctx.run_id,
                      lambda counts, _: full | {"row_counts": counts})
    counts = manifest["row_counts"]
    changes = manifest["changes"]
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


def write_landing(spark: SparkSession, frames: dict[str, DataFrame], keys: dict[str, list[str]], n_files: int,
                  out: str, fmt: str, run_id: str,
                  describe: Callable[[dict[str, int], dict[str, Observation]], dict]) -> dict:
    """Write every folder and manifest.json (`describe` makes it from the row counts and the writes'
    Observations) into a temp sibling, then swap it in place of `out`."""
    jvm = spark.sparkContext._jvm
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()
    target = jvm.org.apache.hadoop.fs.Path(out)
    fs = target.getFileSystem(hadoop_conf)
    tag = run_id.replace(":", "")
    tmp = jvm.org.apache.hadoop.fs.Path(f"{out.rstrip('/')}.tmp-{tag}")
    old = jvm.org.apache.hadoop.fs.Path(f"{out.rstrip('/')}.old-{tag}")
    try:
        observed = {}
        for name, df in frames.items():
            df, observed[name] = _observed(name, df)
            _write(df, f"{tmp.toString()}/{name}", fmt, n_files, keys[name])
        row_counts = {name: int(observation.get["rows"]) for name, observation in observed.items()}
        manifest = describe(row_counts, observed)
        stream = fs.create(jvm.org.apache.hadoop.fs.Path(tmp, "manifest.json"), True)
        try:
            stream.write(bytearray(json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"))
        finally:
            stream.close()
        if fs.exists(target):
            fs.rename(target, old)
        if not fs.rename(tmp, target):
            raise UserError(f"{out}: could not move the new landing zone into place (left in {tmp.toString()})")
        fs.delete(old, True)
    except BaseException:
        fs.delete(tmp, True)
        if fs.exists(old) and not fs.exists(target):
            fs.rename(old, target)
        raise
    return manifest


if __name__ == "__main__":
    sys.exit(main_for("generate"))
