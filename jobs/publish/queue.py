"""The verification queue: which households the field re-surveys, why, in which order and by when; rebuilt by
each publish, with every entry's history kept (docs/CONTRACTS.md, verification_queue).

An entry is one household (or, for a proposal about a family not yet surveyed, the head's NIK token) to
re-survey, with every reason that applies (the codes and their words: jobs/core/verification.py):
- SANGGAH, USUL: an open appeal (silver_appeals) about it;
- NEAR_CUTOFF: within `queue.near_cutoff_band` x P persons of the coverage line;
- STALE_INTERVIEW: interviewed more than `queue.stale_interview_days` ago;
- CURBSTONING: interviewed by an enumerator the curbstoning rule flags (jobs/core/curbstoning.py);
- REGISTRY_EVENT: the registry now says its head died, lives in another village or is on another KK;
- LINKAGE_REVIEW: a member's pair in linkage_review awaits a decision (confirm or reject the link).

Its deadline is the earliest of its reasons' (the filing date, or the day the reason was first queued, plus
`queue.deadline_days`); its priority the first of its reasons in `queue.priority` (1 = first); `settings`
checks that both name each reason once. At each
publish an open entry becomes RESOLVED (it carries an appeal) or RESURVEYED (it does not) once a newer
interview of its household is in, with its decile and eligibility per programme before (the previous
publication) and after (this one); else LAPSED once the as-of date is past its deadline; else stays OPEN
(gaining any new reason). The queue holds the open entries and those closed by this publish. The signals
(every reason but an appeal) are read from the household's current interview, and do not open an entry
again for an interview whose entry was closed: only a new interview or a new appeal does.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core import curbstoning, questionnaire
from jobs.core.change_set import WAS_ELIGIBLE, was
from jobs.core.contract import SANGGAH, USUL
from jobs.core.linkage_review import PENDING
from jobs.core.verification import (
    CLOSED,
    CURBSTONING,
    LAPSED,
    LINKAGE_REVIEW,
    NEAR_CUTOFF,
    OPEN,
    REASONS,
    REGISTRY_EVENT,
    RESOLVED,
    RESURVEYED,
    STALE,
)
from runtime import tables
from runtime.config import DtksConfig, QueueConfig

COLUMNS = ("entry_id", "household_id", "head_token", "province_code", "regency_code", "village_code", "status",
           "priority", "reasons", "appeal_ids", "appeal_types", "opened_on", "deadline", "interview_date",
           "resurvey_date", "closed_on", "decile_before", "decile_after", "eligible_before", "eligible_after",
           "detail")
_NO_DATE = "0001-01-01"


def settings(config: DtksConfig) -> QueueConfig:
    """`queue:` as the queue reads it: a deadline for each of its reasons (jobs/core/verification.py) and a
    priority order naming each once, else a ConfigError naming the key and the file that set it (the config
    checks only the shape: it lies below the reasons' list)."""
    queue, names = config.queue, ", ".join(REASONS)
    for reason in queue.deadline_days:
        if reason not in REASONS:
            raise config.invalid(f"queue.deadline_days.{reason}", f"not a reason of the queue ({names})")
    if missing := [r for r in REASONS if r not in queue.deadline_days]:
        raise config.invalid("queue.deadline_days", f"no deadline for {', '.join(missing)} (each of {names} "
                             "needs one)")
    if sorted(queue.priority) != sorted(REASONS):
        raise config.invalid("queue.priority", f"must name each of {names} once (got {queue.priority})")
    return queue


@dataclass(frozen=True)
class Inputs:
    """What the queue is built from (DataFrames are this publish's, `previous` the published queue)."""

    surveyed: DataFrame  # silver_households: household_id, regions, village, interview_date, enumerator_id
    ranked: DataFrame  # this publication's dtks_households: the same columns and persons_to_cutoff
    heads: DataFrame  # household_id whose head's registry record shows an event (silver_members.registry_event)
    listed: DataFrame | None  # head_token -> `_found`: the household listing that NIK now (none to look up: None)
    suspects: DataFrame  # enumerator_id flagged by the curbstoning rule
    appeals: DataFrame | None  # the open appeals with their subject (open_appeals), staged
    previous: DataFrame | None  # the published verification_queue
    closed: DataFrame | None  # verification_history rows with a closed status
    before: DataFrame | None  # the previous publication's dtks_households (household_id, decile)
    changes: DataFrame | None  # this publish's program_eligibility change set, with what the table held
    after: DataFrame  # this publication's dtks_households
    programs: dict[str, Column]  # each programme's rule over a dtks_households row (eligibility.conditions)
    reviews: DataFrame | None = None  # household_id with a pair awaiting a decision in linkage_review


def read_inputs(spark: SparkSession, config: DtksConfig, gold_hh: DataFrame, programs: dict[str, Column],
                changes: DataFrame | None, before: DataFrame | None, as_of: dt.date,
                put: Callable[[str, DataFrame], DataFrame], versions: dict[str, int]) -> Inputs:
    """The queue's inputs from the lakehouse, as of this publish (before its publication row; `versions`: the
    latest publication's)."""
    households = tables.read(spark, config, tables.HOUSEHOLDS)
    members = tables.read(spark, config, tables.MEMBERS)
    surveyed = households.select("household_id", "province_code", "regency_code", "village_code", "interview_date",
                                 "enumerator_id")
    # Ingest flags each member whose registry record shows an event when it matches the roster (and matches the
    # roster again when that record changes), so the registry is not read here.
    heads = members.where((F.col("relationship") == 1) & F.col("registry_event")).select("household_id")
    appeals = tables.read(spark, config, tables.APPEALS) if tables.exists(spark, config, tables.APPEALS) else None
    reviews = tables.read(spark, config, tables.LINKAGE_REVIEW).where(
        F.col("review_status") == PENDING).select("household_id").distinct() if tables.exists(
        spark, config, tables.LINKAGE_REVIEW) else None
    # Staged once: the published queue is read thrice (heads named, open entries, what changed), and it holds a
    # file per regency.
    previous = put("queue_previous", tables.read_published(spark, config, tables.QUEUE, versions)) if tables.exists(
        spark, config, tables.QUEUE) else None
    closed = tables.read(spark, config, tables.QUEUE_HISTORY).where(F.col("status").isin(*CLOSED)) if tables.exists(
        spark, config, tables.QUEUE_HISTORY) else None
    # Only a subject without a household is looked up by its head's NIK (_subject), and only an open one: the
    # nation's members are scanned for those tokens, when there are any.
    unnamed = []
    if appeals is not None:
        unnamed.append(_still_open(appeals, closed))
    if previous is not None:
        unnamed.append(previous.where(F.col("status") == OPEN))
    tokens = [df.where(F.col("household_id").isNull() & F.col("head_token").isNotNull())
              .select(F.col("head_token").alias("nik_token")) for df in unnamed]
    wanted = tokens[0].unionByName(tokens[1]) if len(tokens) == 2 else tokens[0] if tokens else None
    listed = None
    if wanted is not None and not wanted.isEmpty():
        named = members.select("household_id", "nik_token").join(wanted.distinct(), "nik_token", "left_semi")
        # Staged: read by the open appeals and by the open entries, and made from a scan of the members.
        listed = put("queue_listed", named.groupBy(F.col("nik_token").alias("head_token")).agg(
            F.min("household_id").alias("_found")))
    if appeals is not None:
        # Staged: the entries read the open appeals twice (reasons, places of the unsurveyed) and name their
        # subjects to the pass over the surveyed households; made from the appeals and the closed history.
        appeals = put("queue_appeals", open_appeals(appeals, closed, listed, as_of))
    return Inputs(
        surveyed=surveyed, ranked=gold_hh.select("household_id", "province_code", "regency_code", "village_code",
                                                 "interview_date", "persons_to_cutoff"),
        heads=heads, listed=listed,
        suspects=curbstoning.suspects(households, questionnaire.load(config)),
        appeals=appeals, previous=previous, closed=closed, before=before, changes=changes, after=gold_hh,
        programs=programs, reviews=reviews)


def write(spark: SparkSession, config: DtksConfig, inputs: Inputs, as_of: dt.date, population: int,
          run_id: str, put: Callable[[str, DataFrame], DataFrame]) -> DataFrame:
    """Replace verification_queue and append its changes to verification_history; returns the stored queue."""
    # Staged twice: the outcomes read the entries thrice, the writes read the rows twice (a few per household
    # at most, against the scans of the nation that make them).
    found = put("queue_entries", entries(inputs, as_of, population, settings(config)))
    rows = put(tables.QUEUE, outcomes(found, inputs))
    tables.overwrite(rows, config, tables.QUEUE)
    changed = history(rows, inputs.previous).withColumn("publication_run_id", F.lit(run_id)).withColumn(
        "as_of", F.lit(as_of))
    tables.append(changed, config, tables.QUEUE_HISTORY)
    return rows


def _days(column: Column, reason: Column, config: QueueConfig) -> Column:
    days = F.create_map(*[x for k, v in config.deadline_days.items() for x in (F.lit(k), F.lit(v))])
    return F.date_add(column, days[reason])


FACTS = ("province_code", "regency_code", "village_code", "interview_date")  # of the household, now


def signals(i: Inputs, as_of: dt.date, population: int, config: QueueConfig,
            named: DataFrame | None = None) -> DataFrame:
    """Pure: (subject, reason, start, appeal_id, FACTS) for every signal on a household's current interview:
    the ranked households near the line, and one pass over the surveyed households for the rest (stale, a
    suspect enumerator's through a broadcast of the few flagged, a head with a registry event). The same pass
    gives the facts of the households in `named` (subject: those the queue already names), as rows without a
    reason, so the entries need no other look-up of the nation's households."""
    band = math.floor(population * config.near_cutoff_band)
    near = i.ranked.where(F.abs(F.col("persons_to_cutoff")) <= F.lit(band)).select(
        "household_id", *FACTS, F.array(F.lit(NEAR_CUTOFF)).alias("_reasons"), F.lit(False).alias("_named"))
    stale = F.col("interview_date") < F.lit(as_of - dt.timedelta(days=config.stale_interview_days))
    flagged = (i.surveyed
               .join(F.broadcast(i.suspects.select("enumerator_id", F.lit(True).alias("_suspect"))), "enumerator_id",
                     "left")
               # Broadcast: the heads with a registry event are a few per hundred households, and a shuffle
               # would move every surveyed household to meet them.
               .join(F.broadcast(i.heads.select("household_id", F.lit(True).alias("_event"))), "household_id",
                     "left"))
    if i.reviews is not None:  # a few households per thousand: broadcast like the heads
        flagged = flagged.join(F.broadcast(i.reviews.select("household_id", F.lit(True).alias("_review"))),
                               "household_id", "left")
    else:
        flagged = flagged.withColumn("_review", F.lit(None).cast("boolean"))
    if named is not None:
        flagged = flagged.join(named.select(F.col("subject").alias("household_id"), F.lit(True).alias("_named"))
                               .distinct(), "household_id", "left")
    else:
        flagged = flagged.withColumn("_named", F.lit(None).cast("boolean"))
    codes = F.filter(F.array(*[F.when(cond, F.lit(code)) for cond, code in (
        (stale, STALE), (F.col("_suspect"), CURBSTONING), (F.col("_event"), REGISTRY_EVENT),
        (F.col("_review"), LINKAGE_REVIEW))]),
        lambda c: c.isNotNull())
    own = flagged.select("household_id", *FACTS, codes.alias("_reasons"),
                         F.coalesce("_named", F.lit(False)).alias("_named")).where(
        (F.size("_reasons") > 0) | F.col("_named"))
    # explode_outer: a named household without a signal keeps one row, without a reason, for its facts.
    found = near.unionByName(own).select("household_id", *FACTS, "_named",
                                         F.explode_outer("_reasons").alias("reason"))
    if i.closed is not None:  # an interview whose entry closed is not queued again for a signal
        done = i.closed.where(F.col("household_id").isNotNull()).select(
            "household_id", F.explode(F.array("interview_date", "resurvey_date")).alias("interview_date")).distinct()
        found = (found.join(done.withColumn("_done", F.lit(True)), ["household_id", "interview_date"], "left")
                 .withColumn("reason", F.when(F.col("_done").isNull(), F.col("reason")))
                 .where(F.col("reason").isNotNull() | F.col("_named")))
    return found.select(F.col("household_id").alias("subject"), "reason",
                        F.when(F.col("reason").isNotNull(), F.lit(as_of)).alias("start"),
                        F.lit(None).cast("string").alias("appeal_id"), *FACTS)


def _subject() -> Column:
    """Who an appeal or entry is about: its household, else the household now listing its head, else the head."""
    return F.coalesce("household_id", "_found", F.concat(F.lit("T:"), F.col("head_token")))


def _still_open(appeals: DataFrame, closed: DataFrame | None) -> DataFrame:
    """The appeals no closed entry carries."""
    if closed is None:
        return appeals
    return appeals.join(closed.select(F.explode("appeal_ids").alias("appeal_id")), "appeal_id", "left_anti")


def _found(df: DataFrame, listed: DataFrame | None) -> DataFrame:
    """`df` with `_found`, the household now listing its head_token. None rather than an empty DataFrame when
    there is nothing to look up: a DataFrame made in Python has no size, so the planner would shuffle what
    meets it instead of broadcasting it."""
    if listed is None:
        return df.withColumn("_found", F.lit(None).cast("string"))
    return df.join(listed, "head_token", "left")


def open_appeals(appeals: DataFrame, closed: DataFrame | None, listed: DataFrame | None,
                 as_of: dt.date) -> DataFrame:
    """Pure: each appeal not yet closed, filed on or before the as-of date, with its subject: the household
    it names, else the household that now lists the head's NIK, else the token itself ("T:" + token)."""
    still = _still_open(appeals.where(F.to_date("filed_at") <= F.lit(as_of)), closed)
    return _found(still, listed).select(
        _subject().alias("subject"),
        F.col("appeal_type").alias("reason"), F.to_date("filed_at").alias("start"), "appeal_id", "head_token",
        "province_code", "regency_code", "village_code")


def build(i: Inputs, as_of: dt.date, population: int, config: QueueConfig) -> DataFrame:
    """Pure: this publish's verification_queue rows (COLUMNS)."""
    return outcomes(entries(i, as_of, population, config), i)


def entries(i: Inputs, as_of: dt.date, population: int, config: QueueConfig) -> DataFrame:
    """Pure: the queue's entries with their status, before the outcomes of those a re-survey closed."""
    prev, named = None, []
    if i.previous is not None:
        prev = _found(i.previous.where(F.col("status") == OPEN), i.listed).select(
            _subject().alias("subject"),
            F.col("entry_id").alias("_p_entry"), F.col("opened_on").alias("_p_opened"),
            F.col("deadline").alias("_p_deadline"), F.col("reasons").alias("_p_reasons"),
            F.col("appeal_ids").alias("_p_appeals"), F.col("interview_date").alias("_p_interview"),
            F.col("head_token").alias("_p_head"))
        named.append(prev.select("subject"))
    if i.appeals is not None:
        named.append(i.appeals.select("subject"))
    reasons = signals(i, as_of, population, config,
                      named[0].unionByName(named[1]) if len(named) == 2 else named[0] if named else None)
    reasons = reasons.withColumn("_head", F.lit(None).cast("string"))
    if i.appeals is not None:
        # An appeal gives the places of a subject no household lists (the filing village) and its head's token.
        unlisted = F.col("subject").startswith("T:")
        reasons = reasons.unionByName(i.appeals.select(
            "subject", "reason", "start", "appeal_id",
            *[F.when(unlisted, F.col(c)).alias(c) for c in ("province_code", "regency_code", "village_code")],
            F.lit(None).cast("date").alias("interview_date"), F.when(unlisted, F.col("head_token")).alias("_head")))
    rank = F.create_map(*[x for n, r in enumerate(config.priority, 1) for x in (F.lit(r), F.lit(n))])
    deadline_of = F.when(F.col("reason").isNotNull(), _days(F.col("start"), F.col("reason"), config))
    entries = reasons.withColumn("_deadline", deadline_of).groupBy("subject").agg(
        F.collect_set("reason").alias("_reasons"),
        F.collect_set("appeal_id").alias("_appeals"),
        F.min("start").alias("_start"),
        F.min("_deadline").alias("_deadline"),
        *[F.min(c).alias(c) for c in ("province_code", "regency_code", "village_code", "_head")],
        F.max("interview_date").alias("_interview"),
    )
    if prev is not None:
        entries = entries.join(prev, "subject", "full")
    else:
        entries = entries.select("*", *[F.lit(None).cast(t).alias(c) for c, t in (
            ("_p_entry", "string"), ("_p_opened", "date"), ("_p_deadline", "date"), ("_p_reasons", "array<string>"),
            ("_p_appeals", "array<string>"), ("_p_interview", "date"), ("_p_head", "string"))])
    empty = F.array().cast("array<string>")
    reasons_all = F.array_distinct(F.concat(F.coalesce("_p_reasons", empty), F.coalesce("_reasons", empty)))
    appeal_ids = F.array_sort(F.array_distinct(F.concat(F.coalesce("_p_appeals", empty),
                                                        F.coalesce("_appeals", empty))))
    opened = F.coalesce("_p_opened", "_start")
    interview_at_open = F.when(F.col("_p_entry").isNotNull(), F.col("_p_interview")).otherwise(F.col("_interview"))
    deadline = F.least("_p_deadline", "_deadline")
    resurveyed = F.col("_interview") > F.coalesce(F.col("_p_interview"), F.lit(_NO_DATE).cast("date"))
    has_appeal = F.size(appeal_ids) > 0
    status = (F.when(F.col("_p_entry").isNotNull() & resurveyed, F.when(has_appeal, F.lit(RESOLVED))
                     .otherwise(F.lit(RESURVEYED)))
              .when(F.lit(as_of) > deadline, F.lit(LAPSED))
              .otherwise(F.lit(OPEN)))
    household = F.when(~F.col("subject").startswith("T:"), F.col("subject"))
    out = entries.select(
        F.coalesce("_p_entry", F.concat_ws(":", F.coalesce(household, F.concat(F.lit("A:"), F.array_min(
            appeal_ids))), opened.cast("string"))).alias("entry_id"),
        household.alias("household_id"),
        F.coalesce("_p_head", "_head").alias("head_token"),
        "province_code", "regency_code", "village_code",
        reasons_all.alias("reasons"), appeal_ids.alias("appeal_ids"), opened.alias("opened_on"),
        deadline.alias("deadline"), interview_at_open.alias("interview_date"),
        F.when(F.col("_p_entry").isNotNull() & resurveyed, F.col("_interview")).alias("resurvey_date"),
        status.alias("status"),
    )
    out = out.withColumn("priority", F.array_min(F.transform("reasons", lambda r: rank[r])).cast("int"))
    return out.withColumn("closed_on", F.when(F.col("status") != OPEN, F.lit(as_of)))


def outcomes(out: DataFrame, i: Inputs) -> DataFrame:
    """The decile and eligibility before and after, on the entries a re-survey closed; and the appeals' types.
    After: this publication's rows and its rules. Before: the previous publication's decile, carried beside
    this one's rows (gold.CARRIED), and read from that publication only for a household it no longer ranks;
    its eligibility is this one's except where the eligibility change set says what the table held (none
    where the row was new), so the nation's eligibility rows are not read."""
    done = F.col("status").isin(RESOLVED, RESURVEYED)
    closing = out.where(done).select("household_id")
    names = sorted(i.programs)
    after = i.after.join(closing, "household_id", "left_semi").select(
        "household_id", F.col("decile").alias("decile_after"),
        F.map_from_arrays(F.array(*[F.lit(n) for n in names]), F.array(*[i.programs[n] for n in names]))
        .alias("eligible_after"), F.col(was("decile")).alias("decile_before"))
    if i.before is None or i.changes is None:
        after = after.withColumn("decile_before", F.lit(None).cast("int"))
    joined = out.join(after, "household_id", "left")
    if i.before is not None and i.changes is not None:
        # Broadcast: when every closed household is ranked now (the rule), the adaptive plan finds it empty
        # and never scans the previous publication's files.
        unranked = closing.join(i.after.select("household_id"), "household_id", "left_anti")
        decile = i.before.join(F.broadcast(unranked), "household_id", "left_semi").select(
            "household_id", F.col("decile").alias("_unranked_before"))
        held = i.changes.join(closing, "household_id", "left_semi").groupBy("household_id").agg(
            F.map_from_entries(F.collect_list(F.struct("program", WAS_ELIGIBLE))).alias("_held"))
        empty = F.create_map().cast("map<string,boolean>")
        changed = F.coalesce(F.map_keys("_held"), F.array().cast("array<string>"))
        kept = F.map_filter(F.coalesce("eligible_after", empty), lambda k, _: ~F.array_contains(changed, k))
        was_eligible = F.map_concat(kept, F.map_filter(F.coalesce("_held", empty), lambda _, v: v.isNotNull()))
        joined = (joined.join(decile, "household_id", "left").join(held, "household_id", "left")
                  .withColumn("decile_before", F.coalesce("decile_before", "_unranked_before"))
                  .withColumn("eligible_before", F.when(F.size(was_eligible) > 0, was_eligible)))
    else:
        joined = joined.select("*", F.lit(None).cast("map<string,boolean>").alias("eligible_before"))
    types = F.array_sort(F.array_distinct(F.filter(F.transform(
        "reasons", lambda r: F.when(r.isin(SANGGAH, USUL), r)), lambda r: r.isNotNull())))
    detail = F.when(F.col("status") == LAPSED, F.lit("deadline passed without a re-survey")).when(
        done, F.concat(F.lit("re-surveyed on "), F.col("resurvey_date").cast("string"), F.lit(": decile "),
                       F.coalesce(F.col("decile_before").cast("string"), F.lit("-")), F.lit(" -> "),
                       F.coalesce(F.col("decile_after").cast("string"), F.lit("-"))))
    return joined.select(
        *[F.when(done, F.col(c)).alias(c) if c in ("decile_before", "decile_after", "eligible_before",
                                                      "eligible_after")
          else types.alias(c) if c == "appeal_types" else detail.alias(c) if c == "detail" else F.col(c)
          for c in COLUMNS])


def history(queue: DataFrame, previous: DataFrame | None) -> DataFrame:
    """Pure: the queue rows that are new or whose state changed since the published queue (what
    verification_history gains at this publish)."""
    state = F.xxhash64("status", "priority", "reasons", "appeal_ids", "deadline")
    if previous is None:
        return queue
    prev = previous.select("entry_id", state.alias("_state"))
    return queue.join(prev, (queue.entry_id == prev.entry_id) & (state == prev._state), "left_anti")


def resolved_appeals(queue: DataFrame) -> DataFrame:
    """The households whose appeal this publish resolved (reasons for change: APPEAL)."""
    return queue.where(F.col("status") == RESOLVED).select("household_id").distinct()
