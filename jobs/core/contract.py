"""What the steps agree on: the landing sources and their columns, registry event codes, match
statuses and household feature names (BRIEF §5-6, docs/CONTRACTS.md).

One place for the names that cross a step's boundary: generate writes what ingest reads, ingest
writes the statuses and features that publish and report read.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from jobs.core.questionnaire import Questionnaire

S, INT, D, TS, F64 = T.StringType(), T.IntegerType(), T.DateType(), T.TimestampType(), T.DoubleType()

# ---------------------------------------------------------------- landing sources

REGISTRY = "registry"
SURVEY_HOUSEHOLDS = "survey_households"
SURVEY_MEMBERS = "survey_members"
TRAINING_HOUSEHOLDS = "training_households"
TRAINING_MEMBERS = "training_members"
REGISTRY_CHANGES = "registry_changes"  # an update round's registry events, instead of the whole registry
APPEALS = "appeals"  # usul and sanggah filed since the last delivery; optional in any round
LINKAGE_DECISIONS = "linkage_decisions"  # regional offices' decisions on linkage_review pairs; optional in any round
SOURCES = (REGISTRY, SURVEY_HOUSEHOLDS, SURVEY_MEMBERS, TRAINING_HOUSEHOLDS, TRAINING_MEMBERS)
OPTIONAL = (APPEALS, LINKAGE_DECISIONS)  # delivered in a round when there are any
TRAINING = (TRAINING_HOUSEHOLDS, TRAINING_MEMBERS)
# Registry events (docs/CONTRACTS.md): each row is the person's record after the event.
BIRTH, DEATH, MOVE, NIK_CORRECTION, UPDATE = "BIRTH", "DEATH", "MOVE", "NIK_CORRECTION", "UPDATE"
CHANGES = (BIRTH, DEATH, MOVE, NIK_CORRECTION, UPDATE)
# Appeals (docs/CONTRACTS.md): a proposal (usul) or an objection (sanggah), about a household or a head's NIK.
USUL, SANGGAH = "USUL", "SANGGAH"
APPEAL_TYPES = (USUL, SANGGAH)
FILER_RELATIONS = ("SELF", "NEIGHBOUR", "VILLAGE_OFFICIAL")
APPEAL_CATEGORIES = ("EXCLUSION", "INCLUSION", "DATA_ERROR")
# Columns holding a Kemendagri region code: read in the plain or the dotted notation (runtime/region_codes.py).
REGION_CODES = ("village_code",)
# A member's coded answers that silver keeps, in their column order (conf/questionnaire.yaml `member`).
MEMBER_ANSWERS = ("relationship", "education", "employment", "disability", "chronic_illness", "pregnant", "in_school")

_REGISTRY = {
    "nik": S,
    "kk_number": S,
    "full_name": S,
    "birth_date": D,
    "sex": S,
    "village_code": S,
    "relationship": INT,
    "death_date": D,
    "updated_at": TS,
}
_HOUSEHOLD = {
    "household_id": S,
    "village_code": S,
    "kk_number": S,
    "enumerator_id": S,
    "supervisor_id": S,
    "coordinator_id": S,
    "interview_start": TS,
    "interview_end": TS,
    "questionnaire_version": S,
}
_APPEAL = {
    "appeal_id": S,
    "appeal_type": S,
    "filed_at": TS,
    "village_code": S,
    "household_id": S,
    "head_nik": S,
    "filer_relation": S,
    "reason_category": S,
    "has_photo": T.BooleanType(),
    "has_gps": T.BooleanType(),
}
_MEMBER = {"household_id": S, "member_no": INT, "nik": S, "full_name": S, "birth_date": D}
# A pair as the review file names it (member, registry person's token) and the office's decision on it.
_DECISION = {"household_id": S, "member_no": INT, "nik_token": S, "decision": S, "decided_by": S, "decided_at": TS}


def columns(source: str, q: Questionnaire) -> dict[str, T.DataType]:
    """Mandatory columns and their types for one source."""
    if source == REGISTRY:
        return dict(_REGISTRY)
    if source == APPEALS:
        return dict(_APPEAL)
    if source == LINKAGE_DECISIONS:
        return dict(_DECISION)
    if source == REGISTRY_CHANGES:
        return {"change": S, "previous_nik": S} | _REGISTRY
    if source in (SURVEY_HOUSEHOLDS, TRAINING_HOUSEHOLDS):
        cols = dict(_HOUSEHOLD) | {v.name: v.spark_type for v in q.household}
        if source == TRAINING_HOUSEHOLDS:
            cols |= {"consumption_per_capita": F64, "weight": F64}
        return cols
    if source in (SURVEY_MEMBERS, TRAINING_MEMBERS):
        return dict(_MEMBER) | {v.name: v.spark_type for v in q.member}
    raise ValueError(f"unknown source {source!r}")


def source_path(landing_root: str, source: str) -> str:
    return f"{landing_root.rstrip('/')}/{source}"


def path_exists(spark: SparkSession, path: str) -> bool:
    if "://" not in path:
        return Path(path).exists()
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hpath)


# ---------------------------------------------------------------- match statuses (padan / tidak padan)

MATCHED = "MATCHED"
MATCHED_WITH_DIFFERENCES = "MATCHED_WITH_DIFFERENCES"
MATCHED_PROBABILISTIC = "MATCHED_PROBABILISTIC"  # no usable NIK, linked by name, birth date and place (linkage)
NOT_FOUND = "NOT_FOUND"
INVALID_NIK = "INVALID_NIK"
MISSING_NIK = "MISSING_NIK"
DECEASED = "DECEASED"
DUPLICATE = "DUPLICATE"
STATUSES = (MATCHED, MATCHED_WITH_DIFFERENCES, MATCHED_PROBABILISTIC, NOT_FOUND, INVALID_NIK, MISSING_NIK, DECEASED,
            DUPLICATE)
MATCHED_STATUSES = (MATCHED, MATCHED_WITH_DIFFERENCES, MATCHED_PROBABILISTIC)  # what the match-rate gates count
UNMATCHED = (MISSING_NIK, INVALID_NIK, NOT_FOUND)  # no usable NIK in the registry: what linkage looks for
NOT_COUNTED = (DUPLICATE, DECEASED)  # household size leaves these out (BRIEF §6)


# ---------------------------------------------------------------- household features (silver_households)

FEATURE_COLUMNS = (
    "hh_size",
    "log_hh_size",
    "floor_area_per_capita",
    "log_floor_area_per_capita",
    "dependency_ratio",
    "share_children_u5",
    "share_elderly",
    "n_children_u5",
    "n_children_u6",
    "n_school_age",
    "n_elderly",
    "n_disabled",
    "n_severe_disabled",
    "n_pregnant",
    "head_female",
    "head_age",
    "head_education",
    "share_working_formal",
)
