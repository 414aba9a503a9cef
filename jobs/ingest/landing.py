"""The landing-zone input contract (BRIEF §5): sources, mandatory columns, types, and reading.

A missing file or mandatory column is a contract breach: the run stops before anything is written.
So is a file that cannot be read as the declared format (not Parquet, truncated or damaged; not UTF-8
text) and a column stored as a type that does not convert to the contract's without loss: one line
names the file (and the column, the stored and the expected type). Files of one source stored
differently (timestamp units, INT96, integer widths, ...) are read apart and converted (docs/CONTRACTS.md).
A value of the wrong type is a row problem: the value becomes null and the row is marked so that
validation quarantines it, naming the column; so is a date outside the years 1-9999, a NaN or infinite
number, and a CSV line whose field count differs from the header's. Nothing is silently coerced or dropped.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.core.contract import (
    OPTIONAL,
    REGION_CODES,
    REGISTRY,
    REGISTRY_CHANGES,
    SOURCES,
    SURVEY_HOUSEHOLDS,
    SURVEY_MEMBERS,
    TRAINING,
    columns,
    path_exists,
    source_path,
)
from jobs.core.questionnaire import Questionnaire
from runtime import region_codes, sql
from runtime.errors import InputContractError

log = logging.getLogger(__name__)
S, INT, D, TS, F64 = T.StringType(), T.IntegerType(), T.DateType(), T.TimestampType(), T.DoubleType()

BAD_COLUMNS = "_bad_columns"  # names of columns whose raw value could not be read as its type
MALFORMED = "_malformed_line"  # CSV: raw text of a line with more or fewer fields than the header; in BAD_COLUMNS


def delivered(spark: SparkSession, landing_root: str) -> tuple[str, ...]:
    """The sources a delivery holds, in reading order. A full round delivers all five; an update round
    may deliver registry events instead of the whole registry, and no training sample (then
    silver_training is kept). The survey is always delivered: new and re-surveyed households. Appeals and
    linkage decisions come when there are any."""
    here = {s for s in (*SOURCES, REGISTRY_CHANGES, *OPTIONAL) if path_exists(spark, source_path(landing_root, s))}
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
    return (registry, SURVEY_HOUSEHOLDS, SURVEY_MEMBERS, *[s for s in (*TRAINING, *OPTIONAL) if s in here])


def read_source(spark: SparkSession, landing_root: str, source: str, fmt: str, q: Questionnaire) -> DataFrame:
    """Read one source and give it the contract's types, marking rows with unreadable values.

    Parquet: every file's footer is read first (a file that has none is refused, naming it); files
    stored alike are read together, so the normal case is one read of the folder, as Spark does it.
    Files stored differently are read apart, each converted to the contract's types where no value can
    be lost (`_LOSSLESS`), and put together; any other stored type is refused, naming file and column.
    CSV (RFC 4180): quoted fields may hold line breaks, separators and doubled quotes; a file that is
    not UTF-8 text is refused, naming it."""
    path = source_path(landing_root, source)
    if not path_exists(spark, path):
        raise InputContractError(f"{path}: input for source '{source}' not found")
    wanted = columns(source, q)
    if fmt == "parquet":
        parts = _parquet_parts(spark, path, source, wanted)
    elif fmt == "csv":
        parts = _csv_parts(spark, path, source, wanted)
    else:
        parts = [_Part(path, _load(path, source, fmt, spark.read.format(fmt), [path]), {}, frozenset(), 0)]
    extra = sorted({c for p in parts for c in p.df.columns} - set(wanted) - {MALFORMED})
    if extra:
        log.warning("%s: source '%s' has columns not in the contract, ignored: %s", path, source, ", ".join(extra))
    typed = reduce(DataFrame.unionByName, [apply_types(_checked(p, source, wanted), wanted, p.nanos) for p in parts])
    codes = [c for c in REGION_CODES if c in wanted]  # the dotted notation is the same code (docs/CONTRACTS.md)
    return typed.withColumns({c: region_codes.plain_column(F.col(c)) for c in codes}) if codes else typed


@dataclass(frozen=True)
class _Part:
    """Files of one source that are read together: stored alike (Parquet) or with the same line ends (CSV)."""

    shown: str  # the first file (or the folder) as messages name it
    df: DataFrame
    stored: dict[str, str]  # Parquet: contract column -> its type in the files, e.g. INT64 TIMESTAMP(NANOS,false)
    nanos: frozenset[str]  # Parquet: columns stored as TIMESTAMP(NANOS), read as their count of nanoseconds
    alike: int  # how many more files are stored the same way


@dataclass(frozen=True)
class _File:
    uri: str  # as Hadoop names it
    shown: str  # under the landing root as given: what messages name
    size: int
    status: object  # the Hadoop FileStatus


def _load(path: str, source: str, fmt: str, reader, target: list[str]) -> DataFrame:
    try:
        return reader.load(target[0] if len(target) == 1 else target)
    except Exception as exc:  # an empty folder or unreadable file: a contract breach, not a bug
        raise InputContractError(f"{path}: cannot read source '{source}' as {fmt}: {_cause(exc)}") from exc


def _cause(exc: Exception) -> str:
    """The first line of the innermost cause: a JVM error's own first line only names the Py4J call."""
    java = getattr(exc, "java_exception", None)
    if java is not None and type(exc).__name__ == "Py4JJavaError":
        while java.getCause() is not None:
            java = java.getCause()
        return str(java.toString()).splitlines()[0]
    return str(exc).splitlines()[0]


def _files(spark: SparkSession, path: str) -> list[_File]:
    """The data files under a source folder, as Spark lists them (names starting with _ or . are not data)."""
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    base = fs.makeQualified(hpath).toString().rstrip("/")
    found = []
    listing = fs.listFiles(hpath, True)
    while listing.hasNext():
        status = listing.next()
        uri = status.getPath().toString()
        name = uri[len(base) + 1 :] if uri.startswith(base + "/") else ""  # "": the source is one file
        if any(_hidden(part) for part in name.split("/") if part):
            continue
        shown = f"{path.rstrip('/')}/{name}" if name else path
        found.append(_File(uri, shown, int(status.getLen()), status))
    return sorted(found, key=lambda f: f.uri)


def _hidden(name: str) -> bool:
    """Spark's rule for names that are not data (HadoopFSUtils.shouldFilterOutPathName)."""
    return (name.startswith("_") and "=" not in name) or name.startswith(".") or name.endswith("._COPYING_")


# ------------------------------------------------------------------ Parquet

# Stored Spark type -> contract types it converts to without loss (besides itself). A string column
# keeps the per-value rule (a value that does not read as the contract type marks its row); a
# timestamp without time zone (isAdjustedToUTC=false) is a UTC time, the contract's zone.
_INTEGERS = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_LOSSLESS: dict[type, tuple[type, ...]] = {
    T.StringType: (T.StringType, T.IntegerType, T.DoubleType, T.DateType, T.TimestampType, T.BooleanType),
    T.NullType: (T.StringType, T.IntegerType, T.DoubleType, T.DateType, T.TimestampType, T.BooleanType),
    T.BinaryType: (T.StringType,),
    **{t: (T.IntegerType, T.DoubleType, T.StringType) for t in _INTEGERS},
    T.FloatType: (T.DoubleType,),
    T.TimestampNTZType: (T.TimestampType,),
}
NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def _parquet_parts(spark: SparkSession, path: str, source: str, wanted: dict[str, T.DataType]) -> list[_Part]:
    files = _files(spark, path)
    data = [f for f in files if f.size > 0]  # an empty file holds no rows (Spark skips it too)
    if not data:
        if files:
            raise InputContractError(_not_parquet(files[0], source, "0 bytes"))
        return [_Part(path, _load(path, source, "parquet", spark.read.format("parquet"), [path]), {}, frozenset(), 0)]
    groups: dict[tuple[str, ...], list[_File]] = {}
    for f in data:
        stored = _stored_types(spark, f, source)
        missing = [c for c in wanted if c not in stored]
        if missing:
            raise InputContractError(f"{f.shown}: source '{source}' lacks mandatory column(s): {', '.join(missing)}")
        groups.setdefault(tuple(stored[c] for c in wanted), []).append(f)
    parts = []
    for signature, members in groups.items():
        stored = dict(zip(wanted, signature, strict=True))
        nanos = frozenset(c for c, s in stored.items() if "TIMESTAMP(NANOS" in s)
        reader = spark.read.format("parquet")
        target = [path]
        if len(groups) > 1:
            reader, target = reader.option("basePath", path), [f.uri for f in members]
        if nanos:
            df = _nanos_load(spark, path, source, reader, target)
        else:
            df = _load(path, source, "parquet", reader, target)
        parts.append(_Part(members[0].shown, df, stored, nanos, len(members) - 1))
    return parts


def _nanos_load(spark: SparkSession, path: str, source: str, reader, target: list[str]) -> DataFrame:
    """Spark 4 reads TIMESTAMP(NANOS) only as its count of nanoseconds, and only with this setting on while
    the schema is taken; read with that schema, the files read the same whatever the setting is later."""
    before = spark.conf.get(NANOS_AS_LONG, None)
    spark.conf.set(NANOS_AS_LONG, "true")
    try:
        schema = _load(path, source, "parquet", reader, target).schema
    finally:
        if before is None:
            spark.conf.unset(NANOS_AS_LONG)
        else:
            spark.conf.set(NANOS_AS_LONG, before)
    return _load(path, source, "parquet", reader.schema(schema), target)


def _stored_types(spark: SparkSession, f: _File, source: str) -> dict[str, str]:
    """Each top-level column of a Parquet file with its stored type, from the file's footer."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    try:
        footer = jvm.org.apache.parquet.hadoop.ParquetFileReader.readFooter(
            jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromStatus(f.status, conf),
            jvm.org.apache.parquet.format.converter.ParquetMetadataConverter.SKIP_ROW_GROUPS,
        )
        schema = str(footer.getFileMetaData().getSchema().toString())
    except Exception as exc:
        reason = _footer_problem(spark, f)
        if reason is None:  # the file reads as bytes and looks like Parquet: not a problem of the file's
            raise
        raise InputContractError(_not_parquet(f, source, reason)) from exc
    return _top_level(schema)


def _not_parquet(f: _File, source: str, reason: str) -> str:
    return f"{f.shown}: source '{source}': the file is not a Parquet file, or is truncated or damaged ({reason})"


def _footer_problem(spark: SparkSession, f: _File) -> str | None:
    """Why a file has no readable Parquet footer, from its first and last bytes (None if they are fine)."""
    if f.size < 12:  # magic number, footer length, magic number
        return f"{f.size} bytes"
    try:
        head, tail = _bytes(spark, f, 0, 4), _bytes(spark, f, f.size - 8, 8)
    except Exception:  # noqa: BLE001 - unreadable as bytes too: the storage's problem, reported as it is
        return None
    if head != PARQUET_MAGIC:
        return f"it does not start with {PARQUET_MAGIC.decode()}"
    if tail[4:] != PARQUET_MAGIC:
        return f"it does not end with {PARQUET_MAGIC.decode()}"
    return "its footer cannot be decoded"


PARQUET_MAGIC = b"PAR1"


def _bytes(spark: SparkSession, f: _File, offset: int, n: int) -> bytes:
    path = f.status.getPath()
    stream = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).open(path)
    try:
        stream.seek(offset)
        return bytes(stream.readNBytes(n))
    finally:
        stream.close()


_FIELD = re.compile(r"^  (required|optional|repeated) (\S+) (.*?)(?: \{|;)$")


def _top_level(schema: str) -> dict[str, str]:
    """Top-level columns of a Parquet schema (MessageType.toString) -> stored type, e.g.
    `optional int64 t (TIMESTAMP(NANOS,false));` -> {'t': 'INT64 TIMESTAMP(NANOS,false)'}. A column whose
    name holds a space or bracket may be missed: contract columns have none."""
    out = {}
    for line in schema.splitlines()[1:]:
        m = _FIELD.match(line)
        if not m:
            continue
        repetition, kind, rest = m.groups()
        name, _, after = rest.partition(" ")
        annotation = re.match(r"^\((.*)\)(?: = \d+)?$", after) if after else None
        if after and annotation is None and not re.fullmatch(r"= \d+", after):
            continue  # a name with a space in it: not a contract column
        stored = kind.upper() + (f" {annotation.group(1)}" if annotation else "")
        out[name] = ("REPEATED " if repetition == "repeated" else "") + stored
    return out


def _checked(part: _Part, source: str, wanted: dict[str, T.DataType]) -> DataFrame:
    """The part's columns, if each converts to its contract type without loss; else one line naming the
    file, the column, its stored type and the expected one. (CSV columns are text: checked value by value.)"""
    if not part.df.columns:
        raise InputContractError(f"{part.shown}: source '{source}' is empty: no header line, no columns")
    missing = [c for c in wanted if c not in part.df.columns]
    if missing:
        raise InputContractError(f"{part.shown}: source '{source}' lacks mandatory column(s): {', '.join(missing)}")
    wrong = []
    for name, dtype in wanted.items():
        stored = part.df.schema[name].dataType
        if name in part.nanos:
            ok, shown = isinstance(dtype, T.TimestampType), "timestamp"
        else:
            ok = stored == dtype or any(isinstance(dtype, t) for t in _LOSSLESS.get(type(stored), ()))
            integral = isinstance(stored, T.DecimalType) and stored.scale == 0  # e.g. a UINT64
            ok = ok or (integral and type(dtype) in _LOSSLESS[T.LongType])
            shown = stored.simpleString()
        if not ok:
            how = f" (stored as {part.stored[name]})" if name in part.stored else ""
            wrong.append(f"column {name} is {shown}{how}, expected {dtype.simpleString()}")
    if wrong:
        alike = f" ({part.alike} more file(s) of this source are stored alike)" if part.alike else ""
        raise InputContractError(f"{part.shown}: source '{source}': {'; '.join(wrong)}{alike}")
    return part.df


# ------------------------------------------------------------------ CSV

TEXT_HEAD = 8192  # bytes of each CSV file looked at: is it text, and how do its lines end


def _csv_parts(spark: SparkSession, path: str, source: str, wanted: dict[str, T.DataType]) -> list[_Part]:
    by_line_end: dict[str | None, list[_File]] = {}
    for f in _files(spark, path):
        if f.size == 0:
            continue  # no header, no rows: Spark skips it (a source of such files only is empty)
        head = _text_head(spark, f)
        problem = _not_text(head)
        if problem:
            raise InputContractError(f"{f.shown}: source '{source}': not a CSV text file ({problem})")
        by_line_end.setdefault(_line_end(head), []).append(f)
    groups = list(by_line_end.items()) or [(None, [])]
    parts = []
    for line_end, members in groups:
        # RFC 4180: a quoted field may hold line breaks and doubled quotes; everything as text, so a bad
        # value is seen, not guessed away. The line end is given when known: then a CRLF inside a quoted
        # field of a CRLF file is kept as it is (Spark's detection would turn it into LF).
        reader = (
            spark.read.format("csv")
            .option("header", True)
            .option("inferSchema", False)
            .option("mode", "PERMISSIVE")
            .option("multiLine", True)
            .option("escape", '"')
        )
        if line_end is not None:
            reader = reader.option("lineSep", line_end)
        target = [path] if len(groups) == 1 else [f.uri for f in members]
        raw = _load(path, source, "csv", reader, target)
        if raw.columns:
            # Read again with the header's columns plus one for lines whose field count is wrong:
            # PERMISSIVE alone pads a short line with nulls and drops a long line's extra fields.
            schema = T.StructType([T.StructField(c, S) for c in raw.columns] + [T.StructField(MALFORMED, S)])
            raw = _load(path, source, "csv", reader.schema(schema).option("columnNameOfCorruptRecord", MALFORMED),
                        target)
        parts.append(_Part(path, raw, {}, frozenset(), 0))
    return parts


def _text_head(spark: SparkSession, f: _File) -> bytes:
    """The first bytes of a file, decompressed when its name says it is (e.g. .csv.gz), as Spark reads it."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    path = f.status.getPath()
    stream = path.getFileSystem(conf).open(path)
    try:
        codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf).getCodec(path)
        if codec is not None:
            stream = codec.createInputStream(stream)
        return bytes(stream.readNBytes(TEXT_HEAD))
    finally:
        stream.close()


def _not_text(head: bytes) -> str | None:
    if head.startswith(PARQUET_MAGIC):
        return "it is a Parquet file"
    if b"\x00" in head:
        return "it holds NUL bytes"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a character cut at the end is fine
    except UnicodeDecodeError as exc:
        return f"it is not UTF-8 text: byte {head[exc.start]:#04x} at offset {exc.start}"
    return None


def _line_end(head: bytes) -> str | None:
    at = head.find(b"\n")
    if at < 0:
        return None
    return "\r\n" if at > 0 and head[at - 1 : at] == b"\r" else "\n"


# ------------------------------------------------------------------ damaged files found while reading


def read_failure(spark: SparkSession, exc: BaseException, landing_root: str) -> InputContractError | None:
    """The one-line contract breach for Spark's failure to read a landing file (error FAILED_READ_FILE,
    e.g. a damaged Parquet data page: its footer was fine, so it is found only when the rows are read);
    None for any other error, or a file outside `landing_root`."""
    stale = _CHECKSUM.search(_chain_text(exc))
    failed = (stale.group(1), None) if stale else _failed_read(spark, exc)
    if failed is None:
        return None
    uri, cause = failed
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(landing_root)
    root = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).makeQualified(hpath).toString()
    try:
        file = str(jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(uri)).toString())
    except Exception:  # noqa: BLE001 - not a URI: compare it as it is
        file = uri
    root = root.rstrip("/")
    if not file.startswith(root + "/"):
        return None
    name = file[len(root) + 1 :]
    source = name.split("/", 1)[0]
    shown = f"{landing_root.rstrip('/')}/{name}"
    if stale:
        folder, _, base = shown.rpartition("/")
        return InputContractError(
            f"{shown}: source '{source}': the file does not match its Hadoop checksum sidecar {folder}/.{base}.crc "
            "(changed after the sidecar was written, or damaged); if the file is right, delete the sidecar")
    why = f" ({cause})" if cause else ""
    return InputContractError(f"{shown}: source '{source}': the file cannot be read, it is damaged{why}")


@contextmanager
def reading(spark: SparkSession, landing_root: str) -> Iterator[None]:
    """Around the reading of the landing zone and the first pass over its rows: a damaged landing file, or
    one that no longer matches its checksum sidecar, ends as one InputContractError line naming it (raised
    from Spark's error); every other error goes through as it is."""
    try:
        yield
    except Exception as exc:
        breach = read_failure(spark, exc, landing_root)
        if breach is None:
            raise
        raise breach from exc


# Hadoop's local file system checks each file against its `.NAME.crc` sidecar as it reads it.
_CHECKSUM = re.compile(r"ChecksumException: Checksum error: (\S+) at \d+")


def _chain_text(exc: BaseException) -> str:
    """The messages of `exc` and its causes (a JVM error's text holds its Java causes)."""
    seen, texts = exc, []
    while seen is not None and len(texts) < 20:
        texts.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


_FAILED_READ = re.compile(r"\[FAILED_READ_FILE[.\w]*\] Encountered error while reading file (\S+?)\.?\s")


def _failed_read(spark: SparkSession, exc: BaseException) -> tuple[str, str | None] | None:
    """(file, first line of the cause) of a FAILED_READ_FILE error anywhere in `exc`'s chain."""
    from py4j.java_gateway import is_instance_of

    gateway = spark.sparkContext._gateway
    seen: BaseException | None = exc
    while seen is not None:
        java = getattr(seen, "java_exception", None) or getattr(seen, "_origin", None)
        while java is not None:
            if is_instance_of(gateway, java, "org.apache.spark.SparkThrowable"):
                condition = java.getCondition()
                if condition is not None and str(condition).startswith("FAILED_READ_FILE"):
                    path = dict(java.getMessageParameters()).get("path")
                    inner = java.getCause()
                    message = inner.getMessage() if inner is not None else None
                    if path:
                        return str(path), str(message).splitlines()[0] if message else None
            java = java.getCause()
        m = _FAILED_READ.search(str(seen))
        if m:
            return m.group(1), None
        seen = seen.__cause__ or seen.__context__
    return None


def apply_types(raw: DataFrame, wanted: dict[str, T.DataType], nanos: frozenset[str] = frozenset()) -> DataFrame:
    """Cast each column to its contract type; record which columns failed per row. `nanos`: columns
    holding a Parquet TIMESTAMP(NANOS) as its count of nanoseconds (a value with digits below the
    microsecond has no exact timestamp: unreadable, like a bad value).

    Written as SQL text, one projection: built from Column objects it cost about twenty py4j round trips per
    column, most of a small source's reading time (docs/TESTING.md)."""
    schema = {f.name: f.dataType for f in raw.schema.fields}
    typed, bad = [], []
    for name, dtype in wanted.items():
        col, source_type, sql_type = sql.ident(name), schema[name], dtype.simpleString()
        if source_type == dtype and _valid(dtype, col) is None:
            typed.append(f"{col} AS {col}")
            continue
        if name in nanos:
            cast = f"CASE WHEN {col} % 1000 = 0 THEN timestamp_micros({col} div 1000) END"
        elif source_type == dtype:
            cast = col
        elif isinstance(source_type, T.TimestampNTZType) and isinstance(dtype, T.TimestampType):
            # A local time without zone (Parquet isAdjustedToUTC=false) is a UTC time, the contract's zone.
            cast = f"CAST(convert_timezone('UTC', current_timezone(), {col}) AS {sql_type})"
        elif isinstance(source_type, T.StringType):
            cast = (f"CASE WHEN trim({col}) = '' THEN CAST(NULL AS {sql_type}) "
                    f"ELSE try_cast(trim({col}) AS {sql_type}) END")
        else:
            cast = f"try_cast({col} AS {sql_type})"
        valid = _valid(dtype, f"({cast})")
        if valid is not None:
            cast = f"CASE WHEN {valid} THEN {cast} END"
        typed.append(f"{cast} AS {col}")
        # A blank text is a missing value, not a bad one; a value of another type is never blank (and is not
        # formatted as text to find that out).
        given = (f"{col} IS NOT NULL AND trim(CAST({col} AS STRING)) != ''"
                 if isinstance(source_type, T.StringType | T.BinaryType) else f"{col} IS NOT NULL")
        bad.append(f"CASE WHEN {given} AND ({cast}) IS NULL THEN {sql.text(name)} END")
    if MALFORMED in raw.columns:
        # Spark counts a line's fields only when the query reads every column of the file, so every
        # column (those outside the contract too) stays in the plan through a test that is never true.
        every = ", ".join(sql.ident(c) for c in raw.columns if c != MALFORMED)
        bad.append(f"CASE WHEN {sql.ident(MALFORMED)} IS NOT NULL OR length(concat_ws('', {every})) < 0 "
                   f"THEN {sql.text(MALFORMED)} END")
    marks = f"filter(array({', '.join(bad)}), x -> x IS NOT NULL)" if bad else "CAST(array() AS array<string>)"
    return raw.selectExpr(*typed, f"{marks} AS {sql.ident(BAD_COLUMNS)}")


def _valid(dtype: T.DataType, value: str) -> str | None:
    """SQL condition on `value` for values a type can hold that the contract does not accept: dates outside the
    years 1-9999 (no ISO 8601 or Python date has them), NaN and infinite numbers. None when all values are fine."""
    if isinstance(dtype, T.DateType | T.TimestampType):
        return f"year({value}) BETWEEN 1 AND 9999"
    if isinstance(dtype, T.DoubleType):
        return f"NOT isnan({value}) AND abs({value}) != double('inf')"
    return None
