"""Stage `ingest`: validate every input row, match members to the registry, quarantine with reasons.

read (all sources, contract checked before any write) -> check -> reconcile -> transform (pure) -> store
the inputs -> re-match and store the matches (jobs/ingest/: checking, batch, silver, rematch).
Each source is validated and tokenised once, in one pass that also counts it (rows read, accepted,
quarantined: `Observation`s on that pass) and stores its rows in the run's staging area (Parquet,
deleted at the end) for the writes that follow; the run stops before writing any table if a count
does not balance. Then: identity_vault and quarantine (insert-only); silver_registry (its change set
only: the whole registry diffed by content hash, or registry events); silver_survey (only new or newer
interviews; each roster nested so one row carries it); the match into silver_households and
silver_members; silver_training when the sample is delivered.

The first round matches the whole survey. Later rounds (pemutakhiran) re-match only the rosters an
update can change: re-surveyed and new households, and every household listing a NIK that such a
roster lists or listed, or whose registry record changed; the duplicate rule still ranks every
listing of those NIKs nationally. What comes out equals a first round on the updated inputs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from pyspark.sql import functions as F

from jobs.core import contract, nik, pseudonym, questionnaire, regions
from jobs.ingest import landing, silver
from jobs.ingest.batch import transform
from jobs.ingest.checking import check, reconcile, restrict
from runtime import tables
from runtime.config import nik_key_source
from runtime.runs import StageResult
from runtime.stage import StageContext, config_flag, main_for

NAME = "ingest"
HELP = "validate landing files, match members to the registry by NIK, write silver tables and quarantine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_flag(parser, "--landing", "landing.root", "landing folder")
    config_flag(parser, "--format", "landing.format", "input format")
    add_run_arguments(parser)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options `dtks run` accepts too (its landing folder is landing.root: --set landing.root=PATH)."""
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, help="date NIK birth dates are checked against (default: today, UTC)"
    )


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    key = nik_key_source(ctx.config)  # a missing key stops the run before Spark starts
    config, spark = ctx.config, ctx.spark
    nik.register(spark, key)
    fingerprint = pseudonym.fingerprint(spark)
    pseudonym.check_key(spark, config, fingerprint)  # tokens of two keys never meet in one lakehouse
    questions = questionnaire.load(config)
    ref = regions.load(config)
    landing_root, fmt = config.location(config.landing.root), config.landing.format
    as_of = args.as_of or dt.datetime.now(dt.UTC).date()
    ctx.step("read", f"reading the landing zone {landing_root}")
    with landing.reading(spark, landing_root):  # a landing file Spark cannot read: one line naming it
        sources = landing.delivered(spark, landing_root)
        raw = {s: landing.read_source(spark, landing_root, s, fmt, questions) for s in sources}
        out_of_scope: dict[str, int] = {}
        if config.is_trial:
            regions.check_scope(ref, config.trial.regions)
            raw, out_of_scope = restrict(raw, config.trial.regions)
        villages = F.broadcast(regions.villages_df(spark, regions.reference_dir(config)))
        with tables.staging(spark, config, ctx.run_id) as area:
            ctx.step("check", "checking every row against the contract and the questionnaire")
            reviewed = silver.reviewed(spark, config) if contract.LINKAGE_DECISIONS in raw else None
            checked = check(raw, questions, ref, villages, as_of, area.put, reviewed=reviewed)
            counts = reconcile(checked)
            for source, n in out_of_scope.items():
                counts[source]["out_of_scope"] = n
            batch = transform(checked, ctx.run_id)
            accepted = {s: c["accepted"] for s, c in counts.items()}
            ctx.step("store", "writing the registry, survey, vault and quarantine")
            stored = silver.store_inputs(spark, config, batch, accepted, area.put)
            ctx.step("match", "matching survey members to the registry (padan)")
            matched = silver.rematch_and_store(spark, config, batch, stored, accepted, area.put, ctx.run_id)
    if pseudonym.key_state(spark, config)[0] is None:  # the first round (or one made before keys were named)
        pseudonym.set_key_state(spark, config, fingerprint, None)
    details = {f"{s}.{k}": str(v) for s, c in counts.items() for k, v in c.items()}
    rows_in = sum(c["read"] for c in counts.values())
    rows_out = sum(c["accepted"] for c in counts.values())
    quarantined = sum(c["quarantined"] for c in counts.values())
    how = "households re-matched (update round)" if stored.update else "current survey households matched"
    summary = [f"ingest: {rows_in:,} rows read, {rows_out:,} accepted, {quarantined:,} quarantined; "
               f"{matched.households:,} {how}"]
    if matched.links is not None:
        details |= {"linkage.version": str(matched.linkage_version or "-"), "linkage.links": str(matched.links),
                    "linkage.review": str(matched.review)}
        summary.append(
            f"linkage (model {config.linkage.model_name} version {matched.linkage_version}): {matched.links:,} "
            f"members without a usable NIK linked, {matched.review:,} pairs to review"
            if matched.linkage_version else "linkage: no member without a usable NIK, or no registry person left "
            "to compare with")
    return StageResult(rows_in=rows_in, rows_out=rows_out, details=details, summary=summary)


if __name__ == "__main__":
    sys.exit(main_for(sys.modules[__name__]))
