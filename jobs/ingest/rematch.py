"""Matching rosters to the registry: the whole survey in a first round, only the rosters a delivery can
change in an update round (pemutakhiran); both give what a first round on the updated inputs gives.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Protocol

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core import contract, regions
from jobs.core.change_set import NEW
from jobs.ingest import features as hh_features
from jobs.ingest import linking, matching
from runtime import tables


class Link(Protocol):
    """The round's linkage (silver.Linker), or None when it is off."""

    def __call__(self, sides: DataFrame) -> DataFrame | None:
        """Linkage's sides (members without a usable NIK and registry persons no roster lists, `link_sides`) ->
        links (household_id, member_no, linked_token, match_probability), None when nobody was compared."""

    def reach(self, members: DataFrame, persons: DataFrame) -> tuple[DataFrame, DataFrame | None]:
        """`members` (linking.member_side rows, few) and the `persons` (person_side rows) the model can pair with
        them, both stored; None for the persons when the model cannot tell (every person then)."""


def current_members(survey: DataFrame) -> DataFrame:
    """Flatten the current rosters (one row per listed member) with their household's interview."""
    return survey.select(
        "household_id",
        "interview_start",
        F.to_date("interview_start").alias("interview_date"),
        "village_code",
        matching.kk_hash("kk_token").alias(matching.HOUSEHOLD_KK),
        F.explode("members").alias("m"),
    ).select("household_id", "interview_start", "interview_date", "village_code", matching.HOUSEHOLD_KK, "m.*")


def member_rows(matched: DataFrame) -> DataFrame:
    """silver_members rows of matched members, with their content hash."""
    members = matched.select(
        "household_id",
        "member_no",
        "nik_token",
        "match_status",
        "match_detail",
        "match_probability",
        "registry_event",
        "sex",
        "birth_date",
        hh_features.age_years("birth_date", "interview_date").alias("age"),
        *contract.MEMBER_ANSWERS,
        "interview_start",
        "interview_date",
        regions.province_code(F.col("village_code")),
        regions.regency_code(F.col("village_code")),
    )
    return members.withColumn(tables.ROW_HASH, tables.row_hash(
        [c for c in members.columns if c not in tables.HASH_EXCLUDED]))


def household_rows(rosters: DataFrame, members: DataFrame) -> DataFrame:
    """silver_households rows of the rosters, with features from their matched members (matched rows or
    silver_members rows: both carry what the features read) and their content hash."""
    households = hh_features.features(rosters.drop("members"), members)
    return households.withColumn(
        tables.ROW_HASH, tables.row_hash([c for c in households.columns if c != "ingest_run_id"])
    )


def _match_registry(registry: DataFrame) -> DataFrame:
    return registry.select("nik_token", "birth_date", "sex", "death_date", "village_code", "kk_token")


def link_sides(members: DataFrame, registry: DataFrame, listed: DataFrame | None = None,
               reach: Callable[[DataFrame, DataFrame], tuple[DataFrame, DataFrame | None]] | None = None
               ) -> DataFrame:
    """Linkage's two sides in one frame (linking.SIDE_COLUMNS): `members` without a usable NIK, and the registry
    persons whose tokens are not `listed` (by a roster's NIK, or linked by a roster the round does not re-match).

    `listed` None: `members` are every current roster's, so one full outer join of their tokens with the
    registry's finds both sides (a member with a null token comes through unmatched, as a left row). Otherwise
    the members are an update round's (staged, few), and `reach` (Link.reach) may keep only the persons the model
    can pair with them, which then meet the national listings by broadcast."""
    left = members.select(*linking.LEFT_COLUMNS)
    persons = registry.select("nik_token", "birth_date", "sex", "village_code", "kk_token", "death_date")
    if listed is not None:  # the registry's tokens the members report come first
        known = registry.select("nik_token").join(left.select("nik_token"), "nik_token", "left_semi")
        side = linking.member_side(linking.unmatched(left, known))
        persons = linking.person_side(persons)
        if reach is not None:
            side, reached = reach(side, persons)
            if reached is not None:
                persons, listed = reached, listed.join(reached.select("nik_token"), "nik_token", "left_semi")
        return side.unionByName(persons.join(listed, "nik_token", "left_anti"))
    shared = ("village_code", "kk", "birth_date", "sex", "death_date")  # what a person brings
    person = linking.person_side(persons).select("nik_token", F.struct(*shared).alias("_p"))
    joined = linking.member_side(left).join(person, "nik_token", "full_outer")
    alone = F.col("household_id").isNull()  # a registry person no member lists
    return joined.where(F.col("_p").isNull() | alone).select(
        F.when(alone, F.lit(linking.PERSON)).otherwise(F.lit(linking.MEMBER)).alias(linking.SIDE),
        *[F.when(alone, F.col(f"_p.{c}")).otherwise(F.col(c)).alias(c) if c in shared else F.col(c)
          for c in linking.SIDE_COLUMNS[1:]])


def national_link_inputs(survey: DataFrame, registry: DataFrame) -> DataFrame:
    """A first round's linkage sides: every current roster's members without a usable NIK, and the registry
    persons no roster lists by NIK (what `dtks model train-linkage` trains on)."""
    return link_sides(current_members(survey), registry)


def _links(members: DataFrame, registry: DataFrame, listed: DataFrame | None, link: Link | None) -> DataFrame | None:
    """The links of `members` without a usable NIK to registry persons whose tokens are not `listed` (None:
    `members` are all the current rosters')."""
    return None if link is None else link(link_sides(members, registry, listed, link.reach))


def match_all(survey: DataFrame, registry: DataFrame, link: Link | None = None) -> DataFrame:
    """silver_members rows of every current roster, matched nationally (with `link`, members without a usable
    NIK linked first). The first round writes them straight to the table and takes the household features from
    it (`household_rows`), so each member row is written once."""
    members = current_members(survey)
    links = _links(members, registry, None, link)
    return member_rows(matching.match(members, _match_registry(registry), events=True, links=links))


def _listings(members: DataFrame) -> DataFrame:
    return members.where(F.col("nik_token").isNotNull()).select(
        "household_id", "member_no", "nik_token", "interview_start"
    )


def _by_nik(stored_members: DataFrame) -> DataFrame:
    """Stored members listed by their NIK (a probabilistic link is not a listing for the duplicate rule)."""
    return stored_members.where(F.col("match_status") != contract.MATCHED_PROBABILISTIC)


def match_changed(
    fresh: DataFrame,
    survey: DataFrame,
    stored_members: DataFrame,
    registry: DataFrame,
    changed_tokens: DataFrame,
    put: Callable[[str, DataFrame], DataFrame],
    link: Link | None = None,
    decided: DataFrame | None = None,
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Re-match only the rosters this delivery can change: (households, members flagged `_new` where silver_members
    lacks them, members to delete).

    fresh: the survey rows this delivery added or replaced; survey: silver_survey with them;
    stored_members: silver_members before this delivery; changed_tokens: registry persons changed.
    A roster can change when it is fresh, or lists a NIK that a fresh roster lists or listed (the
    duplicate rule may move), or lists a NIK whose registry record changed. Its members' statuses
    are taken against every current listing of their NIKs nationally, as in a first round. A roster holding a
    link to a person is affected like one listing the person's NIK; with `link`, its members without a usable
    NIK are linked again against the persons no NIK lists and no unaffected roster links. `decided`: the linkage
    decisions this delivery brought (household_id, nik_token): their rosters are re-matched, and those linking
    their persons, as a first round would apply them.
    """
    fresh_ids = fresh.select("household_id")
    new_listings = _listings(current_members(fresh))
    kept = stored_members.join(fresh_ids, "household_id", "left_anti")
    listings = _listings(_by_nik(kept)).unionByName(new_listings)
    touched = reduce(
        DataFrame.unionByName,
        [
            new_listings.select("nik_token"),
            _listings(stored_members).join(fresh_ids, "household_id", "left_semi").select("nik_token"),
            changed_tokens.select("nik_token"),
            *([decided.select("nik_token")] if decided is not None else []),
        ],
    ).distinct()
    touching = _listings(kept).unionByName(new_listings).join(touched, "nik_token", "left_semi").select("household_id")
    if decided is not None:
        touching = touching.unionByName(decided.select("household_id"))
    affected = put("affected", fresh_ids.unionByName(touching).distinct())
    rosters = survey.join(affected, "household_id", "left_semi")
    # Staged: read by the linkage sides, the tokens to match and the match itself, and few, which the planner then
    # sees (the registry's tokens meet them by broadcast).
    members = put("affected_members", current_members(rosters))
    linked_elsewhere = _listings(kept.where(F.col("match_status") == contract.MATCHED_PROBABILISTIC)).join(
        affected, "household_id", "left_anti")
    links = _links(members, registry, listings.select("nik_token").unionByName(linked_elsewhere.select("nik_token")),
                   link)
    tokens = members.where(F.col("nik_token").isNotNull()).select("nik_token")
    if links is not None:
        tokens = tokens.unionByName(links.select(F.col("linked_token").alias("nik_token")))
        # A linked member no longer lists the NIK it reported (as in a first round, where it is linked before
        # the listings are ranked): its stored listing leaves the duplicate rule.
        listings = listings.join(links.select("household_id", "member_no"), ["household_id", "member_no"],
                                 "left_anti")
    # Staged: the affected rosters' tokens are a few per cent of the nation's, and the planner then sees it, so the
    # national registry and listings meet them by broadcast instead of being shuffled to.
    tokens = put("matched_tokens", tokens.distinct())
    matched = put(
        "matched",
        matching.match(
            members,
            _match_registry(registry).join(tokens, "nik_token", "left_semi"),
            listings.join(tokens, "nik_token", "left_semi"),
            events=True,
            links=links,
        ),
    )
    keys = ["household_id", "member_no"]
    rows = member_rows(matched)
    # The affected rosters' members as stored: one not listed again leaves, and a re-matched member they lack is
    # new to silver_members (appended, not MERGEd: runtime/tables.py merge_changes).
    held = put("members_held", stored_members.select(*keys).join(affected, "household_id", "left_semi"))
    gone = held.join(rows.select(*keys), keys, "left_anti")
    rows = rows.join(held.withColumn("_held", F.lit(True)), keys, "left").select(
        *rows.columns, F.col("_held").isNull().alias(NEW))
    return household_rows(rosters, matched), rows, gone


def training_features(households: DataFrame, members: DataFrame, registry: DataFrame) -> DataFrame:
    dated = members.drop("interview_date").join(
        households.select("household_id", "interview_start", F.to_date("interview_start").alias("interview_date")),
        "household_id",
    )
    matched = matching.match(dated, registry)
    feats = hh_features.features(households, matched)
    return feats.withColumn("log_consumption_per_capita", F.log(F.col("consumption_per_capita")))
