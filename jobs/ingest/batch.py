"""Pure: from the checked rows to each silver table's rows (quarantine, vault, registry, survey, training),
and the registry's change set against the stored table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core import contract, nik, regions
from jobs.core.change_set import DELETE, NEW
from jobs.ingest import validation
from jobs.ingest.checking import RECORD_KEY, Checked
from models import linkage
from runtime import tables

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


MEMBER_FIELDS = (
    "member_no",
    "nik_token",
    "nik_problem",
    "birth_date",
    "sex",
    *contract.MEMBER_ANSWERS,
)


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
    appeals: DataFrame | None = None  # None: no appeals delivered
    # Restricted (the vault's access rules): names and NIKs as registered, and each roster's as reported.
    identity_registry: DataFrame | None = None
    identity_survey: DataFrame | None = None
    linkage_decisions: DataFrame | None = None  # None: no decisions delivered


# linkage_decisions rows: the pair, the office's decision, and the pair's probability when it was reviewed.
DECISION_COLUMNS = ("household_id", "member_no", "nik_token", "decision", "decided_by", "decided_at",
                    "province_code", "match_probability")


# identity_registry: each person's NIK and name, and the name as linkage compares it (stored once per person, so
# a round's linkage standardises only its members' names). The batch's rows carry their row_hash for the change
# set; the table keeps none.
IDENTITY_COLUMNS = ("nik_token", "nik", "full_name", "name")
REPORTED = ("member_no", "nik", "full_name")  # identity_survey's roster entries: as the field wrote them

APPEAL_COLUMNS = ("appeal_id", "appeal_type", "filed_at", "village_code", "province_code", "regency_code",
                  "household_id", "head_token", "filer_relation", "reason_category", "has_photo", "has_gps")


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
                F.col(validation.PROVINCE).alias("province_code"),
            )
            for source, df in checked.rows.items()
        ],
    )
    events = contract.REGISTRY_CHANGES in accepted
    source = contract.REGISTRY_CHANGES if events else contract.REGISTRY
    registry = accepted[source].withColumn("province_code", regions.province_code(F.col("village_code")))
    registry = registry.select(*REGISTRY_COLUMNS, tables.row_hash(REGISTRY_COLUMNS).alias(tables.ROW_HASH),
                               *(["change", "previous_token"] if events else []))
    # token -> identifier for NIKs and KK numbers alike (both 16 digits: one value, one token), so that
    # `dtks rotate-key` can compute every token again under a new key. De-duplicated on the 16-digit value
    # alone (a hashed aggregate of narrow rows), then tokenised once per value: a token is a function of it.
    values = reduce(
        DataFrame.unionByName,
        [
            accepted[s].where(F.col(token).isNotNull()).select(F.col(value).alias("nik"))
            for token, value, sources in (
                ("nik_token", "nik", (source, contract.SURVEY_MEMBERS, contract.TRAINING_MEMBERS, contract.APPEALS)),
                ("kk_token", "kk_number", (source, contract.SURVEY_HOUSEHOLDS, contract.TRAINING_HOUSEHOLDS)),
            )
            for s in sources
            if s in accepted
        ],
    ).distinct()
    vault = values.select(nik.token(F.col("nik")).alias("nik_token"), "nik")
    survey = nest(accepted[contract.SURVEY_HOUSEHOLDS], accepted[contract.SURVEY_MEMBERS], run_id)
    training = contract.TRAINING_HOUSEHOLDS in accepted
    identities = accepted[source].withColumn("name", linkage.standard_name(F.col("full_name"))).select(
        *IDENTITY_COLUMNS, *(["change", "previous_token"] if events else []))
    identities = identities.withColumn(tables.ROW_HASH, tables.row_hash(IDENTITY_COLUMNS))
    return Batch(
        quarantine,
        registry,
        events,
        vault,
        survey,
        accepted[contract.TRAINING_MEMBERS].drop("nik", "full_name", validation.REASON, validation.DETAIL,
                                                 validation.PROVINCE, RECORD_KEY)
        if training else None,
        accepted[contract.TRAINING_HOUSEHOLDS].drop(validation.REASON, validation.DETAIL, validation.PRIMARY,
                                                   validation.PROVINCE, RECORD_KEY, "kk_token", "kk_number")
        if training else None,
        appeals(accepted[contract.APPEALS], run_id) if contract.APPEALS in accepted else None,
        identities,
        reported(accepted[contract.SURVEY_MEMBERS]),
        accepted[contract.LINKAGE_DECISIONS].select(*DECISION_COLUMNS, F.lit(run_id).alias("ingest_run_id"))
        if contract.LINKAGE_DECISIONS in accepted else None,
    )


def reported(mem: DataFrame) -> DataFrame:
    """identity_survey rows: each accepted member as reported (member number, NIK as written, name). A row per
    member, as the delivery has them: the store replaces a re-surveyed household's rows as silver_survey does."""
    return mem.select("household_id", *REPORTED)


def appeals(accepted: DataFrame, run_id: str) -> DataFrame:
    """silver_appeals rows: the head's NIK as its token only, the region from the village."""
    return accepted.select(
        *[F.col("nik_token").alias("head_token") if c == "head_token" else
          regions.province_code(F.col("village_code")).alias(c) if c == "province_code" else
          regions.regency_code(F.col("village_code")).alias(c) if c == "regency_code" else F.col(c)
          for c in APPEAL_COLUMNS],
        F.lit(run_id).alias("ingest_run_id"))


def nest(hh: DataFrame, mem: DataFrame, run_id: str) -> DataFrame:
    """One row per household with its roster as an array, so one row replaces the whole roster."""
    roster = mem.groupBy("household_id").agg(F.sort_array(F.collect_list(F.struct(*MEMBER_FIELDS))).alias("members"))
    base = hh.drop(validation.REASON, validation.DETAIL, validation.PRIMARY, validation.PROVINCE, RECORD_KEY,
                   "kk_number")
    return (
        base.join(roster, "household_id", "left")
        .withColumn("members", F.coalesce(F.col("members"), F.array().cast(roster.schema["members"].dataType)))
        .withColumn("province_code", regions.province_code(F.col("village_code")))
        .withColumn("ingest_run_id", F.lit(run_id))
    )


def registry_change_set(delivered: DataFrame, stored: DataFrame, events: bool,
                        columns: tuple[str, ...] = REGISTRY_COLUMNS, stored_hash: bool = True) -> DataFrame:
    """Pure: what changes in silver_registry, flagged `_delete` where a person leaves it and `_new` where the
    stored table lacks the person.

    The whole registry (events False) is diffed with the stored one by content hash: new and changed
    persons in, persons no longer delivered out. Events (docs/CONTRACTS.md) carry each person's record
    after the event; a NIK correction also removes the record under the previous NIK. Rows equal to
    the stored ones are left out, so only real changes go on downstream. `columns`: the table's own (those of
    identity_registry for its change set); `stored_hash` False: the table keeps no row_hash, and the stored
    rows' hashes are computed here (identity_registry: its few columns read cost less than a stored hash)."""
    held = stored.select("nik_token", (F.col(tables.ROW_HASH) if stored_hash else tables.row_hash(columns))
                         .alias("_t_hash"))
    if events:
        # A few persons' events: the stored rows they touch are taken by their tokens first (a broadcast of the
        # staged events' tokens), so neither the registry nor its hashes are shuffled to meet them.
        touched = delivered.select("nik_token").unionByName(
            delivered.where(F.col("previous_token").isNotNull()).select(F.col("previous_token").alias("nik_token")))
        held = held.join(touched, "nik_token", "left_semi")
    columns = [*columns, tables.ROW_HASH]
    upserts = (
        delivered.select(*columns)
        .join(held, "nik_token", "left")
        .where(F.col("_t_hash").isNull() | (F.col("_t_hash") != F.col(tables.ROW_HASH)))
        .select(*columns, F.col("_t_hash").isNull().alias(NEW))
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
    return upserts.withColumn(DELETE, F.lit(False)).unionByName(
        deletes.withColumn(NEW, F.lit(False)).withColumn(DELETE, F.lit(True)))
