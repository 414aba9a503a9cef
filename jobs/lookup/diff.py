"""`dtks diff`: who entered and who left each programme, per province, between program_eligibility versions
(default: the latest published), and for which reasons (eligibility_reasons).

The counting is the policy's (jobs/policy/eligibility.py `changes`, jobs/policy/reasons.py `counts`), the same
rules publish writes by. A local lakehouse is read without Spark (runtime/delta_reads.py), elsewhere through
Spark; only a publish that completed is shown.
"""

from __future__ import annotations

from jobs.core import regions
from jobs.policy import eligibility, reasons
from runtime import delta_reads, tables
from runtime.console import say
from runtime.errors import UserError
from runtime.stage import StageContext


def show(ctx: StageContext, from_version: int | None, to_version: int | None) -> None:
    """Print the entries and exits per programme and province, then per reason."""
    config = ctx.config
    local = delta_reads.local(config)
    # Up to the latest complete publish: a publish interrupted half-way is not shown.
    if local:
        versions = dict((delta_reads.latest_publication(config) or {}).get("versions") or {})
    else:
        versions = tables.published_versions(ctx.spark, config) or {}
    latest = versions.get(tables.PROGRAM_ELIGIBILITY)
    if latest is None:
        raise UserError(f"{config.table_path(tables.PROGRAM_ELIGIBILITY)} not found: run `dtks publish` first")
    start = from_version if from_version is not None else latest
    end = to_version if to_version is not None else latest
    if local:
        rows = eligibility.changes_arrow(delta_reads.change_feed(config, tables.PROGRAM_ELIGIBILITY, start, end,
                                                                 list(eligibility.CHANGE_COLUMNS)))
    else:
        feed = (ctx.spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", start)
                .option("endingVersion", end).load(config.table_path(tables.PROGRAM_ELIGIBILITY)))
        rows = [r.asDict() for r in eligibility.changes(feed).orderBy("program", "province_code").collect()]
    names = regions.names_for(config, {r["province_code"] for r in rows})
    say(f"program_eligibility versions {start}..{end}: {len(rows)} programme/province pairs changed")
    say(f"{'program':<10} {'province':<34} {'entered':>9} {'left':>9}")
    for r in rows:
        say(f"{r['program']:<10} {names.label(r['province_code']):<34.34} {r['entered']:>9,} {r['left']:>9,}")
    between = f"eligibility_version BETWEEN {int(start)} AND {int(end)}"
    if local:
        if not delta_reads.exists(config, tables.ELIGIBILITY_REASONS):
            return
        by = reasons.counts_arrow(delta_reads.arrow(
            config, tables.ELIGIBILITY_REASONS, f"SELECT program, change, reasons FROM t WHERE {between}",
            versions.get(tables.ELIGIBILITY_REASONS)))
    else:
        if not tables.exists(ctx.spark, config, tables.ELIGIBILITY_REASONS):
            return
        found = tables.read_published(ctx.spark, config, tables.ELIGIBILITY_REASONS).where(between)
        by = {(r.program, r.reason, r.change): r["count"] for r in reasons.counts(found).collect()}  # a few dozen
    say("by reason (a household with several reasons is counted under each):")
    say(f"{'program':<10} {'reason':<58} {'entered':>9} {'left':>9}")
    for program, reason in sorted({(p, r) for p, r, _ in by}):
        say(f"{program:<10} {reasons.REASONS[reason]:<58.58} {by.get((program, reason, reasons.ENTERED), 0):>9,} "
            f"{by.get((program, reason, reasons.LEFT), 0):>9,}")
