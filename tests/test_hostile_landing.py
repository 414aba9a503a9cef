"""Hostile landing files (issue 18): each case ends in exactly one of two outcomes.

Either the rows are read exactly (files of one source stored differently, when every value converts to
the contract's type without loss; CSV with RFC 4180 quoting), or ingest stops before writing with one
line naming the file (and the column, the stored and the expected type), every table of a lakehouse
that already holds a round keeping its version. Files are written with pyarrow, pandas or the csv
module, like files delivered from outside, beside the Spark-written files of tests/landing_data.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.core import contract, questionnaire
from jobs.ingest import landing
from runtime import tables
from runtime.errors import InputContractError
from tests import landing_data as ld
from tests.conftest import make_config, run, small_data_settings

REG, HH, MEM = contract.REGISTRY, contract.SURVEY_HOUSEHOLDS, contract.SURVEY_MEMBERS
UTC_US = pa.timestamp("us", tz="UTC")  # how Spark stores a timestamp: INT64 TIMESTAMP(MICROS,true)
ARROW = {T.StringType(): pa.string(), T.IntegerType(): pa.int32(), T.DoubleType(): pa.float64(),
         T.DateType(): pa.date32(), T.TimestampType(): UTC_US}
DEFAULT = {T.StringType(): "x", T.IntegerType(): 1, T.DoubleType(): 1.0, T.DateType(): dt.date(2000, 1, 1),
           T.TimestampType(): dt.datetime(2026, 3, 1, 9)}


@pytest.fixture(scope="module", autouse=True)
def small_data(spark):
    with small_data_settings(spark):
        yield


@pytest.fixture(scope="module")
def q(tmp_path_factory):
    return questionnaire.load(make_config(tmp_path_factory.mktemp("hostile_q")))


def write(folder: Path, name: str, source: str, q, rows: list[dict], types: dict | None = None, **options) -> Path:
    """A Parquet file of `source`: every contract column, the given values, the rest a fixed value;
    stored as Spark stores the contract types unless `types` says otherwise (column -> arrow type)."""
    wanted = contract.columns(source, q)
    types = types or {}
    arrays = {c: pa.array([r.get(c, DEFAULT[t]) for r in rows], types.get(c, ARROW[t])) for c, t in wanted.items()}
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays), folder / name, **options)
    return folder / name


def stored(file: Path, column: str) -> str:
    """A column's type as the file holds it (physical, logical): the test writes what it says it writes."""
    schema = pq.ParquetFile(file).schema
    c = schema.column(schema.names.index(column))
    logical = json.loads(c.logical_type.to_json())
    detail = [f"{k}={logical[k]}" for k in ("timeUnit", "isAdjustedToUTC", "bitWidth") if k in logical]
    return f"{c.physical_type} {logical['Type']}({', '.join(detail)})"


def read(spark, root: Path, source: str, q, *columns: str, fmt: str = "parquet") -> list[tuple]:
    df = landing.read_source(spark, str(root), source, fmt, q)
    return [tuple(r) for r in df.select(*columns, landing.BAD_COLUMNS).orderBy(columns[0]).collect()]


# ------------------------------------------------------------------ read exactly


def test_timestamp_units_millis_micros_nanos(spark, q, tmp_path):
    """A Spark-like file (micros), one in millis and one written by pandas (INT64 TIMESTAMP(NANOS,false),
    which Spark 4 refuses by default): every value read to the microsecond; a value with digits below the
    microsecond has no exact timestamp, so its row is marked (and quarantined) like an unreadable value."""
    folder = tmp_path / REG
    write(folder, "part-0.parquet", REG, q, [{"nik": "N1", "updated_at": dt.datetime(2026, 1, 1, 8, 0, 0, 123456)}])
    millis = write(folder, "part-1.parquet", REG, q,
                   [{"nik": "N2", "updated_at": dt.datetime(2026, 1, 2, 8, 0, 0, 123000)}],
                   {"updated_at": pa.timestamp("ms", tz="UTC")})
    frame = pd.DataFrame({c: [DEFAULT[t]] * 2 for c, t in contract.columns(REG, q).items()})
    frame["nik"] = ["N3", "N4"]
    frame["updated_at"] = pd.to_datetime(["2026-01-03 08:00:00.123456", "2026-01-04 08:00:00.123456789"])
    frame.to_parquet(folder / "part-2.parquet", index=False)
    assert stored(millis, "updated_at") == "INT64 Timestamp(timeUnit=milliseconds, isAdjustedToUTC=True)"
    assert stored(folder / "part-2.parquet", "updated_at") == (
        "INT64 Timestamp(timeUnit=nanoseconds, isAdjustedToUTC=False)"
    )
    assert read(spark, tmp_path, REG, q, "nik", "updated_at") == [
        ("N1", dt.datetime(2026, 1, 1, 8, 0, 0, 123456), []),
        ("N2", dt.datetime(2026, 1, 2, 8, 0, 0, 123000), []),
        ("N3", dt.datetime(2026, 1, 3, 8, 0, 0, 123456), []),
        ("N4", None, ["updated_at"]),
    ]


def test_timestamp_not_adjusted_to_utc_is_a_utc_time(spark, q, tmp_path):
    """isAdjustedToUTC=false (Spark: TIMESTAMP_NTZ) beside true: the local time is the contract's UTC."""
    folder = tmp_path / REG
    write(folder, "part-0.parquet", REG, q, [{"nik": "N1", "updated_at": dt.datetime(2026, 1, 1, 23, 30)}])
    write(folder, "part-1.parquet", REG, q, [{"nik": "N2", "updated_at": dt.datetime(2026, 1, 1, 23, 30)}],
          {"updated_at": pa.timestamp("us")})
    assert read(spark, tmp_path, REG, q, "nik", "updated_at") == [
        ("N1", dt.datetime(2026, 1, 1, 23, 30), []),
        ("N2", dt.datetime(2026, 1, 1, 23, 30), []),
    ]


def test_int96_beside_int64_timestamps(spark, q, tmp_path):
    folder = tmp_path / REG
    int96 = write(folder, "part-0.parquet", REG, q,
                  [{"nik": "N1", "updated_at": dt.datetime(2026, 2, 1, 7, 15, 0, 250000)}],
                  use_deprecated_int96_timestamps=True)
    write(folder, "part-1.parquet", REG, q, [{"nik": "N2", "updated_at": dt.datetime(2026, 2, 2, 7, 15, 0, 1)}])
    assert stored(int96, "updated_at") == "INT96 None()"
    assert read(spark, tmp_path, REG, q, "nik", "updated_at") == [
        ("N1", dt.datetime(2026, 2, 1, 7, 15, 0, 250000), []),
        ("N2", dt.datetime(2026, 2, 2, 7, 15, 0, 1), []),
    ]


def test_int32_int64_and_int8_integers(spark, q, tmp_path):
    """int8/32/64 for an int column: read; a value out of the int range marks its row, as in a CSV."""
    folder = tmp_path / REG
    write(folder, "part-0.parquet", REG, q, [{"nik": "N1", "relationship": 1}])
    wide = write(folder, "part-1.parquet", REG, q,
                 [{"nik": "N2", "relationship": 3}, {"nik": "N3", "relationship": 2**40}], {"relationship": pa.int64()})
    write(folder, "part-2.parquet", REG, q, [{"nik": "N4", "relationship": 11}], {"relationship": pa.int8()})
    assert stored(wide, "relationship") == "INT64 None()"
    assert read(spark, tmp_path, REG, q, "nik", "relationship") == [
        ("N1", 1, []),
        ("N2", 3, []),
        ("N3", None, ["relationship"]),
        ("N4", 11, []),
    ]


def test_integers_and_float32_for_a_double(spark, q, tmp_path):
    folder = tmp_path / HH
    write(folder, "part-0.parquet", HH, q, [{"household_id": "H1", "floor_area": 36.5}])
    write(folder, "part-1.parquet", HH, q, [{"household_id": "H2", "floor_area": 0.1}], {"floor_area": pa.float32()})
    write(folder, "part-2.parquet", HH, q, [{"household_id": "H3", "floor_area": 40}], {"floor_area": pa.int64()})
    assert read(spark, tmp_path, HH, q, "household_id", "floor_area") == [
        ("H1", 36.5, []),
        ("H2", 0.10000000149011612, []),  # the float32 nearest 0.1, exactly
        ("H3", 40.0, []),
    ]


def test_dictionary_and_plain_strings(spark, q, tmp_path):
    """pandas category columns (dictionary-encoded) beside plain-encoded strings."""
    folder = tmp_path / REG
    write(folder, "part-0.parquet", REG, q, [{"nik": "N1", "sex": "L", "village_code": ld.V_BDG}],
          use_dictionary=False)
    frame = pd.DataFrame({c: [DEFAULT[t]] * 2 for c, t in contract.columns(REG, q).items()})
    frame["nik"] = ["N2", "N3"]
    frame["sex"] = pd.Categorical(["P", "L"])
    frame["village_code"] = pd.Categorical([ld.V_ACEH, ld.V_ACEH])
    frame["relationship"] = frame["relationship"].astype("int32")
    frame["updated_at"] = frame["updated_at"].astype("datetime64[us]").dt.tz_localize("UTC")
    frame.to_parquet(folder / "part-1.parquet", index=False)
    encodings = [set(pq.ParquetFile(folder / f"part-{i}.parquet").metadata.row_group(0).column(4).encodings)
                 for i in (0, 1)]
    assert "RLE_DICTIONARY" not in encodings[0] and "RLE_DICTIONARY" in encodings[1]
    # Stored alike otherwise: one read of the folder, as for Spark's own files.
    assert len(landing._parquet_parts(spark, str(folder), REG, contract.columns(REG, q))) == 1
    assert read(spark, tmp_path, REG, q, "nik", "sex", "village_code") == [
        ("N1", "L", ld.V_BDG, []),
        ("N2", "P", ld.V_ACEH, []),
        ("N3", "L", ld.V_ACEH, []),
    ]


def _csv(rows: list[list[str]], lineterminator: str) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=lineterminator).writerows(rows)
    return buf.getvalue().encode()


def test_csv_quoted_line_breaks_and_doubled_quotes(spark, q, tmp_path):
    """RFC 4180: a quoted field holds line breaks (LF, and CRLF in a file whose lines end in CRLF),
    separators and doubled quotes; a backslash is an ordinary character. Every value read exactly."""
    folder = tmp_path / REG
    folder.mkdir()
    header = list(contract.columns(REG, q))

    def row(nik: str, name: str) -> list[str]:
        return [nik, "3273010101200001", name, "1980-03-04", "L", ld.V_BDG, "1", "", "2026-01-01 00:00:00"]

    names = {"N1": "Nur\nBinti", "N2": 'Budi "Bud", \\ Jr', "N3": "Siti\r\nAminah", "N4": 'a "" b\n"'}
    (folder / "part-0.csv").write_bytes(_csv([header, row("N1", names["N1"]), row("N2", names["N2"])], "\n"))
    (folder / "part-1.csv").write_bytes(_csv([header, row("N3", names["N3"]), row("N4", names["N4"])], "\r\n"))
    assert b'"Budi ""Bud"", \\ Jr"' in (folder / "part-0.csv").read_bytes()
    assert read(spark, tmp_path, REG, q, "nik", "full_name", "updated_at", fmt="csv") == [
        ("N1", "Nur\nBinti", dt.datetime(2026, 1, 1), []),
        ("N2", 'Budi "Bud", \\ Jr', dt.datetime(2026, 1, 1), []),
        ("N3", "Siti\r\nAminah", dt.datetime(2026, 1, 1), []),
        ("N4", 'a "" b\n"', dt.datetime(2026, 1, 1), []),
    ]


# ------------------------------------------------------------------ refused before writing


@pytest.fixture(scope="module")
def lakehouse(spark, tmp_path_factory):
    """A lakehouse holding one ingested round, and its landing zone in both formats (Spark-written)."""
    root = tmp_path_factory.mktemp("hostile")
    config = make_config(root)
    landing_root = {fmt: ld.write_landing(spark, root / f"landing_{fmt}", fmt) for fmt in ("parquet", "csv")}
    run(spark, config, "ingest", run_id="hostile-base", landing=str(landing_root["parquet"]), as_of=ld.AS_OF)
    return config, landing_root


def versions(spark, config) -> dict[str, int | None]:
    return {t: tables.version(spark, config, t) for t in tables.CATALOG}


def refused(spark, lakehouse, tmp_path: Path, fmt: str, damage, expected: str) -> None:
    """Copy the landing zone, damage it, run the ingest stage: it stops with exactly `expected`, every
    table keeps its version; pipeline_runs records the failed run (its one commit), with the message."""
    config, landing_root = lakehouse
    root = tmp_path / "landing"
    shutil.copytree(landing_root[fmt], root)
    expected = expected.format(root=root)
    damage(root)
    before = versions(spark, config)
    assert all(v is not None for t, v in before.items() if t in (tables.REGISTRY, tables.SURVEY, tables.QUARANTINE))
    run_id = f"hostile-{tmp_path.name}"
    with pytest.raises(InputContractError) as info:
        run(spark, config, "ingest", run_id=run_id, landing=str(root), format=fmt, as_of=ld.AS_OF)
    assert str(info.value) == expected  # one line: every expected message is
    after = versions(spark, config)
    runs_before = before.pop(tables.PIPELINE_RUNS)
    assert after.pop(tables.PIPELINE_RUNS) == runs_before + 1
    assert after == before
    row = tables.read(spark, config, tables.PIPELINE_RUNS).where(F.col("run_id") == run_id).collect()
    assert [r.status for r in row] == ["FAILED"]
    assert row[0].message == f"InputContractError: {expected}"


def _spark_file(folder: Path) -> Path:
    return next(folder.glob("part-*.parquet"))


@pytest.mark.parametrize(
    ("source", "column", "arrow", "value", "expected"),
    [
        (REG, "birth_date", UTC_US, dt.datetime(1980, 3, 4),
         "column birth_date is timestamp (stored as INT64 TIMESTAMP(MICROS,true)), expected date"),
        (MEM, "member_no", pa.float64(), 1.0, "column member_no is double (stored as DOUBLE), expected int"),
        (HH, "interview_start", pa.date32(), dt.date(2026, 3, 1),
         "column interview_start is date (stored as INT32 DATE), expected timestamp"),
    ],
    ids=["timestamp_for_date", "double_for_int", "date_for_timestamp"],
)
def test_lossy_stored_type_is_refused(spark, q, lakehouse, tmp_path, source, column, arrow, value, expected):
    def damage(root: Path) -> None:
        write(root / source, "hostile.parquet", source, q, [{column: value}], {column: arrow})

    refused(spark, lakehouse, tmp_path, "parquet", damage,
            f"{{root}}/{source}/hostile.parquet: source '{source}': {expected}")


def test_truncated_parquet_is_refused(spark, lakehouse, tmp_path):
    def damage(root: Path) -> None:
        part = _spark_file(root / MEM)
        data = part.read_bytes()
        part.with_name("part-9.parquet").write_bytes(data[: len(data) // 2])

    refused(spark, lakehouse, tmp_path, "parquet", damage,
            f"{{root}}/{MEM}/part-9.parquet: source '{MEM}': the file is not a Parquet file, or is truncated or "
            "damaged (it does not end with PAR1)")


def test_non_parquet_file_in_a_parquet_folder_is_refused(spark, lakehouse, tmp_path):
    """A CSV export left among the Parquet files (any name Spark reads: not starting with _ or .)."""

    def damage(root: Path) -> None:
        (root / REG / "registry.csv").write_text("nik,full_name\n3273010403800001,Budi\n")

    refused(spark, lakehouse, tmp_path, "parquet", damage,
            f"{{root}}/{REG}/registry.csv: source '{REG}': the file is not a Parquet file, or is truncated or "
            "damaged (it does not start with PAR1)")


def test_file_missing_a_mandatory_column_is_named(spark, q, lakehouse, tmp_path):
    def damage(root: Path) -> None:
        path = write(root / MEM, "part-1.parquet", MEM, q, [{}])
        pq.write_table(pq.read_table(path).drop_columns(["sex", "nik"]), path)

    refused(spark, lakehouse, tmp_path, "parquet", damage,
            f"{{root}}/{MEM}/part-1.parquet: source '{MEM}' lacks mandatory column(s): nik, sex")


def test_damaged_data_page_is_refused(spark, q, lakehouse, tmp_path):
    """Footer fine, the first page header garbled: found when the rows are first read (Spark's
    FAILED_READ_FILE), before any table is written."""

    def damage(root: Path) -> None:
        path = write(root / HH, "part-1.parquet", HH, q, [{"household_id": f"H{i}"} for i in range(50)],
                     compression="NONE")
        data = bytearray(path.read_bytes())
        data[4:40] = b"\xff" * 36  # the first column chunk's first page header
        path.write_bytes(bytes(data))

    refused(spark, lakehouse, tmp_path, "parquet", damage,
            f"{{root}}/{HH}/part-1.parquet: source '{HH}': the file cannot be read, it is damaged (can not read "
            "class org.apache.parquet.format.PageHeader: don't know what type: 15)")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "it holds NUL bytes"),
        (None, "it is a Parquet file"),
        ("nik,full_name\n3273010403800001,Andr\u00e9\n".encode("latin-1"),
         "it is not UTF-8 text: byte 0xe9 at offset 35"),
    ],
    ids=["binary", "parquet", "latin1"],
)
def test_non_text_file_in_a_csv_folder_is_refused(spark, lakehouse, tmp_path, content, why):
    def damage(root: Path) -> None:
        data = content if content is not None else _spark_file(lakehouse[1]["parquet"] / REG).read_bytes()
        (root / REG / "scan.bin").write_bytes(data)

    refused(spark, lakehouse, tmp_path, "csv", damage,
            f"{{root}}/{REG}/scan.bin: source '{REG}': not a CSV text file ({why})")


def test_stale_checksum_sidecar_is_named(spark, lakehouse, tmp_path):
    """A folder copied out of a Hadoop job, then one file re-encoded in place: Hadoop's `.NAME.crc` sidecar
    beside it no longer matches, and Hadoop's local file system checks it on every read. Refused naming the
    file and its sidecar, not read past: a mismatch may as well be damage."""

    def damage(root: Path) -> None:
        part = _spark_file(root / REG)
        assert (root / REG / f".{part.name}.crc").exists()
        pq.write_table(pq.read_table(part), part, compression="zstd")

    name = _spark_file(lakehouse[1]["parquet"] / REG).name
    refused(spark, lakehouse, tmp_path, "parquet", damage,
            f"{{root}}/{REG}/{name}: source '{REG}': the file does not match its Hadoop checksum sidecar "
            f"{{root}}/{REG}/.{name}.crc (changed after the sidecar was written, or damaged); if the file is right, "
            "delete the sidecar")


# ------------------------------------------------------------------ delivered as providers write them


def dotted(code: str) -> str:
    """Kemendagri's notation of a village code: 3273011001 -> 32.73.01.1001."""
    return f"{code[:2]}.{code[2:4]}.{code[4:6]}.{code[6:]}"


def test_dotted_region_codes_are_the_plain_codes(spark, q, tmp_path):
    """Village codes in the dotted notation, at any level, in CSV and Parquet: read as the plain code. A code
    that only looks dotted (dots elsewhere) is kept as delivered, so validation names it UNKNOWN_VILLAGE."""
    folder = tmp_path / REG
    write(folder, "part-0.parquet", REG, q, [{"nik": "N1", "village_code": dotted(ld.V_BDG)},
                                             {"nik": "N2", "village_code": ld.V_ACEH}])
    frame = pd.DataFrame({c: [str(DEFAULT[t])] * 3 for c, t in contract.columns(REG, q).items()})
    frame["nik"], frame["village_code"] = ["N3", "N4", "N5"], [dotted(ld.V_ACEH), "32.7301.1001", "32.73"]
    frame.to_csv(tmp_path / "registry.csv", index=False)
    assert read(spark, tmp_path, REG, q, "nik", "village_code") == [
        ("N1", ld.V_BDG, []), ("N2", ld.V_ACEH, [])]
    (tmp_path / "csv" / REG).mkdir(parents=True)
    shutil.move(tmp_path / "registry.csv", tmp_path / "csv" / REG / "registry.csv")
    assert read(spark, tmp_path / "csv", REG, q, "nik", "village_code", fmt="csv") == [
        ("N3", ld.V_ACEH, []), ("N4", "32.7301.1001", []), ("N5", "3273", [])]


def test_a_delivery_written_by_pandas_with_dotted_codes_reads_as_the_same_round(spark, q, lakehouse, tmp_path):
    """The landing zone of `lakehouse` as a provider outside Spark writes it: the survey households and the
    registry written by pandas with its defaults (Parquet format 2.6, timestamps as INT64 TIMESTAMP(NANOS)),
    every village code in the dotted notation, beside Spark's member files; one household more whose
    interview starts a nanosecond past a microsecond. One ingest run into a lakehouse of its own (why: only a
    whole run shows ingest's exit and its accounting): the same households, persons and statuses as the
    Spark-written delivery, and the extra household quarantined, naming the column."""
    config, landing_root = lakehouse
    root = tmp_path / "landing"
    shutil.copytree(landing_root["parquet"], root)
    for source, frame in ((REG, ld.registry()), (HH, ld.households())):
        shutil.rmtree(root / source)
        (root / source).mkdir()
        frame = frame.assign(village_code=frame["village_code"].map(lambda c: dotted(c) if c[0] != "9" else c))
        if source == HH:
            extra = frame.iloc[[0]].assign(household_id="HN", interview_start=pd.Timestamp("2026-03-01 09:00:00")
                                           + pd.Timedelta(nanoseconds=1001))
            frame = pd.concat([frame, extra], ignore_index=True)
            for column in ("interview_start", "interview_end"):
                frame[column] = frame[column].dt.tz_localize("UTC")  # as pyarrow stores an aware time
        frame.to_parquet(root / source / "part-0.parquet", index=False)
    assert stored(root / HH / "part-0.parquet", "interview_start") == (
        "INT64 Timestamp(timeUnit=nanoseconds, isAdjustedToUTC=True)")
    assert pq.ParquetFile(root / HH / "part-0.parquet").metadata.format_version == "2.6"
    own = make_config(tmp_path)
    result, _ = run(spark, own, "ingest", run_id="providers", landing=str(root), as_of=ld.AS_OF)
    d = result.details
    base = tables.read(spark, config, tables.PIPELINE_RUNS).where("run_id = 'hostile-base'").first().details
    for source in (REG, HH, MEM):
        read_, accepted, quarantined = (int(d[f"{source}.{k}"]) for k in ("read", "accepted", "quarantined"))
        assert read_ == accepted + quarantined, source
        extra = 1 if source == HH else 0
        assert (read_, accepted, quarantined) == (int(base[f"{source}.read"]) + extra,
                                                  int(base[f"{source}.accepted"]),
                                                  int(base[f"{source}.quarantined"]) + extra), source

    def rows(cfg, table: str, *columns: str) -> list[tuple]:
        return sorted(tuple(r) for r in tables.read(spark, cfg, table).select(*columns).collect())

    survey = ("household_id", "village_code", "interview_start", "interview_end")
    for table, columns in ((tables.SURVEY, survey), (tables.REGISTRY, ("nik_token", "village_code", "updated_at")),
                           (tables.MEMBERS, ("household_id", "member_no", "match_status"))):
        assert rows(own, table, *columns) == rows(config, table, *columns), table
    quarantined = tables.read(spark, own, tables.QUARANTINE).where("record_key = 'HN'").collect()
    assert [(r.reason_code, r.detail) for r in quarantined] == [("BAD_VALUE", "unreadable value in interview_start")]
