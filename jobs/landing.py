"""The landing-zone input contract (BRIEF §5): sources, mandatory columns, types, and reading.

A missing file or mandatory column is a contract breach: the run stops before anything is written.
A value of the wrong type is a row problem: the value becomes null and the row is marked so that
validation quarantines it, naming the column; so is a date outside the years 1-9999, a NaN or infinite
number, and a CSV line whose field count differs from the header's. Nothing is silently coerced or dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyspark.errors import AnalysisException
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
REGISTRY_CHANGES = "registry_changes"  # an update round's registry events, instead of the whole registry
SOURCES = (REGISTRY, SURVEY_HOUSEHOLDS, SURVEY_MEMBERS, TRAINING_HOUSEHOLDS, TRAINING_MEMBERS)
TRAINING = (TRAINING_HOUSEHOLDS, TRAINING_MEMBERS)
# Registry events (docs/CONTRACTS.md): each row is the person's record after the event.
BIRTH, DEATH, MOVE, NIK_CORRECTION, UPDATE = "BIRTH", "DEATH", "MOVE", "NIK_CORRECTION", "UPDATE"
CHANGES = (BIRTH, DEATH, MOVE, NIK_CORRECTION, UPDATE)
BAD_COLUMNS = "_bad_columns"  # names of columns whose raw value could not be read as its type
MALFORMED = "_malformed_line"  # CSV: raw text of a line with more or fewer fields than the header; in BAD_COLUMNS

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


def delivered(spark: SparkSession, landing_root: str) -> tuple[str, ...]:
    """The sources a delivery holds, in reading order. A full round delivers all five; an update round
    may deliver registry events instead of the whole registry, and no training sample (then
    silver_training is kept). The survey is always delivered: new and re-surveyed households."""
    here = {s for s in (*SOURCES, REGISTRY_CHANGES) if _exists(spark, source_path(landing_root, s))}
    if REGISTRY in here and REGISTRY_CHANGES in here:
        raise InputContractError(
            f"{landing_root}: both '{REGISTRY}' and '{REGISTRY_CHANGES}' delivered: send the whole registry or its "
            "changes, not both"
        )
    if len(here & set(TRAINING)) == 1:
        missing = (set(TRAINING) - here).pop()
        raise InputContractError(f"{source_path(landing_root, missing)}: input for source '{missing}' not found "
                                 "(the training sample comes as households and members together)")
    registry = REGISTRY_CHANGES if REGISTRY_CHANGES in here else REGISTRY
    return (registry, SURVEY_HOUSEHOLDS, SURVEY_MEMBERS, *[s for s in TRAINING if s in here])


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
        if fmt == "csv" and raw.columns:
            # Read again with the header's columns plus one for lines whose field count is wrong:
            # PERMISSIVE alone pads a short line with nulls and drops a long line's extra fields.
            schema = T.StructType([T.StructField(c, S) for c in raw.columns] + [T.StructField(MALFORMED, S)])
            raw = reader.schema(schema).option("columnNameOfCorruptRecord", MALFORMED).load(path)
    except Exception as exc:  # an empty folder or unreadable file: a contract breach, not a bug
        raise InputContractError(f"{path}: cannot read source '{source}' as {fmt}: {_cause(exc)}") from exc
    if not raw.columns:
        raise InputContractError(f"{path}: source '{source}' is empty: no header line, no columns")
    wanted = contract(source, q)
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise InputContractError(f"{path}: source '{source}' lacks mandatory column(s): {', '.join(missing)}")
    extra = sorted(set(raw.columns) - set(wanted) - {MALFORMED})
    if extra:
        log.warning("%s: source '%s' has columns not in the contract, ignored: %s", path, source, ", ".join(extra))
    try:
        return apply_types(raw, wanted)
    except AnalysisException as exc:  # a column stored as a type that cannot be cast (e.g. a date as int)
        wrong = [
            f"{c} is {raw.schema[c].dataType.simpleString()}, expected {t.simpleString()}"
            for c, t in wanted.items()
            if not _castable(raw, c, t)
        ]
        if not wrong:
            raise
        message = f"{path}: source '{source}' has column(s) of a type that cannot be read: {'; '.join(wrong)}"
        raise InputContractError(message) from exc


def _cause(exc: Exception) -> str:
    """The first line of the innermost cause: a JVM error's own first line only names the Py4J call."""
    java = getattr(exc, "java_exception", None)
    if java is not None and type(exc).__name__ == "Py4JJavaError":
        while java.getCause() is not None:
            java = java.getCause()
        return str(java.toString()).splitlines()[0]
    return str(exc).splitlines()[0]


def _castable(raw: DataFrame, name: str, dtype: T.DataType) -> bool:
    try:
        raw.select(F.col(f"`{name}`").try_cast(dtype))
    except AnalysisException:
        return False
    return True


def apply_types(raw: DataFrame, wanted: dict[str, T.DataType]) -> DataFrame:
    """Cast each column to its contract type; record which columns failed per row."""
    typed, bad = [], []
    for name, dtype in wanted.items():
        col = F.col(f"`{name}`")
        source_type = raw.schema[name].dataType
        valid = _valid(dtype)
        if source_type == dtype and valid is None:
            typed.append(col.alias(name))
            continue
        if source_type == dtype:
            cast = col
        else:
            value = F.trim(col) if isinstance(source_type, T.StringType) else col
            cast = value.try_cast(dtype)
            if isinstance(source_type, T.StringType):
                cast = F.when(F.trim(col) == "", F.lit(None).cast(dtype)).otherwise(cast)
        if valid is not None:
            cast = F.when(valid(cast), cast)
        typed.append(cast.alias(name))
        bad.append(F.when(col.isNotNull() & (F.trim(col.cast("string")) != "") & cast.isNull(), F.lit(name)))
    if MALFORMED in raw.columns:
        # Spark counts a line's fields only when the query reads every column of the file, so every
        # column (those outside the contract too) stays in the plan through a test that is never true.
        every = [F.col(f"`{c}`") for c in raw.columns if c != MALFORMED]
        unpruned = F.length(F.concat_ws("", *every)) < 0
        bad.append(F.when(F.col(MALFORMED).isNotNull() | unpruned, F.lit(MALFORMED)))
    marks = F.filter(F.array(*bad), lambda x: x.isNotNull()) if bad else F.array().cast("array<string>")
    return raw.select(*typed, marks.alias(BAD_COLUMNS))


def _valid(dtype: T.DataType):
    """Values a type can hold that the contract does not accept: dates outside the years 1-9999
    (no ISO 8601 or Python date has them), NaN and infinite numbers. None when all values are fine."""
    if isinstance(dtype, T.DateType | T.TimestampType):
        return lambda c: F.year(c).between(1, 9999)
    if isinstance(dtype, T.DoubleType):
        return lambda c: ~F.isnan(c) & (F.abs(c) != F.lit(float("inf")))
    return None
