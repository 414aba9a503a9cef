"""Stage `ingest`: validate every input row, match members to the registry, quarantine with reasons.

read (all sources, contract checked before any write) -> check -> reconcile -> transform (pure) -> write.
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
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs import households as hh_features
from jobs import landing, matching, nik, pseudonym, questionnaire, regions, validation
from jobs.runtime import tables
from jobs.runtime.config import DtksConfig, nik_key_source
from jobs.runtime.errors import UserError
from jobs.runtime.runs import StageResult
from jobs.runtime.stage import StageContext, main_for

NAME = "ingest"
HELP = "validate landing files, match members to the registry by NIK, write silver tables and quarantine"
log = logging.getLogger(__name__)
RECORD_KEY = "_record_key"

REGISTRY_COLUMNS = (
    "nik_token",
    "kk_token",
    "birth_date",
    "sex",
    "village_code",
    "province_code",
    "relationship",
    "death_date",
    "updated_at",
)
DELETE = "_delete"  # flags the rows of a change set that leave the table

MEMBER_FIELDS = (
    "member_no",
    "nik_token",
    "nik_problem",
    "birth_date",
    "sex",
    "relationship",
    "education",
    "employment",
    "disability",
    "chronic_illness",
    "pregnant",
    "in_school",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--landing", help="landing folder (default: config landing.root)")
    parser.add_argument("--format", choices=("parquet", "csv"), help="input format (default: config landing.format)")
    add_run_arguments(parser)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options `dtks run` accepts too (its landing folder is landing.root: --set landing.root=PATH)."""
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, help="date NIK birth dates are checked against (default: today, UTC)"
    )


@dataclass
class Checked:
    """Each source's rows with their verdicts, stored once, and the counts taken on the pass that made them."""

    rows: dict[str, DataFrame]
    read: dict[str, Observation]
    verdicts: dict[str, Observation]


@dataclass
class Batch:
    """What goes where, derived from the checked rows."""

    quarantine: DataFrame
    registry: DataFrame  # the whole registry, or its events (`change`, `previous_token`)
    registry_events: bool
    vault: DataFrame
    survey: DataFrame
    training_members: DataFrame | None  # None: no training sample delivered (silver_training kept)
    training_households: DataFrame | None


def _member_key(raw: DataFrame) -> Column:
    both = F.col("household_id").isNotNull() & F.col("member_no").isNotNull()
    return F.coalesce(
        F.when(both, F.concat_ws(":", F.col("household_id"), F.col("member_no").cast("string"))),
        pseudonym.row_token(raw),
    )


def _finish(checked: DataFrame, record_key: Column) -> tuple[DataFrame, Observation]:
    """Tokens once, a record key for rejected rows only, personal columns other than the NIK dropped;
    counted by an Observation on the same pass."""
    out = checked.withColumn(RECORD_KEY, F.when(F.col(validation.REASON).isNotNull(), record_key))
    if "nik_problem" in out.columns:
        out = out.withColumn("nik_token", F.when(F.col("nik_problem").isNull(), nik.token(F.col("nik"))))
    if "kk_number" in out.columns:
        out = out.withColumn("kk_token", pseudonym.kk_token())
    personal = ("full_name", "previous_nik", landing.BAD_COLUMNS)  # NIK and KK number: for the vault, then dropped
    out = out.drop(*[c for c in personal if c in out.columns])
    verdict = Observation()
    out = out.observe(
        verdict,
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col(validation.REASON).isNull()).alias("accepted"),
        F.count_if(F.col(validation.REASON).isNotNull()).alias("quarantined"),
    )
    return out, verdict


def check(
    raw: dict[str, DataFrame],
    q: questionnaire.Questionnaire,
    ref: regions.RegionReference,
    villages: DataFrame,
    as_of: dt.date,
    put: Callable[[str, DataFrame], DataFrame],
) -> Checked:
    """Validate and tokenise every source in one pass each; `put` stores a pass's rows and returns them.

    Households are stored before members, so members are checked against the stored household verdicts
    rather than a second validation of the households. Every input row ends accepted or quarantined.
    """
    provinces = sorted(ref.provinces["province_code"])
    reads = {s: Observation() for s in raw}
    counted = {s: df.observe(reads[s], F.count(F.lit(1)).alias("rows")) for s, df in raw.items()}
    rows, verdicts = {}, {}

    def finish(source: str, df: DataFrame, record_key: Column) -> DataFrame:
        out, verdicts[source] = _finish(df, record_key)
        rows[source] = put(source, out)
        return rows[source]

    source = landing.REGISTRY_CHANGES if landing.REGISTRY_CHANGES in raw else landing.REGISTRY
    registry_key = F.coalesce(
        F.when(F.col(validation.REASON) != validation.INVALID_NIK, nik.token(F.col("nik"))),
        pseudonym.row_token(raw[source]),
    )
    events = source == landing.REGISTRY_CHANGES
    checked_registry = validation.registry(counted[source], provinces, villages, as_of, changes=events)
    if events:  # the token a NIK correction replaces; the raw previous NIK goes no further
        correction = (F.col("change") == landing.NIK_CORRECTION) & F.col(validation.REASON).isNull()
        checked_registry = checked_registry.withColumn(
            "previous_token", F.when(correction, nik.token(F.col("previous_nik")))
        )
    finish(source, checked_registry, registry_key)
    pairs = [(landing.SURVEY_HOUSEHOLDS, landing.SURVEY_MEMBERS)]
    if landing.TRAINING_HOUSEHOLDS in raw:
        pairs.append((landing.TRAINING_HOUSEHOLDS, landing.TRAINING_MEMBERS))
    for hh_source, member_source in pairs:
        checked_hh = validation.households(counted[hh_source], q, villages)
        if hh_source == landing.TRAINING_HOUSEHOLDS:
            checked_hh = _training_rules(checked_hh)
        hh_key = F.coalesce(F.col("household_id"), pseudonym.row_token(raw[hh_source]))
        stored = finish(hh_source, checked_hh, hh_key)
        checked_members = validation.members(counted[member_source], q, stored, provinces, as_of)
        finish(member_source, checked_members, _member_key(raw[member_source]))
    return Checked(rows, reads, verdicts)


def transform(checked: Checked, run_id: str) -> Batch:
    """Pure: the checked rows in, each table's rows out."""
    accepted = {s: df.where(F.col(validation.REASON).isNull()) for s, df in checked.rows.items()}
    quarantine = reduce(
        DataFrame.unionByName,
        [
            df.where(F.col(validation.REASON).isNotNull()).select(
                F.lit(source).alias("source"),
                F.col(RECORD_KEY).alias("record_key"),
                F.col(validation.REASON).alias("reason_code"),
                F.col(validation.DETAIL).alias("detail"),
                F.lit(run_id).alias("run_id"),
            )
            for source, df in checked.rows.items()
        ],
    )
    events = landing.REGISTRY_CHANGES in accepted
    source = landing.REGISTRY_CHANGES if events else landing.REGISTRY
    registry = accepted[source].withColumn("province_code", regions.province_code(F.col("village_code")))
    registry = registry.select(*REGISTRY_COLUMNS, tables.row_hash(REGISTRY_COLUMNS).alias(tables.ROW_HASH),
                               *(["change", "previous_token"] if events else []))
    # token -> identifier for NIKs and KK numbers alike (both 16 digits: one value, one token), so that
    # `dtks rotate-key` can compute every token again under a new key.
    vault = reduce(
        DataFrame.unionByName,
        [
            accepted[s].where(F.col("nik_token").isNotNull()).select("nik_token", "nik")
            for s in (source, landing.SURVEY_MEMBERS, landing.TRAINING_MEMBERS)
            if s in accepted
        ] + [
            accepted[s].where(F.col("kk_token").isNotNull()).select(F.col("kk_token").alias("nik_token"),
                                                                    F.col("kk_number").alias("nik"))
            for s in (source, landing.SURVEY_HOUSEHOLDS, landing.TRAINING_HOUSEHOLDS)
            if s in accepted
        ],
    ).dropDuplicates(["nik_token"])
    survey = _nest(accepted[landing.SURVEY_HOUSEHOLDS], accepted[landing.SURVEY_MEMBERS], run_id)
    training = landing.TRAINING_HOUSEHOLDS in accepted
    return Batch(
        quarantine,
        registry,
        events,
        vault,
        survey,
        accepted[landing.TRAINING_MEMBERS].drop("nik", validation.REASON, validation.DETAIL, RECORD_KEY)
        if training else None,
        accepted[landing.TRAINING_HOUSEHOLDS].drop(validation.REASON, validation.DETAIL, RECORD_KEY, "kk_token",
                                                   "kk_number")
        if training else None,
    )


def _training_rules(df: DataFrame) -> DataFrame:
    """Training households also need a positive consumption and weight."""
    for col in ("consumption_per_capita", "weight"):
        bad = F.col(validation.REASON).isNull() & (F.col(col).isNull() | (F.col(col) <= 0))
        df = df.withColumn(
            validation.DETAIL, F.when(bad, F.lit(f"{col} must be positive")).otherwise(F.col(validation.DETAIL))
        )
        df = df.withColumn(
            validation.REASON, F.when(bad, F.lit(validation.OUT_OF_RANGE)).otherwise(F.col(validation.REASON))
        )
    return df


def _nest(hh: DataFrame, mem: DataFrame, run_id: str) -> DataFrame:
    """One row per household with its roster as an array, so one row replaces the whole roster."""
    roster = mem.groupBy("household_id").agg(F.sort_array(F.collect_list(F.struct(*MEMBER_FIELDS))).alias("members"))
    base = hh.drop(validation.REASON, validation.DETAIL, RECORD_KEY, "kk_number")
    return (
        base.join(roster, "household_id", "left")
        .withColumn("members", F.coalesce(F.col("members"), F.array().cast(roster.schema["members"].dataType)))
        .withColumn("province_code", regions.province_code(F.col("village_code")))
        .withColumn("ingest_run_id", F.lit(run_id))
    )


def current_members(survey: DataFrame) -> DataFrame:
    """Flatten the current rosters (one row per listed member) with their household's interview."""
    return survey.select(
        "household_id",
        "interview_start",
        F.to_date("interview_start").alias("interview_date"),
        "village_code",
        F.explode("members").alias("m"),
    ).select("household_id", "interview_start", "interview_date", "village_code", "m.*")


def _outputs(rosters: DataFrame, matched: DataFrame) -> tuple[DataFrame, DataFrame]:
    """silver_households and silver_members rows of the matched rosters, each with its content hash."""
    households = hh_features.features(rosters.drop("members"), matched)
    households = households.withColumn(
        tables.ROW_HASH, tables.row_hash([c for c in households.columns if c != "ingest_run_id"])
    )
    members = matched.select(
        "household_id",
        "member_no",
        "nik_token",
        "match_status",
        "match_detail",
        "sex",
        "birth_date",
        hh_features.age_years("birth_date", "interview_date").alias("age"),
        "relationship",
        "education",
        "employment",
        "disability",
        "chronic_illness",
        "pregnant",
        "in_school",
        "interview_start",
        "interview_date",
        regions.province_code(F.col("village_code")),
        regions.regency_code(F.col("village_code")),
    )
    return households, members.withColumn(tables.ROW_HASH, tables.row_hash(members.columns))


def _match_registry(registry: DataFrame) -> DataFrame:
    return registry.select("nik_token", "birth_date", "sex", "death_date")


def rematch(
    survey: DataFrame, registry: DataFrame, put: Callable[[str, DataFrame], DataFrame]
) -> tuple[DataFrame, DataFrame]:
    """National match of every current roster: (households with features, members with status),
    both made from one stored match (`put`), so the two writes match once."""
    matched = put("matched", matching.match(current_members(survey), _match_registry(registry)))
    return _outputs(survey, matched)


def _listings(members: DataFrame) -> DataFrame:
    return members.where(F.col("nik_token").isNotNull()).select(
        "household_id", "member_no", "nik_token", "interview_start"
    )


def rematch_changed(
    fresh: DataFrame,
    survey: DataFrame,
    stored_members: DataFrame,
    registry: DataFrame,
    changed_tokens: DataFrame,
    put: Callable[[str, DataFrame], DataFrame],
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Re-match only the rosters this delivery can change: (households, members, members to delete).

    fresh: the survey rows this delivery added or replaced; survey: silver_survey with them;
    stored_members: silver_members before this delivery; changed_tokens: registry persons changed.
    A roster can change when it is fresh, or lists a NIK that a fresh roster lists or listed (the
    duplicate rule may move), or lists a NIK whose registry record changed. Its members' statuses
    are taken against every current listing of their NIKs nationally, as in a first round.
    """
    fresh_ids = fresh.select("household_id")
    new_listings = _listings(current_members(fresh))
    kept_listings = _listings(stored_members).join(fresh_ids, "household_id", "left_anti")
    listings = kept_listings.unionByName(new_listings)
    touched = reduce(
        DataFrame.unionByName,
        [
            new_listings.select("nik_token"),
            _listings(stored_members).join(fresh_ids, "household_id", "left_semi").select("nik_token"),
            changed_tokens.select("nik_token"),
        ],
    ).distinct()
    affected = put(
        "affected",
        fresh_ids.unionByName(listings.join(touched, "nik_token", "left_semi").select("household_id")).distinct(),
    )
    rosters = survey.join(affected, "household_id", "left_semi")
    members = current_members(rosters)
    tokens = members.where(F.col("nik_token").isNotNull()).select("nik_token").distinct()
    matched = put(
        "matched",
        matching.match(
            members,
            _match_registry(registry).join(tokens, "nik_token", "left_semi"),
            listings.join(tokens, "nik_token", "left_semi"),
        ),
    )
    households, member_rows = _outputs(rosters, matched)
    gone = (
        stored_members.select("household_id", "member_no")
        .join(affected, "household_id", "left_semi")
        .join(member_rows.select("household_id", "member_no"), ["household_id", "member_no"], "left_anti")
    )
    return households, member_rows, gone


def registry_change_set(delivered: DataFrame, stored: DataFrame, events: bool) -> DataFrame:
    """Pure: what changes in silver_registry, flagged `_delete` where a person leaves it.

    The whole registry (events False) is diffed with the stored one by content hash: new and changed
    persons in, persons no longer delivered out. Events (docs/CONTRACTS.md) carry each person's record
    after the event; a NIK correction also removes the record under the previous NIK. Rows equal to
    the stored ones are left out, so only real changes go on downstream."""
    columns = [*REGISTRY_COLUMNS, tables.ROW_HASH]
    held = stored.select("nik_token", F.col(tables.ROW_HASH).alias("_t_hash"))
    upserts = (
        delivered.select(*columns)
        .join(held, "nik_token", "left")
        .where(F.col("_t_hash").isNull() | (F.col("_t_hash") != F.col(tables.ROW_HASH)))
        .drop("_t_hash")
    )
    if events:
        leaving = (
            delivered.where(F.col("previous_token").isNotNull())
            .select(F.col("previous_token").alias("nik_token"))
            .join(delivered.select("nik_token"), "nik_token", "left_anti")  # unless re-delivered itself
            .join(held, "nik_token", "left_semi")
            .distinct()
        )
    else:
        leaving = held.select("nik_token").join(delivered.select("nik_token"), "nik_token", "left_anti")
    schema = dict(delivered.dtypes)
    deletes = leaving.select(
        *[F.col(c) if c == "nik_token" else F.lit(None).cast(schema[c]).alias(c) for c in columns]
    )
    return upserts.withColumn(DELETE, F.lit(False)).unionByName(deletes.withColumn(DELETE, F.lit(True)))


def training_features(households: DataFrame, members: DataFrame, registry: DataFrame) -> DataFrame:
    dated = members.drop("interview_date").join(
        households.select("household_id", "interview_start", F.to_date("interview_start").alias("interview_date")),
        "household_id",
    )
    matched = matching.match(dated, registry)
    feats = hh_features.features(households, matched)
    return feats.withColumn("log_consumption_per_capita", F.log(F.col("consumption_per_capita")))


def restrict(raw: dict[str, DataFrame], codes: tuple[str, ...]) -> tuple[dict[str, DataFrame], dict[str, int]]:
    """A trial's share of each source and how many rows fell outside it.

    Registry persons and households by their village code; members with their household, so a
    member whose household is outside the trial (or missing) is outside it too.
    """
    scoped = {s: raw[s].where(regions.in_scope(F.col("village_code"), codes))
              for s in (landing.REGISTRY, landing.REGISTRY_CHANGES) if s in raw}
    for hh_source, member_source in (
        (landing.SURVEY_HOUSEHOLDS, landing.SURVEY_MEMBERS),
        (landing.TRAINING_HOUSEHOLDS, landing.TRAINING_MEMBERS),
    ):
        if hh_source not in raw:
            continue
        hh = raw[hh_source].where(regions.in_scope(F.col("village_code"), codes))
        scoped[hh_source] = hh
        ids = hh.where(F.col("household_id").isNotNull()).select("household_id").distinct()
        members = raw[member_source]
        scoped[member_source] = members.join(ids, "household_id", "left_semi").select(*members.columns)
    outside = {s: raw[s].count() - scoped[s].count() for s in raw}
    return scoped, outside


def reconcile(checked: Checked) -> dict[str, dict[str, int]]:
    """rows read = rows accepted + rows quarantined, per source, from the checking pass's own counts;
    the run fails before any table is written if it does not hold."""
    counts = {}
    for source in checked.read:
        read = int(checked.read[source].get["rows"])
        verdict = checked.verdicts[source].get
        accepted, quarantined = int(verdict["accepted"]), int(verdict["quarantined"])
        counts[source] = {"read": read, "accepted": accepted, "quarantined": quarantined}
        if read != accepted + quarantined:
            raise UserError(
                f"reconciliation failed for {source}: read {read} != accepted {accepted} + quarantined {quarantined}"
            )
    return counts


def incremental(spark: SparkSession, config: DtksConfig) -> bool:
    """Whether the lakehouse holds a matched round this code can update (tables with their content
    hashes); otherwise this round matches the whole survey."""
    return (
        tables.has_columns(spark, config, tables.REGISTRY, tables.ROW_HASH)
        and tables.has_columns(spark, config, tables.HOUSEHOLDS, tables.ROW_HASH)
        and tables.has_columns(spark, config, tables.MEMBERS, tables.ROW_HASH, "interview_start")
        and tables.exists(spark, config, tables.SURVEY)
    )


def write(
    spark: SparkSession,
    config: DtksConfig,
    batch: Batch,
    counts: dict[str, dict[str, int]],
    put: Callable[[str, DataFrame], DataFrame],
) -> dict[str, int]:
    """The writes, from the checked rows; `counts` (reconcile's) sizes the unpartitioned tables' files."""
    accepted = {s: c["accepted"] for s, c in counts.items()}
    registry_source = landing.REGISTRY_CHANGES if batch.registry_events else landing.REGISTRY
    # The vault holds about one token per registry person (survey NIKs are mostly the same persons).
    tables.insert_new(spark, config, tables.IDENTITY_VAULT, batch.vault, rows=accepted[registry_source])
    tables.insert_new(spark, config, tables.QUARANTINE, batch.quarantine)
    surveyed = accepted[landing.SURVEY_HOUSEHOLDS]
    update = incremental(spark, config)
    if update:
        stored = tables.read(spark, config, tables.REGISTRY)
        changed = put("registry_change_set", registry_change_set(batch.registry, stored, batch.registry_events))
        tables.merge_changes(spark, config, tables.REGISTRY, changed, delete=DELETE)
        # Pinned to this version: the members to delete are read while the merge below writes the table.
        stored_members = tables.read(spark, config, tables.MEMBERS, tables.version(spark, config, tables.MEMBERS))
        fresh = put("survey", tables.newer_rows(spark, config, tables.SURVEY, batch.survey))
        tables.upsert(spark, config, tables.SURVEY, fresh)
    elif batch.registry_events:
        raise UserError(
            f"{landing.REGISTRY_CHANGES}: registry events need a matched round in {config.lakehouse} to apply to; "
            f"deliver the whole '{landing.REGISTRY}' first"
        )
    else:
        tables.overwrite(batch.registry, config, tables.REGISTRY, rows=accepted[registry_source])
        tables.merge_newer(spark, config, tables.SURVEY, batch.survey, rows=surveyed)
    registry = tables.read(spark, config, tables.REGISTRY)
    survey = tables.read(spark, config, tables.SURVEY)
    current = Observation()
    if update:
        households, members, gone = rematch_changed(fresh, survey, stored_members, registry, changed, put)
        households = households.observe(current, F.count(F.lit(1)).alias("rows"))
        # Stored before the MERGEs: a MERGE reads its source twice (to find the touched files, then to
        # write), and these derive from scans of the survey and the members table.
        households = put("households", households.withColumn(DELETE, F.lit(False)))
        tables.merge_changes(spark, config, tables.HOUSEHOLDS, households, delete=DELETE)
        member_changes = put("member_changes", members.withColumn(DELETE, F.lit(False)).unionByName(
            gone.withColumn(DELETE, F.lit(True)), allowMissingColumns=True
        ))
        tables.merge_changes(spark, config, tables.MEMBERS, member_changes, delete=DELETE)
    else:
        households, members = rematch(survey, registry, put)
        households = households.observe(current, F.count(F.lit(1)).alias("rows"))
        tables.overwrite(households, config, tables.HOUSEHOLDS, rows=surveyed)
        tables.overwrite(members, config, tables.MEMBERS, rows=accepted[landing.SURVEY_MEMBERS])
    if batch.training_households is not None:
        training = training_features(batch.training_households, batch.training_members, registry)
        tables.overwrite(training, config, tables.TRAINING, rows=accepted[landing.TRAINING_HOUSEHOLDS])
    return {"households": int(current.get["rows"]), "update": int(update)}


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    key = nik_key_source(ctx.config)  # a missing key stops the run before Spark starts
    config, spark = ctx.config, ctx.spark
    nik.register(spark, key)
    fingerprint = pseudonym.fingerprint(spark)
    pseudonym.check_key(spark, config, fingerprint)  # tokens of two keys never meet in one lakehouse
    q = questionnaire.load(config)
    ref = regions.load(config)
    landing_root = str(config.path(args.landing or config.landing.root))
    fmt = args.format or config.landing.format
    as_of = args.as_of or dt.datetime.now(dt.UTC).date()
    with landing.reading(spark, landing_root):  # a landing file Spark cannot read: one line naming it
        raw = {s: landing.read_source(spark, landing_root, s, fmt, q) for s in landing.delivered(spark, landing_root)}
        out_of_scope: dict[str, int] = {}
        if config.is_trial:
            regions.check_scope(ref, config.trial.regions)
            raw, out_of_scope = restrict(raw, config.trial.regions)
        villages = F.broadcast(regions.villages_df(spark, regions.reference_dir(config)))
        with tables.staging(spark, config, ctx.run_id) as area:
            checked = check(raw, q, ref, villages, as_of, area.put)
            counts = reconcile(checked)
            for source, n in out_of_scope.items():
                counts[source]["out_of_scope"] = n
            written = write(spark, config, transform(checked, ctx.run_id), counts, area.put)
    if pseudonym.key_state(spark, config)[0] is None:  # the first round (or one made before keys were named)
        pseudonym.set_key_state(spark, config, fingerprint, None)
    details = {f"{s}.{k}": str(v) for s, c in counts.items() for k, v in c.items()}
    rows_in = sum(c["read"] for c in counts.values())
    rows_out = sum(c["accepted"] for c in counts.values())
    quarantined = sum(c["quarantined"] for c in counts.values())
    matched = (f"{written['households']:,} households re-matched (update round)" if written["update"]
               else f"{written['households']:,} current survey households matched")
    summary = [f"ingest: {rows_in:,} rows read, {rows_out:,} accepted, {quarantined:,} quarantined; {matched}"]
    return StageResult(rows_in=rows_in, rows_out=rows_out, details=details, summary=summary)


if __name__ == "__main__":
    sys.exit(main_for(NAME))
