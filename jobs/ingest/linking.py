"""Probabilistic linkage in ingest: members without a usable NIK found among the registry persons no NIK lists.

After the NIK match's inputs are known and before it runs: the members whose NIK is missing, malformed or not
in the registry (left) are scored against the registry persons no current roster lists by NIK, nor links
already (right), with the pinned linkage model (models/linkage.py). A pair at or above the upper threshold is
a link: the match then treats the member as that person's (MATCHED_PROBABILISTIC) everywhere downstream. A
link to a person the registry records as dead by the interview, and every pair between the thresholds, goes
to clerical review instead (`linkage_review`): a probabilistic link alone never removes anyone's assistance.
Names and NIKs are read from the restricted identity tables and leave this module only as tokens, levels and
probabilities.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.core import regions
from jobs.core.linkage_review import CONFIRM, LINK_TO_DECEASED, PENDING, REJECT, UNCERTAIN
from jobs.ingest import matching
from models import linkage

MEMBER_ID = "_member_id"
# Both sides travel as one frame (staged once): SIDE says which a row is on; a member carries its household,
# member number and interview date, a person its death date; `kk` is the household's (member) or the person's
# (person) KK as a `matching.kk_hash`.
SIDE, MEMBER, PERSON = "_side", "member", "person"
SIDE_COLUMNS = (SIDE, "household_id", "member_no", "nik_token", "interview_date", "village_code", "kk", "birth_date",
                "sex", "death_date")
# What the left side needs of a member (the anti-join with the registry moves these, not the whole row).
LEFT_COLUMNS = ("household_id", "member_no", "nik_token", "interview_date", "village_code", matching.HOUSEHOLD_KK,
                "birth_date", "sex")
LEVELS = ("name", "birth_date", "sex", "village_code", "kk", "nik")  # the comparisons, as level_<name> columns
PAIRS = ("member_id string, registry_id string, match_probability double, match_weight double, "
         + ", ".join(f"level_{c} int" for c in LEVELS))  # linkage.predict's pairs


@dataclass
class Links:
    """This round's linkage: `links` (household_id, member_no, linked_token, match_probability) for the match;
    `review` the pairs for clerical review (linkage_review rows without their hash and run)."""

    links: DataFrame
    review: DataFrame
    scored: bool = True  # False: nobody was compared (both frames empty, local, nothing to store or join)


def member_id() -> Column:
    """A member's unique_id for Splink (one column); the pairs are joined back on it, never parsed."""
    return F.concat_ws(":", "household_id", F.col("member_no").cast("string"))


def unmatched(members: DataFrame, registry_tokens: DataFrame) -> DataFrame:
    """Members whose NIK cannot match: missing, malformed (no token) or not among the registry's tokens."""
    return members.join(registry_tokens, "nik_token", "left_anti")


def member_side(members: DataFrame) -> DataFrame:
    """SIDE_COLUMNS of members (LEFT_COLUMNS)."""
    return members.select(F.lit(MEMBER).alias(SIDE), "household_id", "member_no", "nik_token", "interview_date",
                          "village_code", F.col(matching.HOUSEHOLD_KK).alias("kk"), "birth_date", "sex",
                          F.lit(None).cast("date").alias("death_date"))


def person_side(persons: DataFrame) -> DataFrame:
    """SIDE_COLUMNS of registry persons (nik_token, birth_date, sex, village_code, kk_token, death_date)."""
    return persons.select(F.lit(PERSON).alias(SIDE), F.lit(None).cast("string").alias("household_id"),
                          F.lit(None).cast("int").alias("member_no"), "nik_token",
                          F.lit(None).cast("date").alias("interview_date"), "village_code",
                          matching.kk_hash("kk_token").alias("kk"), "birth_date", "sex", "death_date")


def members_of(sides: DataFrame) -> DataFrame:
    return sides.where(F.col(SIDE) == MEMBER)


def persons_of(sides: DataFrame) -> DataFrame:
    return sides.where(F.col(SIDE) == PERSON)


def left_side(members: DataFrame, reported: DataFrame) -> DataFrame:
    """Linkage's left: members (household_id, member_no, birth_date, sex, village_code, kk) with their name and
    NIK as reported (identity_survey: household_id, member_no, nik, full_name)."""
    named = members.join(reported, ["household_id", "member_no"], "left")
    return linkage.side(named, member_id(), F.col("full_name"), F.col("birth_date"), F.col("sex"),
                        F.col("village_code"), F.col("kk"), F.col("nik"))


def right_side(persons: DataFrame, identities: DataFrame) -> DataFrame:
    """Linkage's right: registry persons (nik_token, birth_date, sex, village_code, kk) with their standard name
    and NIK (identity_registry)."""
    named = persons.join(identities.select("nik_token", "nik", "name"), "nik_token", "left")
    return linkage.side(named, F.col("nik_token"), F.col("name"), F.col("birth_date"), F.col("sex"),
                        F.col("village_code"), F.col("kk"), F.col("nik"), standard=True)


# Linkage columns a registry person takes from identity_registry (its name and NIK); the rest from its registry row.
IDENTITY_KEYS = frozenset({"name", "name_key", "nik", "nik_prefix"})


def _person_keys(persons: DataFrame) -> DataFrame:
    """linkage.COLUMNS of registry persons (person_side rows) from their registry row alone: no name, no NIK."""
    none = F.lit(None).cast("string")
    return linkage.side(persons, F.col("nik_token"), none, F.col("birth_date"), F.col("sex"), F.col("village_code"),
                        F.col("kk"), none, standard=True)


def _identity_keys(identities: DataFrame) -> DataFrame:
    """linkage.COLUMNS of registry persons from identity_registry alone (nik_token, nik, standard name)."""
    return linkage.side(identities, F.col("nik_token"), F.col("name"), F.lit(None).cast("date"),
                        F.lit(None).cast("string"), F.lit(None).cast("string"), F.lit(None).cast("long"),
                        F.col("nik"), standard=True)


@dataclass
class Reached:
    """The registry persons an update round's members can be paired with: `persons` (person_side rows, staged) and
    their `identities` (identity_registry rows, staged: the right side is named from them)."""

    persons: DataFrame
    identities: DataFrame


def _any_of(rows: DataFrame, wanted: list[tuple[list[str], DataFrame]], flag: str) -> DataFrame:
    """`rows` with a boolean `flag`<i> per (keys, wanted rows) pair: whether its keys are among the wanted (each
    wanted frame few and distinct, so the joins are broadcasts of one scan); only rows with a flag set."""
    for i, (keys, found) in enumerate(wanted):
        rows = rows.join(found.select(*keys, F.lit(True).alias(f"{flag}{i}")), keys, "left")
    flags = [F.coalesce(F.col(f"{flag}{i}"), F.lit(False)) for i in range(len(wanted))]
    return rows.where(functools.reduce(lambda a, b: a | b, flags, F.lit(False)))


def reachable(members: DataFrame, persons: DataFrame, reported: DataFrame, identities: DataFrame,
              keys: list[tuple[str, ...]], put: Callable[[str, DataFrame], DataFrame],
              also: DataFrame | None = None) -> Reached:
    """The `persons` (person_side rows) that one of the blocking rules (`keys`: linkage.blocking_keys) can pair
    with one of `members` (member_side rows, few: an update round's), and those whose tokens are in `also`
    (nik_token). Splink scores the same pairs with them as with every person, since the name's term frequencies
    are the registry's: the persons no rule reaches are never compared.

    One scan of the registry keeps the persons whose own keys of some rule are the members' (a rule on the name
    or NIK too: its other keys), one scan of identity_registry keeps their identities and those whose NIK keys
    are the members', found by an 8-byte hash of the token so the national tables meet only small sets; the
    rules are then finished on those few rows."""
    named = left_side(members, reported.join(members.select("household_id", "member_no"),
                                             ["household_id", "member_no"], "left_semi"))
    left = put("linkage_left_keys", named.select(*sorted({c for rule in keys for c in rule})))

    def wanted(columns: Sequence[str]) -> DataFrame:
        return left.select(*columns).where(" AND ".join(f"{c} IS NOT NULL" for c in columns)).distinct()

    own = [[c for c in rule if c not in IDENTITY_KEYS] for rule in keys]
    theirs = [[c for c in rule if c in IDENTITY_KEYS] for rule in keys]
    by_own = [columns for columns in own if columns]
    person_keys = _person_keys(persons).withColumnRenamed("unique_id", "nik_token")
    near = put("linkage_near", _any_of(person_keys.select("nik_token", *dict.fromkeys(c for cs in by_own for c in cs)),
                                       [(cs, wanted(cs)) for cs in by_own], "_own"))
    hashed = near.select(F.xxhash64("nik_token").alias("_h")).distinct()
    by_theirs = [cs for i, cs in enumerate(theirs) if cs and not own[i]]  # rules on identity keys alone
    also_hashed = [] if also is None else [(["_h"], also.select(F.xxhash64("nik_token").alias("_h")).distinct())]
    # The identities as linkage reads them (name standard, NIK digits or null): right_side gives them the same keys.
    extra = dict.fromkeys(c for cs in by_theirs for c in cs if c not in ("nik", "name"))
    ids = _identity_keys(identities).select(F.col("unique_id").alias("nik_token"), "nik", "name", *extra,
                                            F.xxhash64("unique_id").alias("_h"))
    found = _any_of(ids, [(["_h"], hashed), *also_hashed, *[(cs, wanted(cs)) for cs in by_theirs]], "_id")
    known = put("linkage_identities", found.select("nik_token", "nik", "name"))
    id_keys = _identity_keys(known).withColumnRenamed("unique_id", "nik_token")
    tokens = []
    for i, rule in enumerate(keys):
        if not theirs[i]:
            hits = near.join(wanted(rule), list(rule), "left_semi")
        elif not own[i]:
            hits = id_keys.join(wanted(rule), list(rule), "left_semi")
        else:
            hits = (near.select("nik_token", *own[i]).join(id_keys.select("nik_token", *theirs[i]), "nik_token")
                    .join(wanted(rule), list(rule), "left_semi"))
        tokens.append(hits.select("nik_token"))
    if also is not None:
        tokens.append(also.select("nik_token"))
    # Stored: few tokens, which the national registry then meets by broadcast.
    reached = put("linkage_reachable", functools.reduce(DataFrame.unionByName, tokens).distinct())
    persons = put("linkage_persons", persons.join(reached, "nik_token", "left_semi").select(*persons.columns))
    return Reached(persons, known.join(persons.select("nik_token"), "nik_token", "left_semi"))


def frequencies(identity_registry: DataFrame) -> DataFrame:
    """The name comparison's term frequencies: each standard name's share of the registry's names."""
    return linkage.name_frequencies(identity_registry.select("name"))


def confirmed(decisions: DataFrame, members: DataFrame, persons: DataFrame) -> DataFrame:
    """Links (household_id, member_no, linked_token, match_probability) an office confirmed (`decisions`:
    linkage_decisions rows) where the member still has no usable NIK (`members`) and no roster lists the person
    (`persons`); one per member and per person, the latest decision first (ties by key)."""
    keys = ["household_id", "member_no"]
    sure = (decisions.where(F.col("decision") == CONFIRM)
            .join(members.select(*keys), keys, "left_semi").join(persons.select("nik_token"), "nik_token", "left_semi"))
    for key in (keys, ["nik_token"]):
        order = Window.partitionBy(*key).orderBy(F.desc("decided_at"), "household_id", "member_no", "nik_token")
        sure = sure.withColumn("_r", F.row_number().over(order)).where("_r = 1").drop("_r")
    return sure.select(*keys, F.col("nik_token").alias("linked_token"), "match_probability")


def unrejected(pairs: DataFrame, decisions: DataFrame) -> DataFrame:
    """`pairs` (member_id, registry_id, ...) without those an office rejected: never scored again."""
    rejected = decisions.where(F.col("decision") == REJECT).select(
        member_id().alias("member_id"), F.col("nik_token").alias("registry_id"))
    return pairs.join(rejected, ["member_id", "registry_id"], "left_anti")


def best(pairs: DataFrame, left: DataFrame, persons: DataFrame) -> DataFrame:
    """Pairs scored by `linkage.predict` made one-to-one, with the member's household_id, member_no,
    interview_date and province_code (`left`, by MEMBER_ID) and whether the person died by the interview
    (`persons`: nik_token, death_date): what `decided` splits by threshold."""
    # Only the persons with a death date are looked up: a few, where all the persons would move a national side.
    dead = persons.where(F.col("death_date").isNotNull()).select(F.col("nik_token").alias("registry_id"), "death_date")
    joined = (linkage.one_to_one(pairs).join(left.withColumnRenamed(MEMBER_ID, "member_id"), "member_id")
              .join(dead, "registry_id", "left"))
    return joined.withColumn("_dead", matching.died_by(F.col("death_date"), F.col("interview_date")))


def split(best_pairs: DataFrame, thresholds: linkage.Thresholds) -> Links:
    """`best` pairs decided: at or above the upper threshold a link, unless the person died by the interview
    (LINK_TO_DECEASED, for review); below it a pair for review (UNCERTAIN)."""
    decision = linkage.decide(best_pairs, thresholds)
    link = (F.col("decision") == linkage.LINK) & ~F.col("_dead")
    links = decision.where(link).select("household_id", "member_no", F.col("registry_id").alias("linked_token"),
                                        "match_probability")
    review = decision.where(~link).select(
        "household_id", "member_no", F.col("registry_id").alias("nik_token"), "province_code",
        "match_probability", "match_weight", *[f"level_{c}" for c in LEVELS],
        F.when(F.col("decision") == linkage.LINK, F.lit(LINK_TO_DECEASED)).otherwise(F.lit(UNCERTAIN))
        .alias("review_reason"),
        F.lit(PENDING).alias("review_status"),
    )
    return Links(links, review)


def decided(pairs: DataFrame, left: DataFrame, persons: DataFrame, thresholds: linkage.Thresholds) -> Links:
    """Pairs scored by `linkage.predict` (with their levels) made one-to-one and decided. `left`: household_id,
    member_no, interview_date, province_code and MEMBER_ID of the scored members; `persons`: nik_token and
    death_date of the registry persons."""
    return split(best(pairs, left, persons), thresholds)


def link(spark: SparkSession, sides: DataFrame, identity_survey: DataFrame, identity_registry: DataFrame,
         model_for: Callable[[DataFrame, DataFrame], dict], thresholds: linkage.Thresholds,
         put: Callable[[str, DataFrame], DataFrame], decisions: DataFrame | None = None,
         names: DataFrame | None = None) -> Links:
    """Score the members of `sides` (SIDE_COLUMNS: members without a usable NIK, and the registry persons no
    roster lists) against its persons with the model `model_for(left, right)` gives (the pinned version; a first
    one trained on these sides when there is none).

    `decisions` (linkage_decisions rows): a confirmed pair is linked as it is and leaves the scoring (its member
    and person with it); a rejected pair is never scored again. Neither is sent for review. `names`: the persons'
    identity_registry rows when they are known already (`reachable`), else identity_registry is joined.

    A name's term frequency is its share of the whole registry's names, so that a pair scores the same whoever
    else is scored (an update round scores fewer members than a full round). The sides are stored (`put`), once
    bare and once named, before Splink reads them: each of its steps would otherwise evaluate their lineage
    again (the survey's rosters, the registry and the identity tables)."""
    sides = put("linkage_sides", sides.select(*SIDE_COLUMNS, regions.province_code(F.col("village_code")),
                                              F.when(F.col(SIDE) == MEMBER, member_id()).alias(MEMBER_ID)))
    members, persons = members_of(sides), persons_of(sides)
    where = members.select("household_id", "member_no", "interview_date", "province_code", MEMBER_ID)
    sure = None
    if decisions is not None:
        sure = put("linkage_confirmed", confirmed(decisions, members, persons))
        members = members.join(sure.select("household_id", "member_no"), ["household_id", "member_no"], "left_anti")
        persons = persons.join(sure.select(F.col("linked_token").alias("nik_token")), "nik_token", "left_anti")
    found = _scored(spark, members, persons, where, identity_survey, identity_registry, model_for, thresholds, put,
                    decisions, identity_registry if names is None else names)
    return found if sure is None else Links(found.links.unionByName(sure), found.review)  # scored: sure is stored


def _scored(spark: SparkSession, members: DataFrame, persons: DataFrame, where: DataFrame,
            identity_survey: DataFrame, identity_registry: DataFrame, model_for: Callable[[DataFrame, DataFrame], dict],
            thresholds: linkage.Thresholds, put: Callable[[str, DataFrame], DataFrame],
            decisions: DataFrame | None, names: DataFrame) -> Links:
    if members.isEmpty() or persons.isEmpty():  # nobody to compare: no model, nor Splink started
        empty = decided(spark.createDataFrame([], PAIRS), where, persons, thresholds)
        return Links(spark.createDataFrame([], empty.links.schema), spark.createDataFrame([], empty.review.schema),
                     scored=False)
    reported = identity_survey.join(members.select("household_id").distinct(), "household_id", "left_semi")
    named = put("linkage_named", left_side(members, reported).withColumn(SIDE, F.lit(MEMBER)).unionByName(
        right_side(persons, names).withColumn(SIDE, F.lit(PERSON))))
    left, right = members_of(named).drop(SIDE), persons_of(named).drop(SIDE)
    pairs = linkage.predict(spark, left, right, model_for(left, right), thresholds.lower,
                            put("linkage_name_frequencies", frequencies(identity_registry)))
    pairs = pairs if decisions is None else unrejected(pairs, decisions)
    return split(put("linkage_best", best(pairs, where, persons)), thresholds)  # decided once, split twice


def quality(found: Links, members: DataFrame, truth: DataFrame, by: str | None = None) -> dict:
    """The links and reviews of `members` (household_id, member_no: those scored) judged against `truth`
    (household_id, member_no, registry_token: the person the member is, null for one not in the registry):
    precision (true links among links), recall (true links among members in the registry), review_share (of
    those members, sent to review), absent_linked_share (members not in the registry linked to anyone). With
    `by` (a column of `members`), a dict of them per value."""
    judged = _judged(found, members, truth, by)
    if by:
        return {r[by]: _rates(r.asDict()) for r in judged.groupBy(by).agg(*_counts()).collect()}
    return _rates(judged.agg(*_counts()).first().asDict())


def _judged(found: Links, members: DataFrame, truth: DataFrame, by: str | None) -> DataFrame:
    keys = ["household_id", "member_no"]
    return (members.select(*keys, *([by] if by else [])).join(truth, keys, "left")
            .join(found.links.select(*keys, "linked_token"), keys, "left")
            .join(found.review.select(*keys).distinct().withColumn("_review", F.lit(True)), keys, "left"))


def _counts() -> list[Column]:
    present, linked = F.col("registry_token").isNotNull(), F.col("linked_token").isNotNull()
    return [
        F.count(F.lit(1)).alias("members"),
        F.count_if(present).alias("in_registry"),
        F.count_if(linked).alias("links"),
        F.count_if(linked & (F.col("linked_token") == F.col("registry_token"))).alias("true_links"),
        F.count_if(present & ~linked & F.col("_review").isNotNull()).alias("review"),
        F.count_if(~present).alias("absent"),
        F.count_if(~present & linked).alias("absent_linked"),
    ]


def _rates(row: dict) -> dict[str, float]:
    def share(a: str, b: str) -> float:
        return row[a] / row[b] if row[b] else float("nan")

    return {**{k: float(v) for k, v in row.items() if isinstance(v, int)},
            "precision": share("true_links", "links"), "recall": share("true_links", "in_registry"),
            "review_share": share("review", "in_registry"), "absent_linked_share": share("absent_linked", "absent")}
