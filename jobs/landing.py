"""The landing-zone input contract (BRIEF §5): sources, mandatory columns, types, and reading.

A missing file or mandatory column is a contract breach: the run stops before anything is written.
A value of the wrong type is a row problem: the value becomes null and the row is marked so that
validation quarantines it, naming the column. Nothing is silently coerced or dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.questionnaire import Questionnaire
from jobs.runtime.errors import InputContractError

log = logging.getLogger(__name__)
S, INT, D, TS, F64 = T.StringType(), T.IntegerType(), T.DateType(), T.TimestampType(), T.DoubleType()

REGISTRY = "registry"
SURVEY_HOUSEHOLDS = "survey_households"
SURVEY_MEMBERS = "survey_members"
TRAINING_HOUSEHOLDS = "training_households"
TRAINING_MEMBERS = "training_members"
SOURCES = (REGISTRY, SURVEY_HOUSEHOLDS, SURVEY_MEMBERS, TRAINING_HOUSEHOLDS, TRAINING_MEMBERS)
BAD_COLUMNS = "_bad_columns"  # names of columns whose raw value could not be read as its type

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
_MEMBER = {"household_id": S, "member_no": INT, "nik": S, "full_name": S, "birth_date": D}


def contract(source: str, q: Questionnaire) -> dict[str, T.DataType]:
    """Mandatory columns and their types for one source."""
    if source == REGISTRY:
        return dict(_REGISTRY)
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


def _exists(spark: SparkSession, path: str) -> bool:
    if "://" not in path:
        return Path(path).exists()
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(hpath)


def read_source(spark: SparkSession, landing_root: str, source: str, fmt: str, q: Questionnaire) -> DataFrame:
    """Read one source and give it the contract's types, marking rows with unreadable values."""
    path = source_path(landing_root, source)
    if not _exists(spark, path):
        raise InputContractError(f"{path}: input for source '{source}' not found")
    reader = spark.read.format(fmt)
    if fmt == "csv":
        # Everything as text: types are applied below, so a bad value is seen, not guessed away.
        reader = reader.option("header", True).option("inferSchema", False).option("mode", "PERMISSIVE")
    try:
        raw = reader.load(path)
    except Exception as exc:  # an empty folder or unreadable file: a contract breach, not a bug
        raise InputContractError(f"{path}: cannot read source '{source}' as {fmt}: {str(exc).splitlines()[0]}") from exc
    wanted = contract(source, q)
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise InputContractError(f"{path}: source '{source}' lacks mandatory column(s): {', '.join(missing)}")
    extra = sorted(set(raw.columns) - set(wanted))
    if extra:
        log.warning("%s: ignoring columns not in the contract: %s", path, ", ".join(extra))
    return apply_types(raw, wanted)


def apply_types(raw: DataFrame, wanted: dict[str, T.DataType]) -> DataFrame:
    """Cast each column to its contract type; record which columns failed per row."""
    typed, bad = [], []
    for name, dtype in wanted.items():
        col = F.col(f"`{name}`")
        source_type = raw.schema[name].dataType
        if source_type == dtype:
            typed.append(col.alias(name))
            continue
        value = F.trim(col) if isinstance(source_type, T.StringType) else col
        cast = value.try_cast(dtype)
        if isinstance(source_type, T.StringType):
            cast = F.when(F.trim(col) == "", F.lit(None).cast(dtype)).otherwise(cast)
        typed.append(cast.alias(name))
        bad.append(F.when(col.isNotNull() & (F.trim(col.cast("string")) != "") & cast.isNull(), F.lit(name)))
    marks = F.filter(F.array(*bad), lambda x: x.isNotNull()) if bad else F.array().cast("array<string>")
    return raw.select(*typed, marks.alias(BAD_COLUMNS))
