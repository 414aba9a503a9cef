"""Writing one delivery into the silver tables: the inputs first (vault, quarantine, registry, survey),
then the re-match of the rosters they touch (silver_households, silver_members), then the training sample.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs.core import contract
from jobs.core.change_set import DELETE, NEW
from jobs.core.linkage_review import CONFIRM
from jobs.ingest import linking
from jobs.ingest.batch import IDENTITY_COLUMNS, Batch, registry_change_set
from jobs.ingest.rematch import household_rows, match_all, match_changed, training_features
from models import linkage, linkage_versions
from runtime import tables
from runtime.config import DtksConfig
from runtime.errors import UserError


def incremental(spark: SparkSession, config: DtksConfig) -> bool:
    """Whether the lakehouse holds a matched round this code can update (tables with their content
    hashes); otherwise this round matches the whole survey."""
    return (
        tables.has_columns(spark, config, tables.REGISTRY, tables.ROW_HASH)
        and tables.has_columns(spark, config, tables.HOUSEHOLDS, tables.ROW_HASH)
        and tables.has_columns(spark, config, tables.MEMBERS, tables.ROW_HASH, "interview_start", "registry_event",
                               "match_probability")
        and tables.exists(spark, config, tables.SURVEY)
        and tables.exists(spark, config, tables.IDENTITY_REGISTRY)
    )


@dataclass
class Stored:
    """The silver inputs after `store_inputs`, for the re-match that follows."""

    update: bool  # an update round: only the rosters this delivery can change are re-matched
    registry: DataFrame
    survey: DataFrame
    fresh: DataFrame | None = None  # update round: the survey rows this delivery added or replaced
    changed: DataFrame | None = None  # update round: the registry's change set
    members_before: DataFrame | None = None  # update round: silver_members before this delivery


def store_inputs(
    spark: SparkSession, config: DtksConfig, batch: Batch, accepted: dict[str, int],
    put: Callable[[str, DataFrame], DataFrame],
) -> Stored:
    """identity_vault and quarantine (insert-only), then silver_registry and silver_survey: the whole
    tables in a first round, their change sets in an update round. `accepted` sizes the files."""
    registry_source = contract.REGISTRY_CHANGES if batch.registry_events else contract.REGISTRY
    # The vault holds about one token per registry person (survey NIKs are mostly the same persons).
    tables.insert_new(spark, config, tables.IDENTITY_VAULT, batch.vault, rows=accepted[registry_source],
                      few=batch.registry_events)
    # A quarantine table written before rows carried their province_code gains the column (null on those rows).
    tables.insert_new(spark, config, tables.QUARANTINE, batch.quarantine, new_columns=True)
    if batch.appeals is not None:  # an appeal id delivered again is the same appeal: kept as first stored
        tables.insert_new(spark, config, tables.APPEALS, batch.appeals)
    if batch.linkage_decisions is not None:  # the latest decision on a pair stands; the re-match applies them
        tables.merge_newer(spark, config, tables.LINKAGE_DECISIONS, batch.linkage_decisions)
    if not incremental(spark, config):
        if batch.registry_events:
            raise UserError(
                f"{contract.REGISTRY_CHANGES}: registry events need a matched round in {config.lakehouse} to apply "
                f"to; deliver the whole '{contract.REGISTRY}' first"
            )
        tables.overwrite(batch.registry, config, tables.REGISTRY, rows=accepted[registry_source])
        tables.overwrite(batch.identity_registry.select(*IDENTITY_COLUMNS), config,
                         tables.IDENTITY_REGISTRY, rows=accepted[registry_source])
        if tables.exists(spark, config, tables.SURVEY):  # a lakehouse of a round this code cannot update
            fresh = put("survey", tables.newer_rows(spark, config, tables.SURVEY, batch.survey))
            tables.upsert(spark, config, tables.SURVEY, fresh)
            store_reported(spark, config, batch.identity_survey, fresh.select("household_id"), put)
        else:
            tables.overwrite(batch.survey, config, tables.SURVEY, rows=accepted[contract.SURVEY_HOUSEHOLDS])
            store_reported(spark, config, batch.identity_survey, None, put)
        return Stored(False, tables.read(spark, config, tables.REGISTRY), tables.read(spark, config, tables.SURVEY))
    stored = tables.read(spark, config, tables.REGISTRY)
    changed = put("registry_change_set", registry_change_set(batch.registry, stored, batch.registry_events))
    tables.merge_changes(spark, config, tables.REGISTRY, changed, delete=DELETE, new=NEW)
    named = registry_change_set(batch.identity_registry, tables.read(spark, config, tables.IDENTITY_REGISTRY),
                                batch.registry_events, IDENTITY_COLUMNS, stored_hash=False).drop(tables.ROW_HASH)
    # Every row of the change set differs from the stored one (or is new): a matched row is updated as it is.
    tables.merge_changes(spark, config, tables.IDENTITY_REGISTRY, put("identity_change_set", named), delete=DELETE,
                         changed="true", new=NEW)
    # Pinned to this version: the members to delete are read while the merge below writes the table.
    members_before = tables.read(spark, config, tables.MEMBERS, tables.version(spark, config, tables.MEMBERS))
    fresh = put("survey", tables.newer_rows(spark, config, tables.SURVEY, batch.survey))
    tables.upsert(spark, config, tables.SURVEY, fresh)
    store_reported(spark, config, batch.identity_survey, fresh.select("household_id"), put)
    return Stored(True, tables.read(spark, config, tables.REGISTRY), tables.read(spark, config, tables.SURVEY),
                  fresh, changed, members_before)


def store_reported(spark: SparkSession, config: DtksConfig, reported: DataFrame, fresh: DataFrame | None,
                   put: Callable[[str, DataFrame], DataFrame]) -> None:
    """identity_survey: each member as reported. `fresh` (household_id): the households whose survey row this
    delivery replaced: their stored rows give way to the delivered ones (a member no longer listed leaves);
    None: the table is written whole."""
    rows = reported if fresh is None else reported.join(fresh, "household_id", "left_semi")
    tables.replace_within(spark, config, tables.IDENTITY_SURVEY, rows, fresh, changed="true",
                          stage=lambda changes: put("identity_survey_changes", changes))


def reviewed(spark: SparkSession, config: DtksConfig) -> DataFrame | None:
    """The pairs ever sent for review (pending in linkage_review, or decided): what a decision may name."""
    columns = ["household_id", "member_no", "nik_token", "province_code", "match_probability"]
    held = [tables.read(spark, config, name).select(*columns)
            for name in (tables.LINKAGE_REVIEW, tables.LINKAGE_DECISIONS) if tables.exists(spark, config, name)]
    return held[0].unionByName(held[1]) if len(held) == 2 else held[0] if held else None


class Linker:
    """The round's linkage (jobs/ingest/linking.py) with the pinned model: called by the re-match with its
    sides (members without a usable NIK and the registry persons no roster lists); keeps the pairs for review."""

    def __init__(self, spark: SparkSession, config: DtksConfig, put: Callable[[str, DataFrame], DataFrame]):
        self.spark, self.config, self.put = spark, config, put
        self.version: str | None = None
        self.model: dict | None = None
        self.names: DataFrame | None = None  # the reached persons' identities (reach), when it found them
        self.review: DataFrame | None = None
        self.links: DataFrame | None = None

    def _model(self, left: DataFrame, right: DataFrame) -> dict:
        def train() -> dict:
            return linkage.train(self.spark, left, right, self.config.linkage.expected_share)

        if self.model is None:
            self.version, self.model = linkage_versions.pinned(self.config, train)
        return self.model

    @functools.cached_property
    def _decisions(self) -> DataFrame | None:
        """linkage_decisions, read once for the round (the reach and the scoring both use it)."""
        return (tables.read(self.spark, self.config, tables.LINKAGE_DECISIONS)
                if tables.exists(self.spark, self.config, tables.LINKAGE_DECISIONS) else None)

    def reach(self, members: DataFrame, persons: DataFrame) -> tuple[DataFrame, DataFrame | None]:
        """`members` (an update round's) stored, and the persons the pinned version's blocking rules can pair with
        them and those of confirmed decisions; None when there is no version yet (the first is trained on every
        person) or its rules are not equalities of columns."""
        members = self.put("linkage_members", members)  # read for their keys and as the sides' left
        pinned = linkage_versions.current(self.config) if self.model is None else (self.version, self.model)
        keys = None if pinned is None else linkage.blocking_keys(pinned[1])
        if keys is None:
            return members, None
        self.version, self.model = pinned
        decisions = self._decisions
        confirmed = None if decisions is None else decisions.where(F.col("decision") == CONFIRM)
        reached = linking.reachable(members, persons, tables.read(self.spark, self.config, tables.IDENTITY_SURVEY),
                                    tables.read(self.spark, self.config, tables.IDENTITY_REGISTRY), keys, self.put,
                                    confirmed)
        self.names = reached.identities
        return members, reached.persons

    def __call__(self, sides: DataFrame) -> DataFrame | None:
        found = linking.link(self.spark, sides,
                             tables.read(self.spark, self.config, tables.IDENTITY_SURVEY),
                             tables.read(self.spark, self.config, tables.IDENTITY_REGISTRY),
                             self._model, linkage_versions.thresholds(self.config), self.put, self._decisions,
                             self.names)
        # Filters of the staged one-to-one pairs (and the staged confirmed links): cheap to read twice.
        self.review, self.links = found.review, found.links
        return self.links if found.scored else None  # empty and local: the match needs no join with them


def store_review(spark: SparkSession, config: DtksConfig, review: DataFrame, run_id: str,
                 rematched: DataFrame | None) -> None:
    """linkage_review: this round's pairs; in an update round (`rematched`: the households re-matched) only
    theirs change, and their pairs not found again leave."""
    rows = review.withColumn(tables.ROW_HASH, tables.row_hash(
        [c for c in review.columns if c not in tables.HASH_EXCLUDED])).withColumn(
        "ingest_run_id", F.lit(run_id))
    tables.replace_within(spark, config, tables.LINKAGE_REVIEW, rows, rematched)


@dataclass
class Matched:
    """What the re-match did: households matched; with linkage, its version, links made and pairs to review."""

    households: int
    linkage_version: str | None = None
    links: int | None = None
    review: int | None = None


def rematch_and_store(
    spark: SparkSession, config: DtksConfig, batch: Batch, stored: Stored, accepted: dict[str, int],
    put: Callable[[str, DataFrame], DataFrame], run_id: str,
) -> Matched:
    """Match the rosters against the stored registry (members without a usable NIK linked first, when
    linkage.enabled) and write silver_households, silver_members and linkage_review (and silver_training when
    a sample is delivered)."""
    current = Observation()
    link = Linker(spark, config, put) if config.linkage.enabled else None
    if stored.update:
        households, members, gone = match_changed(stored.fresh, stored.survey, stored.members_before,
                                                  stored.registry, stored.changed, put, link,
                                                  batch.linkage_decisions if link is not None else None)
        households = households.observe(current, F.count(F.lit(1)).alias("rows"))
        # Stored before the MERGEs: a MERGE reads its source twice (to find the touched files, then to
        # write), and these derive from scans of the survey and the members table.
        households = put("households", households.withColumn(DELETE, F.lit(False)))
        tables.merge_changes(spark, config, tables.HOUSEHOLDS, households, delete=DELETE)
        member_changes = put("member_changes", members.withColumn(DELETE, F.lit(False)).unionByName(
            gone.withColumn(NEW, F.lit(False)).withColumn(DELETE, F.lit(True)), allowMissingColumns=True
        ))
        tables.merge_changes(spark, config, tables.MEMBERS, member_changes, delete=DELETE, new=NEW)
    else:
        members = match_all(stored.survey, stored.registry, link)
        tables.overwrite(members, config, tables.MEMBERS, rows=accepted[contract.SURVEY_MEMBERS])
        households = household_rows(stored.survey, tables.read(spark, config, tables.MEMBERS))
        households = households.observe(current, F.count(F.lit(1)).alias("rows"))
        tables.overwrite(households, config, tables.HOUSEHOLDS, rows=accepted[contract.SURVEY_HOUSEHOLDS])
    if link is not None and link.review is not None:
        store_review(spark, config, link.review, run_id, households.select("household_id") if stored.update else None)
    if batch.training_households is not None:
        training = training_features(batch.training_households, batch.training_members, stored.registry)
        tables.overwrite(training, config, tables.TRAINING, rows=accepted[contract.TRAINING_HOUSEHOLDS])
    out = Matched(int(current.get["rows"]))
    if link is not None and link.review is not None:
        out.linkage_version, out.review = link.version, link.review.count()
        out.links = link.links.count()
    return out
