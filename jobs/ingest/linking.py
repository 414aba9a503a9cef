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

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core import regions
from jobs.core.identities import flattened
from jobs.core.linkage_review import LINK_TO_DECEASED, PENDING, UNCERTAIN
from jobs.ingest import matching
from models import linkage

MEMBER_ID = "_member_id"
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


def member_id() -> Column:
    """A member's unique_id for Splink (one column); the pairs are joined back on it, never parsed."""
    return F.concat_ws(":", "household_id", F.col("member_no").cast("string"))


def unmatched(members: DataFrame, registry_tokens: DataFrame) -> DataFrame:
    """Members whose NIK cannot match: missing, malformed (no token) or not among the registry's tokens."""
    return members.join(registry_tokens, "nik_token", "left_anti")


def left_side(members: DataFrame, reported: DataFrame) -> DataFrame:
    """Linkage's left: members (household_id, member_no, birth_date, sex, village_code, HOUSEHOLD_KK) with
    their name and NIK as reported (identity_survey's rosters, flattened)."""
    named = members.join(reported, ["household_id", "member_no"], "left")
    return linkage.side(named, member_id(), F.col("full_name"), F.col("birth_date"), F.col("sex"),
                        F.col("village_code"), F.col(matching.HOUSEHOLD_KK), F.col("nik"))


def right_side(persons: DataFrame, identities: DataFrame) -> DataFrame:
    """Linkage's right: registry persons (nik_token, birth_date, sex, village_code, kk_token) with their standard
    name and NIK (identity_registry)."""
    named = persons.join(identities.select("nik_token", "nik", "name"), "nik_token", "left")
    return linkage.side(named, F.col("nik_token"), F.col("name"), F.col("birth_date"), F.col("sex"),
                        F.col("village_code"), matching.kk_hash("kk_token"), F.col("nik"), standard=True)


def frequencies(identity_registry: DataFrame) -> DataFrame:
    """The name comparison's term frequencies: each standard name's share of the registry's names."""
    return linkage.name_frequencies(identity_registry.select("name"))


def decided(pairs: DataFrame, left: DataFrame, persons: DataFrame, thresholds: linkage.Thresholds) -> Links:
    """Pairs scored by `linkage.predict` (with their gamma_ levels) made one-to-one and decided. `left`:
    household_id, member_no, interview_date, province_code and MEMBER_ID of the scored members; `persons`:
    nik_token and death_date of the registry persons."""
    best = linkage.decide(linkage.one_to_one(pairs), thresholds)
    joined = (best.join(left.withColumnRenamed(MEMBER_ID, "member_id"), "member_id")
              .join(persons.select(F.col("nik_token").alias("registry_id"), "death_date"), "registry_id", "left"))
    dead = matching.died_by(F.col("death_date"), F.col("interview_date"))
    link = (F.col("decision") == linkage.LINK) & ~dead
    links = joined.where(link).select("household_id", "member_no", F.col("registry_id").alias("linked_token"),
                                      "match_probability")
    review = joined.where(~link).select(
        "household_id", "member_no", F.col("registry_id").alias("nik_token"), "province_code",
        "match_probability", "match_weight", *[f"level_{c}" for c in LEVELS],
        F.when(F.col("decision") == linkage.LINK, F.lit(LINK_TO_DECEASED)).otherwise(F.lit(UNCERTAIN))
        .alias("review_reason"),
        F.lit(PENDING).alias("review_status"),
    )
    return Links(links, review)


def link(spark: SparkSession, members: DataFrame, persons: DataFrame, identity_survey: DataFrame,
         identity_registry: DataFrame, model_for: Callable[[DataFrame, DataFrame], dict],
         thresholds: linkage.Thresholds, put: Callable[[str, DataFrame], DataFrame]) -> Links:
    """Score `members` (the left, already reduced to those without a usable NIK: household_id, member_no,
    interview_date, village_code, HOUSEHOLD_KK, birth_date, sex) against `persons` (registry persons no roster
    lists: nik_token, birth_date, sex, village_code, kk_token, death_date) with the model `model_for(left,
    right)` gives (the pinned version; a first one trained on these sides when there is none).

    A name's term frequency is its share of the whole registry's names, so that a pair scores the same whoever
    else is scored (an update round scores fewer members than a full round). Both sides are stored (`put`)
    before Splink reads them: each of its steps would otherwise evaluate their
    lineage again (the survey's rosters, the registry and the identity tables)."""
    members = put("linkage_members", members.select(
        "household_id", "member_no", "interview_date", "village_code", matching.HOUSEHOLD_KK, "birth_date", "sex",
        regions.province_code(F.col("village_code")), member_id().alias(MEMBER_ID)))
    persons = put("linkage_persons", persons.select("nik_token", "birth_date", "sex", "village_code", "kk_token",
                                                    "death_date"))
    where = members.select("household_id", "member_no", "interview_date", "province_code", MEMBER_ID)
    if members.isEmpty() or persons.isEmpty():  # nobody to compare: no model is needed, nor Splink started
        return decided(spark.createDataFrame([], PAIRS), where, persons, thresholds)
    reported = flattened(identity_survey.join(members.select("household_id").distinct(), "household_id",
                                              "left_semi"))
    left = put("linkage_left", left_side(members, reported))
    right = put("linkage_right", right_side(persons, identity_registry))
    pairs = linkage.predict(spark, left, right, model_for(left, right), thresholds.lower,
                            put("linkage_name_frequencies", frequencies(identity_registry)))
    return decided(pairs, where, persons, thresholds)


def quality(found: Links, members: DataFrame, truth: DataFrame, by: str | None = None) -> dict:
    """The links and reviews of `members` (household_id, member_no: those scored) judged against `truth`
    (household_id, member_no, registry_token: the person the member is, null for one not in the registry):
    precision (true links among links), recall (true links among members in the registry), review_share (of
    those members, sent to review), absent_linked_share (members not in the registry linked to anyone). With
    `by` (a column of `members`), a dict of them per value."""
    keys = ["household_id", "member_no"]
    judged = (members.select(*keys, *([by] if by else [])).join(truth, keys, "left")
              .join(found.links.select(*keys, "linked_token"), keys, "left")
              .join(found.review.select(*keys).distinct().withColumn("_review", F.lit(True)), keys, "left"))
    present, linked = F.col("registry_token").isNotNull(), F.col("linked_token").isNotNull()
    counts = [
        F.count(F.lit(1)).alias("members"),
        F.count_if(present).alias("in_registry"),
        F.count_if(linked).alias("links"),
        F.count_if(linked & (F.col("linked_token") == F.col("registry_token"))).alias("true_links"),
        F.count_if(present & ~linked & F.col("_review").isNotNull()).alias("review"),
        F.count_if(~present).alias("absent"),
        F.count_if(~present & linked).alias("absent_linked"),
    ]
    if by:
        return {r[by]: _rates(r.asDict()) for r in judged.groupBy(by).agg(*counts).collect()}
    return _rates(judged.agg(*counts).first().asDict())


def _rates(row: dict) -> dict[str, float]:
    def share(a: str, b: str) -> float:
        return row[a] / row[b] if row[b] else float("nan")

    return {**{k: float(v) for k, v in row.items() if isinstance(v, int)},
            "precision": share("true_links", "links"), "recall": share("true_links", "in_registry"),
            "review_share": share("review", "in_registry"), "absent_linked_share": share("absent_linked", "absent")}
