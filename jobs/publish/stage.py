"""Stage `publish`: national ranking, deciles, coverage, programme eligibility; gates, then gold tables.

Write-audit-publish: the ranked households are computed once into the staging area (Parquet, removed
when the stage ends), the gates run on small aggregates of them and of their members, and only when
every gate passes is dtks_households replaced (one commit: it carries the national rank, which a 1 %
change moves for most households), dtks_members MERGEd with only the members that entered, changed or
left (it carries no rank, so an update round rewrites only those), program_eligibility MERGEd with
its change set (who entered, who left, what changed), so its change feed holds exactly that. A row
keeps the run id of the run that last changed it, so a re-run on unchanged inputs leaves every table
identical and the change feed empty. The `publications` row appended last (with the coverage target
and the population P) is the switch that makes these versions the published set (jobs/publish/gold.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Callable

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from jobs.core.population import population
from jobs.policy import eligibility, reasons
from jobs.publish import gates, gold, queue
from runtime import faults, questionnaire, tables
from runtime.config import DtksConfig
from runtime.errors import UserError
from runtime.runs import StageResult
from runtime.stage import StageContext, config_flag, main_for

NAME = "publish"
HELP = "rank households nationally into deciles, apply coverage and programme rules, publish gold tables"
log = logging.getLogger(__name__)
# Steps timed apart in pipeline_runs (scripts/bench_update.py reports what they add to a round).
QUEUE_STEP = "queue"  # step keys: pipeline_runs details `steps`, read by benchmarks and tests
REASONS_STEP = "reasons"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_flag(parser, "--coverage", "ranking.coverage_target", "coverage target, e.g. 0.4")
    parser.add_argument("--as-of", type=dt.date.fromisoformat,
                        help="date the verification queue's deadlines are judged on (default: today, UTC)")


def check_config(config: DtksConfig) -> None:
    """The settings this stage's rules check against their own vocabularies, before any work (`dtks run` checks
    those of each of its stages before the first starts)."""
    queue.settings(config)


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    # MLflow is imported when it runs: every `dtks` command imports this module.
    from runtime.tracking import setup_mlflow

    check_config(ctx.config)  # before Spark starts
    spark, config = ctx.spark, ctx.config
    for needed, stage in ((tables.HOUSEHOLDS, "ingest"), (tables.SCORES, "score")):
        if not tables.exists(spark, config, needed):
            raise UserError(f"{config.table_path(needed)} not found: run `dtks {stage}` first")
    coverage = config.ranking.coverage_target
    setup_mlflow(config)
    rules = eligibility.load(config)
    households = tables.read(spark, config, tables.HOUSEHOLDS)
    scores = tables.read(spark, config, tables.SCORES)
    members = tables.read(spark, config, tables.MEMBERS)
    ctx.step("population", "counting the population P")
    pop = population(spark, config)
    features = list(questionnaire.load_file(config).model.features)
    previous = tables.latest_publication(spark, config)  # read once: every published read is pinned to it
    pinned = tables.pinned_by(previous)
    try:
        # The ranked households are computed once into the staging area: the gates read small aggregates
        # of them, and both gold writes read them (the members' write joins them) after every gate passed.
        with tables.staging(spark, config, ctx.run_id) as area:
            ctx.step("ranking", "ranking every household nationally into deciles (desil)")
            gold_hh = area.put(
                tables.DTKS_HOUSEHOLDS,
                gold.with_run(
                    gold.build_households(households, scores, features, pop, coverage),
                    gold.previous_households(spark, config, features, pinned),
                    ["household_id"],
                    ctx.run_id,
                    carry=gold.CARRIED,
                ),
            )
            spark.catalog.clearCache()  # the ranking's own intermediate rows
            as_of = getattr(args, "as_of", None) or dt.datetime.now(dt.UTC).date()
            return _write(ctx, households, members, gold_hh, rules, pop, as_of, area.put, previous, pinned)
    finally:
        spark.catalog.clearCache()


def _write(ctx: StageContext, households: DataFrame, members: DataFrame, gold_hh: DataFrame,
           rules: eligibility.Programs, pop: int, as_of: dt.date,
           put: Callable[[str, DataFrame], DataFrame], previous: Row | None,
           pinned: dict[str, int]) -> StageResult:
    """Audit, then write the three gold tables, the verification queue, the reasons for every entry and exit,
    and the publication row that makes them published (with the cut-off score; each household's distance to
    it is in dtks_households, its score's contributions in household_scores)."""
    spark, config, coverage = ctx.spark, ctx.config, ctx.config.ranking.coverage_target
    before = gold.published(spark, config, tables.DTKS_HOUSEHOLDS, pinned)
    programs = eligibility.conditions(rules)
    ctx.step("gates", "checking the gates before publishing")
    checked = gates.audit(spark, config, households, members, gold_hh, programs)
    elig = gold.eligibility_rows(gold_hh, rules, ctx.run_id, dt.datetime.now(dt.UTC).date())
    ctx.step("gold", "writing dtks_households, dtks_members and program_eligibility")
    cutoff = checked.stats.cutoff_score
    was_cutoff = previous.asDict().get("cutoff_score") if previous is not None else None
    tables.overwrite(gold.with_score_distance(gold_hh, cutoff, was_cutoff, ctx.run_id), config,
                     tables.DTKS_HOUSEHOLDS)
    gold.write_members(spark, config, members, gold_hh, ctx.run_id, put)
    faults.failpoint("publish.between_gold_tables")
    elig_version = tables.version(spark, config, tables.PROGRAM_ELIGIBILITY)
    changes = gold.write_eligibility(spark, config, elig, put, pinned)
    ctx.step(QUEUE_STEP,
             "rebuilding the verification queue (appeals, cut-off band, stale, curbstoning, registry events)")
    found = queue.read_inputs(spark, config, gold_hh, programs, changes, before, as_of, put, pinned)
    waiting = queue.write(spark, config, found, as_of, pop, ctx.run_id, put)
    ctx.step(REASONS_STEP, "writing why each household entered or left (eligibility_reasons)")
    _write_reasons(ctx, elig, changes, gold_hh, previous, rules, elig_version, queue.resolved_appeals(waiting))
    gold.record_publication(spark, config, ctx.run_id, coverage, pop, checked.models_used,
                            eligibility.fingerprints(rules), cutoff)

    stats = checked.stats
    covered = stats.covered or 0
    summary = [
        f"publish: {stats.households:,} households ranked ({stats.persons:,} persons; national population P = {pop:,})",
        f"  within coverage: {covered:,} persons = {covered / pop:.1%} of P (target {coverage:.0%})",
        "  persons by decile: " + ", ".join(f"{d}: {stats[f'd{d}']:,}" for d in range(1, 11)),
        "  eligible households: " + ", ".join(f"{p} {stats[f'p_{p}']:,}" for p in sorted(programs)),
    ]
    return StageResult(
        rows_in=checked.surveyed.n,
        rows_out=stats.households,
        model_version=",".join(v for _, v in checked.models_used),
        details={
            "population": str(pop),
            "coverage_target": str(coverage),
            "persons_covered": str(covered),
            **{f"gate.{g.name}": g.detail for g in checked.results},
        },
        summary=summary,
    )


def _write_reasons(ctx: StageContext, elig: DataFrame, changes: DataFrame | None, gold_hh: DataFrame,
                   previous: Row | None, rules: eligibility.Programs, elig_version: int | None,
                   appealed: DataFrame) -> None:
    """Append this publish's entries and exits with their reasons, tagged with the program_eligibility
    version that holds them (none when that MERGE committed nothing: nobody entered or left)."""
    spark, config = ctx.spark, ctx.config
    commit = tables.last_commit(spark, config, tables.PROGRAM_ELIGIBILITY)
    now = commit.version
    if now == elig_version:
        return
    changed = reasons.rows_changed(commit.metrics)
    found = reasons.of_publish(elig, changes, gold_hh, previous, eligibility.fingerprints(rules),
                               config.ranking.coverage_target, appealed, few=changed <= reasons.FEW_ROWS)
    rows = found.withColumn("run_id", F.lit(ctx.run_id)).withColumn("eligibility_version", F.lit(now))
    tables.append(rows, config, tables.ELIGIBILITY_REASONS, rows=changed)


if __name__ == "__main__":
    sys.exit(main_for(sys.modules[__name__]))
