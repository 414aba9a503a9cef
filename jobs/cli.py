"""The `dtks` command: one sub-command per pipeline stage, `run` for all of them, operator tools."""

from __future__ import annotations

import argparse
import sys
import time

from jobs.model_commands import add_model_commands, run_model_command
from jobs.stages import OPERATOR, PIPELINE, PIPELINE_NAMES, STAGES
from runtime import lock
from runtime.console import say
from runtime.stage import StageContext, add_common_arguments, console_run, execute, guarded, stage_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dtks",
        description="DTKS register update pipeline. Stages run in order: "
        + " -> ".join(PIPELINE_NAMES)
        + "; `dtks run` runs them all on one run id.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage in PIPELINE:
        p = sub.add_parser(stage.NAME, help=stage.HELP, description=stage.HELP)
        add_common_arguments(p)
        stage.add_arguments(p)
    p = sub.add_parser("run", help="run every stage end to end (" + ", ".join(PIPELINE_NAMES) + "); generate only "
                       "where the landing zone is absent, empty or generated (a delivery there is never replaced: "
                       "the run starts at ingest) and never where generate.in_default_run is false (--env cluster)")
    add_common_arguments(p)
    p.add_argument(
        "--stages",
        type=_stage_list,
        help="only these stages, in pipeline order (comma-separated), e.g. ingest,train,score,publish "
        "when the landing files are delivered rather than generated",
    )
    for stage in PIPELINE:  # each stage's own options are accepted by `run` too, where they do not clash
        if hasattr(stage, "add_run_arguments"):
            stage.add_run_arguments(p)
    for stage in OPERATOR:  # operator stages: `dtks maintain`, `dtks rotate-key`
        p = sub.add_parser(stage.NAME.replace("_", "-"), help=stage.HELP, description=stage.HELP)
        add_common_arguments(p)
        stage.add_arguments(p)
    sub.add_parser("jars", help="print the JAR paths (Delta, the NIK token function, Splink's similarity "
                       "functions) for spark-submit --jars")
    p = sub.add_parser("status", help="last run of each stage, latest publication, champion model, lock holder")
    add_common_arguments(p)
    p.add_argument("--json", action="store_true", help="as JSON, for scripts")
    p = sub.add_parser("diff", help="who entered and who left each programme, per province, between table versions")
    add_common_arguments(p)
    p.add_argument(
        "--from-version", type=int, help="first program_eligibility version to include (default: latest published)"
    )
    p.add_argument("--to-version", type=int, help="last version to include (default: latest published)")
    p = sub.add_parser("explain", help="why a household ranks where it does: its score by feature group, its "
                       "distance to the coverage cut-off, its programmes")
    add_common_arguments(p)
    p.add_argument("household_id", help="the household's id, as in dtks_households")
    p.add_argument("--json", action="store_true", help="as JSON, for scripts")
    p = sub.add_parser("export", help="one province's or regency's slice of the published tables, for its office")
    add_common_arguments(p)
    p.add_argument("region", help="province (2 digits) or regency (4 digits) code, e.g. 31 or 32.01")
    p.add_argument("--out", required=True, help="new local folder to write (never overwritten)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    p.add_argument("--linkage-review", action="store_true", help="instead: the region's linkage pairs awaiting a "
                   "decision, with both records' names and birth data (restricted: for the office's review only)")
    add_model_commands(sub)
    return parser


def region_export(ctx: StageContext, args: argparse.Namespace) -> None:
    from jobs.lookup.export import export_region

    manifest = export_region(ctx.spark, ctx.config, args.region, args.out, args.format, args.linkage_review)
    counts = manifest["row_counts"]
    source = (f"publication {manifest['publication_id']}" if "publication_id" in manifest else
              f"linkage_review version {manifest['linkage_review_version']}")
    say(f"exported {manifest['region_code']} {manifest['region_name']} ({source}) "
        f"to {args.out}: " + ", ".join(f"{name} {n:,} rows" for name, n in counts.items()))


def household_explanation(ctx: StageContext, args: argparse.Namespace) -> None:
    import json

    from jobs.lookup import explain

    found = explain.lookup(ctx.config, args.household_id, lambda: ctx.spark)  # Spark only if not local
    say(json.dumps(found, indent=2, default=str) if args.json else "\n".join(explain.describe(found)))


def eligibility_diff(ctx: StageContext, args: argparse.Namespace) -> None:
    from jobs.lookup import diff

    diff.show(ctx, args.from_version, args.to_version)


def lakehouse_status(ctx: StageContext, args: argparse.Namespace) -> None:
    from jobs.lookup import status

    status.show(ctx, args.json)


# The read-only commands: each reads the lakehouse through `ctx` and prints with `say` (tests call them in
# process on their own session).
COMMANDS = {"status": lakehouse_status, "diff": eligibility_diff, "explain": household_explanation,
            "export": region_export}


def _stage_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = PIPELINE_NAMES
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {', '.join(unknown) or '(none given)'}; "
                                         f"stages are {', '.join(known)}")
    return [n for n in known if n in names]  # pipeline order, whatever order they were given in


def run_stages(ctx: StageContext, chosen: list[str] | None) -> list[str]:
    """The stages `dtks run` runs: those chosen (--stages), else the whole pipeline, but never generate over a
    delivery: a plain run skips it (and the cluster environment's by config), `--stages generate` stops."""
    from jobs.core.deliveries import check_replaceable, foreign
    from runtime.locations import is_local

    config = ctx.config
    landing = config.location(config.landing.root)
    spark = None if is_local(landing) else ctx.spark
    if chosen:
        if "generate" in chosen:
            check_replaceable(landing, spark, "the landing zone")
        return chosen
    if not config.generate.in_default_run:
        return [n for n in PIPELINE_NAMES if n != "generate"]
    if found := foreign(landing, spark):
        say(f"landing zone {landing} holds a delivery ({found}): generate skipped, the pipeline runs on it")
        return [n for n in PIPELINE_NAMES if n != "generate"]
    return list(PIPELINE_NAMES)


def run_all(ctx: StageContext, args: argparse.Namespace) -> None:
    stages = run_stages(ctx, args.stages)
    for name in stages:  # settings a stage's rules check themselves (e.g. the queue's reasons): before any stage
        if hasattr(STAGES[name], "check_config"):
            STAGES[name].check_config(ctx.config)
    say(f"stages: {' -> '.join(stages)}")
    if ctx.config.is_trial:
        from jobs.core import regions

        names = regions.load(ctx.config).names()
        say(f"verval trial of {', '.join(map(names.label, ctx.config.trial.regions))}: "
            f"landing {ctx.config.landing.root}, "
            f"model {ctx.config.mlflow.model_name}; ranking is within these regions only")
    t0 = time.perf_counter()
    summary: list[str] = []
    with lock.hold(ctx.config, ctx.run_id, "run"):  # one lock for the whole run: no other run interleaves
        for name in stages:
            values = {k: v for k, v in vars(args).items() if v is not None and k != "stages"}
            stage_args = stage_arguments(STAGES[name], **values)
            result = execute(ctx, STAGES[name], stage_args)
            summary.extend(result.summary)
    say(f"done in {time.perf_counter() - t0:.1f} s")
    for line in summary:
        say(line)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "jars":
        from runtime.spark import delta_jars

        return guarded(lambda: print(",".join(delta_jars())))
    if args.command == "model":
        return run_model_command(args)
    if args.command in COMMANDS:
        return console_run(args, args.command, lambda ctx: COMMANDS[args.command](ctx, args), command=True)
    if args.command == "run":
        return console_run(args, "run", lambda ctx: run_all(ctx, args))
    stage = args.command.replace("-", "_")  # `rotate-key` is the stage rotate_key
    return console_run(args, args.command, lambda ctx: execute(ctx, STAGES[stage], args))


if __name__ == "__main__":
    sys.exit(main())
