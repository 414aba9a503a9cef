"""Bad input, fuzzed (issue 9): every landing source, as parquet and as CSV.

An input either goes through ingest with every row accounted for (rows read = accepted + quarantined,
every quarantined row with a reason code and a record key), or the run stops before anything is
written with an InputContractError naming the source. The landing files are the hand-made zone of
tests/landing_data.py, perturbed and written with pyarrow or the csv module (not Spark: faster, and
like a file delivered from outside). Spark planning costs seconds per ingest, so hypothesis runs a
few examples that each perturb all five sources at once; explicit cases pin the exact outcomes.
Hostile files (issue 18: files of one source stored differently, truncated or damaged Parquet, RFC 4180
quoting, a file not of the declared format) are in tests/test_hostile_landing.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.core import contract, nik, questionnaire, regions
from jobs.core import quarantine as codes
from jobs.ingest import batch, checking, landing
from runtime import tables
from runtime.config import nik_key_source
from runtime.errors import InputContractError
from tests import landing_data as ld
from tests.conftest import make_config, run, small_data_settings

SOURCES = contract.SOURCES
REG, HH, MEM, THH, TMEM = SOURCES
REASONS = {
    codes.BAD_VALUE,
    codes.MISSING_VALUE,
    codes.OUT_OF_RANGE,
    codes.UNKNOWN_VILLAGE,
    codes.UNKNOWN_QUESTIONNAIRE_VERSION,
    codes.BAD_INTERVIEW_TIME,
    codes.BIRTH_IN_FUTURE,
    codes.DUPLICATE_RECORD,
    codes.UNKNOWN_HOUSEHOLD,
    codes.HOUSEHOLD_REJECTED,
    codes.INVALID_NIK,
}
MALFORMED_DETAIL = "malformed CSV line: more or fewer fields than the header"
INT32_MIN = -(2**31)


# ------------------------------------------------------------------ the landing zone as Python rows


@dataclass(frozen=True)
class Bad:
    """A cell value the row must be quarantined for (unreadable as its type, or out of range)."""

    value: object


def _py(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def base_rows() -> dict[str, list[dict]]:
    """tests/landing_data.py's zone (same rows as ld.write_landing) as plain Python values."""
    thh = ld.households().iloc[:3].copy()
    thh["household_id"] = "T" + thh["household_id"]
    thh["consumption_per_capita"] = [900_000.0, 500_000.0, 1_200_000.0]
    thh["weight"] = 30.0
    tmem = ld.members().iloc[:11].copy()
    tmem["household_id"] = "T" + tmem["household_id"]
    frames = {REG: ld.registry(), HH: ld.households(), MEM: ld.members(), THH: thh, TMEM: tmem}
    return {s: [{k: _py(v) for k, v in row.items()} for row in f.to_dict("records")] for s, f in frames.items()}


@dataclass
class Source:
    """One source's rows, column order and line-level damage (CSV only) before it is written."""

    rows: list[dict]
    columns: list[str]
    cut: dict[int, float]  # row index -> where to cut its CSV line (share of the line before its last field)
    long: set[int]  # row indices whose CSV line gets one field too many
    storage: dict[str, str]  # parquet only: column -> forced arrow storage ("list" for an uncastable type)

    def must_quarantine(self) -> int:
        damaged = set(self.cut) | self.long
        return sum(1 for i, r in enumerate(self.rows) if i in damaged or any(isinstance(v, Bad) for v in r.values()))


def zone(q: questionnaire.Questionnaire) -> dict[str, Source]:
    rows = base_rows()
    return {s: Source(rows[s], list(contract.columns(s, q)), {}, set(), {}) for s in SOURCES}


def _text(value) -> str | None:
    value = value.value if isinstance(value, Bad) else value
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


ARROW = {T.StringType(): pa.string(), T.IntegerType(): pa.int64(), T.DoubleType(): pa.float64()}
ARROW |= {T.DateType(): pa.date32(), T.TimestampType(): pa.timestamp("us")}


def _csv_line(fields: list[str | None]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if f is None else f for f in fields])
    return buf.getvalue()


def write_zone(root: Path, sources: dict[str, Source], fmt: str, q: questionnaire.Questionnaire) -> Path:
    for name, src in sources.items():
        folder = root / name
        folder.mkdir(parents=True)
        wanted = contract.columns(name, q)
        if fmt == "parquet":
            arrays = {}
            for c in src.columns:
                values = [r.get(c) for r in src.rows]
                plain = [v.value if isinstance(v, Bad) else v for v in values]
                dtype = wanted.get(c, T.StringType())
                if src.storage.get(c) == "list":
                    arrays[c] = pa.array([None if v is None else [1, 2] for v in plain], pa.list_(pa.int64()))
                elif dtype != T.StringType() and any(isinstance(v, str) for v in plain):
                    arrays[c] = pa.array([_text(v) for v in plain], pa.string())  # text in a typed column
                elif dtype == T.StringType():
                    arrays[c] = pa.array([_text(v) for v in plain], pa.string())
                else:
                    arrays[c] = pa.array(plain, ARROW[dtype])
            pq.write_table(pa.table(arrays), folder / "part-00000.parquet")
        else:
            lines = [_csv_line(src.columns)]
            for i, row in enumerate(src.rows):
                fields = [_text(row.get(c)) for c in src.columns]
                line = _csv_line(fields)
                if i in src.cut:  # cut somewhere before the last field: fewer fields than the header
                    head = _csv_line(fields[:-1]).rstrip("\n")
                    at = max(1, int(len(head) * src.cut[i]))
                    while at < len(head) and not head[:at].strip():
                        at += 1  # a blank line is no line to Spark: keep something visible
                    while at < len(head) and head[:at].count('"') % 2:
                        at += 1  # not inside a quoted field: RFC 4180 reads an open quote on into the next lines
                    line = head[:at] + "\n"
                if i in src.long:
                    line = line.rstrip("\n") + ",surplus\n"
                lines.append(line)
            (folder / "part-00000.csv").write_text("".join(lines), encoding="utf-8")
    return root


# ------------------------------------------------------------------ running the pure part of ingest


@pytest.fixture(scope="module", autouse=True)
def small_data(spark):
    with small_data_settings(spark):
        yield


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("fuzz"))
    nik.register(spark, nik_key_source(config))
    q = questionnaire.load(config)
    ref = regions.load(config)
    villages = F.broadcast(regions.villages_df(spark, regions.reference_dir(config)))
    return config, q, ref, villages


def ingest_pure(spark, env, root: Path, fmt: str):
    """read_source, check, reconcile and transform as ingest.run calls them; the quarantine summarised."""
    config, q, ref, villages = env
    raw = {s: landing.read_source(spark, str(root), s, fmt, q) for s in SOURCES}
    with tables.staging(spark, config, "fuzz") as area:
        checked = checking.check(raw, q, ref, villages, ld.AS_OF, area.put)
        counts = checking.reconcile(checked)
        quarantine = (
            batch.transform(checked, "fuzz")
            .quarantine.groupBy(
                "source",
                "reason_code",
                F.substring("detail", 1, 60).alias("detail"),
                F.col("record_key").isNull().alias("no_key"),
            )
            .agg(F.count("*").alias("n"))
            .collect()
        )
    return counts, quarantine


def check_accounting(counts, quarantine, sources: dict[str, Source] | None = None) -> None:
    for s, c in counts.items():
        assert c["read"] == c["accepted"] + c["quarantined"], s
    for r in quarantine:
        assert r.reason_code in REASONS and not r.no_key, r
    if sources is not None:
        for s, src in sources.items():
            assert counts[s]["read"] == len(src.rows), f"{s}: rows appeared or disappeared on reading"
            assert counts[s]["quarantined"] >= src.must_quarantine(), f"{s}: a bad row was accepted"


def reasons_by_source(quarantine) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in quarantine:
        out.setdefault(r.source, {})
        out[r.source][r.reason_code] = out[r.source].get(r.reason_code, 0) + r.n
    return out


# ------------------------------------------------------------------ hypothesis: all sources perturbed at once

BAD_TEXT = {
    T.IntegerType(): ["abc", "１２", "٣", "12abc", "--1", "🙂", "1 2", "0x1F"],
    T.DoubleType(): ["abc", "1,5", "🙂", "١٫٥", "12..0", "NaN", "Infinity", "-Infinity", "1e999"],
    T.DateType(): ["abc", "2020-02-30", "31/12/2020", "2020-13-01", "🙂", "0000-01-01", "+10000-01-01", "-0044-03-15"],
    T.TimestampType(): ["abc", "2020-02-30 10:00:00", "kemarin", "0000-01-01 00:00:00", "+10000-01-01 00:00:00"],
}
EXTREME_DATES = [dt.date(1, 1, 1), dt.date(1582, 10, 10), dt.date(9999, 12, 31), dt.date(3000, 1, 1)]
EXTREME_TIMES = [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(2999, 1, 1, 12)]
EXTREME_INTS = [INT32_MIN, -1, 0, 2**31 - 1]
EXTREME_FLOATS = [1e308, -0.0, 5e-324, -1e308]
UNICODE_SAMPLES = [
    "👨‍👩‍👧‍👦🙂",
    "\u202e\u0645\u0631\u062d\u0628\u0627",  # RTL override + Arabic
    "e\u0301\u0301\u0327",  # stacked combining marks
    "\u200f\u200e\u200b",  # direction marks, zero-width space
    "\x01\x1b[31m\x7f\x85\t\x0b\x0c",  # control characters (no NUL, no line breaks)
    "\ufeffＮＩＫ１２３",  # BOM, full-width letters and digits
    "ß\u0130\u0131İ",
]
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"), max_size=24)


@st.composite
def perturbed_zone(draw, q: questionnaire.Questionnaire, fmt: str) -> dict[str, Source]:
    sources = zone(q)
    for name, src in sources.items():
        wanted = contract.columns(name, q)
        by_type: dict[T.DataType, list[str]] = {}
        for c, t in wanted.items():
            by_type.setdefault(t, []).append(c)
        typed = [c for c, t in wanted.items() if t != T.StringType()]
        for i in draw(st.lists(st.integers(0, len(src.rows) - 1), max_size=2)):  # duplicated keys
            src.rows.append(dict(src.rows[i]))
        n = len(src.rows)
        for kind, i in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["text", "huge", "unicode", "null", "date", "number", "null_row"]),
                    st.integers(0, n - 1),
                ),
                min_size=1,
                max_size=6,
            )
        ):
            row = src.rows[i]
            if kind == "text":
                c = draw(st.sampled_from(typed))
                row[c] = Bad(draw(st.sampled_from(BAD_TEXT[wanted[c]])))
            elif kind == "huge":
                c = draw(st.sampled_from(by_type[T.StringType()]))
                row[c] = draw(st.sampled_from(["X", "é", "🙂", "\u0645", "7"])) * 100_000
            elif kind == "unicode":
                c = draw(st.sampled_from(by_type[T.StringType()]))
                text = draw(st.one_of(st.sampled_from(UNICODE_SAMPLES), TEXT))
                row[c] = draw(st.sampled_from([text, f"{row[c] or ''}{text}", f"{text}{row[c] or ''}"]))
            elif kind == "null":
                row[draw(st.sampled_from(list(wanted)))] = None
            elif kind == "null_row":  # nulls everywhere, keys included
                for c in wanted:
                    row[c] = None
            elif kind == "date":
                c = draw(st.sampled_from(by_type.get(T.DateType(), []) + by_type.get(T.TimestampType(), [])))
                pool = EXTREME_DATES if wanted[c] == T.DateType() else EXTREME_TIMES
                row[c] = draw(st.sampled_from(pool))
            elif kind == "number":
                c = draw(st.sampled_from(by_type.get(T.IntegerType(), []) + by_type.get(T.DoubleType(), [])))
                if wanted[c] == T.IntegerType():
                    value = draw(st.sampled_from([*EXTREME_INTS, 2**40]))
                    bad = value == 2**40 or (c == "member_no" and value < 1)
                else:
                    value = draw(st.sampled_from([*EXTREME_FLOATS, math.nan, math.inf, -math.inf]))
                    bad = not math.isfinite(value)
                row[c] = Bad(value) if bad else value
        if draw(st.booleans()):
            extra = draw(st.sampled_from(["notes", "catatan_📝", "Ünïcode col", "nik_copy"]))
            src.columns.append(extra)
            for r in src.rows:
                r[extra] = draw(st.sampled_from([None, "x", "٣", "🙂"]))
        if fmt == "csv":
            for i in draw(st.lists(st.integers(0, n - 1), max_size=2)):
                src.cut[i] = draw(st.floats(0.0, 1.0))
            for i in draw(st.lists(st.integers(0, n - 1), max_size=1)):
                src.long.add(i)
    return sources


@st.composite
def fuzz_case(draw, q):
    fmt = draw(st.sampled_from(["parquet", "csv"]))
    return fmt, draw(perturbed_zone(q, fmt))


def _describe(sources: dict[str, Source]) -> str:
    parts = []
    for s, src in sources.items():
        bad = [(i, c, v.value) for i, r in enumerate(src.rows) for c, v in r.items() if isinstance(v, Bad)]
        parts.append(f"{s}: {len(src.rows)} rows, bad cells {bad}, cut {sorted(src.cut)}, long {sorted(src.long)}")
    return "\n".join(parts)


FUZZ_EXAMPLES = int(os.environ.get("DTKS_FUZZ_EXAMPLES", "0"))


def test_generated_landing_zones_are_accounted_for(spark, env, caplog, tmp_path_factory):
    """Landing zones drawn by the fuzz strategy, every row accounted for (read = accepted + quarantined, each
    bad cell quarantined, each extra column warned about). In the suite: the same three zones every run
    (derandomised, no example database), regression cases. To fuzz: DTKS_FUZZ_EXAMPLES=200 draws that many
    random zones."""
    q = env[1]
    scratch = tmp_path_factory.mktemp("fuzz_examples")

    @settings(
        max_examples=FUZZ_EXAMPLES or 3,
        deadline=None,
        derandomize=not FUZZ_EXAMPLES,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(case=fuzz_case(q))
    def run(case):
        fmt, sources = case
        note(_describe(sources))
        caplog.clear()
        with tempfile.TemporaryDirectory(dir=scratch) as folder:
            root = write_zone(Path(folder), sources, fmt, q)
            with caplog.at_level(logging.WARNING, logger="jobs.ingest.landing"):
                counts, quarantine = ingest_pure(spark, env, root, fmt)
        note(f"{fmt}: {counts}; {reasons_by_source(quarantine)}")
        check_accounting(counts, quarantine, sources)
        for s, src in sources.items():
            for extra in set(src.columns) - set(contract.columns(s, q)):
                assert any(f"source '{s}'" in m and extra in m for m in caplog.messages), (s, extra)

    run()


# ------------------------------------------------------------------ explicit cases


def test_bad_text_tokens_are_unreadable(spark):
    """Every token the fuzzer treats as unreadable is: text, out-of-range dates, NaN and infinities."""
    for dtype, tokens in BAD_TEXT.items():
        df = spark.createDataFrame([(t,) for t in tokens], "v string")
        typed = landing.apply_types(df, {"v": dtype})
        assert typed.where(F.size(landing.BAD_COLUMNS) == 1).count() == len(tokens), dtype


def test_native_out_of_range_values_are_unreadable(spark, tmp_path):
    """Parquet can store what no Python date holds (year 0, 10000) and NaN: marked like bad text."""
    days = [-719528, 2932897, 0]  # 0000-01-01, 10000-01-01, 1970-01-01
    table = pa.table(
        {
            "d": pa.array(days, pa.int32()).cast(pa.date32()),
            "t": pa.array([d * 86_400_000_000 for d in days], pa.timestamp("us")),
            "x": pa.array([math.nan, math.inf, 1.0]),
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    raw = spark.read.parquet(str(tmp_path / "p.parquet"))
    typed = landing.apply_types(raw, {"d": T.DateType(), "t": T.TimestampType(), "x": T.DoubleType()})
    marks = [sorted(r[0]) for r in typed.select(landing.BAD_COLUMNS).collect()]
    assert marks == [["d", "t", "x"], ["d", "t", "x"], []]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("source", SOURCES)
def test_zero_byte_file_is_a_contract_breach(spark, env, tmp_path, source, fmt):
    q = env[1]
    root = write_zone(tmp_path, zone(q), fmt, q)
    part = next((root / source).glob("part-*"))
    part.write_bytes(b"")
    expected = "is not a Parquet file" if fmt == "parquet" else "is empty: no header line"
    with pytest.raises(InputContractError, match=rf"source '{source}'.*{expected}"):
        landing.read_source(spark, str(root), source, fmt, q)


@pytest.mark.parametrize("source", SOURCES)
def test_column_of_uncastable_type_is_a_contract_breach(spark, env, tmp_path, source):
    """A parquet column stored as a type with no cast to the contract's (here a list) breaks the contract."""
    q = env[1]
    sources = zone(q)
    column = {REG: "birth_date", HH: "interview_start", MEM: "member_no", THH: "weight", TMEM: "birth_date"}[source]
    sources[source].storage[column] = "list"
    root = write_zone(tmp_path, sources, "parquet", q)
    with pytest.raises(InputContractError, match=rf"source '{source}'.*{column} is array<bigint>"):
        landing.read_source(spark, str(root), source, "parquet", q)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_extra_columns_are_ignored_with_a_warning(spark, env, tmp_path, caplog, fmt):
    q = env[1]
    sources = zone(q)
    for src in sources.values():
        src.columns += ["notes", "catatan_📝"]
        for r in src.rows:
            r["notes"], r["catatan_📝"] = "x", "🙂"
    if fmt == "csv":  # a line short of a field outside the contract is still caught
        sources[REG].cut[0] = 1.0
    root = write_zone(tmp_path, sources, fmt, q)
    with caplog.at_level(logging.WARNING, logger="jobs.ingest.landing"):
        raw = {s: landing.read_source(spark, str(root), s, fmt, q) for s in SOURCES}
    for s in SOURCES:
        assert any(f"source '{s}'" in m and "notes" in m and "catatan_📝" in m for m in caplog.messages), s
        assert set(raw[s].columns) == set(contract.columns(s, q)) | {landing.BAD_COLUMNS}
    marked = raw[REG].where(F.size(landing.BAD_COLUMNS) > 0).count()
    assert marked == (1 if fmt == "csv" else 0)


def empty_zone(q):
    """Every source with its header (or schema) and no rows."""
    sources = zone(q)
    for src in sources.values():
        src.rows.clear()
    return sources


def test_header_only_csv_completes_with_nothing_read(spark, env, tmp_path):
    q = env[1]
    root = write_zone(tmp_path, empty_zone(q), "csv", q)
    counts, quarantine = ingest_pure(spark, env, root, "csv")
    assert {s: tuple(c.values()) for s, c in counts.items()} == {s: (0, 0, 0) for s in SOURCES}
    assert quarantine == []


def test_zero_row_parquet_beside_a_zero_byte_file_reads_nothing(spark, env, tmp_path):
    """A parquet file with a schema and no rows is an empty source; a zero-byte file beside it is skipped."""
    q = env[1]
    root = write_zone(tmp_path, empty_zone(q), "parquet", q)
    for s in SOURCES:
        (root / s / "part-00001.parquet").write_bytes(b"")
        assert landing.read_source(spark, str(root), s, "parquet", q).count() == 0, s


def test_csv_input_with_unreadable_values(spark, env, tmp_path):
    """A CSV cell that does not parse as its column's type quarantines its row as BAD_VALUE, naming the column.
    Read, check and transform only: test_ingest's shared ingest proves that the quarantine rows are written."""
    root = ld.write_landing(spark, tmp_path / "landing", fmt="csv")
    part = next((root / "survey_households").glob("part-*.csv"))
    lines = part.read_text().splitlines()
    lines[1] = lines[1].replace("36.0", "abc", 1)
    part.write_text("\n".join(lines) + "\n")
    for crc in (root / "survey_households").glob(".*.crc"):
        crc.unlink()
    counts, quarantine = ingest_pure(spark, env, root, "csv")
    bad = [(r.detail, r.n) for r in quarantine if r.source == "survey_households" and r.reason_code == "BAD_VALUE"]
    assert bad == [("unreadable value in floor_area", 1)]
    assert counts["survey_households"]["quarantined"] == 3  # with HX and HY, as in the Parquet delivery


def test_truncated_csv_lines(spark, env, tmp_path):
    """A line cut short, one missing its trailing fields and one too long: each such line is quarantined
    as malformed; a quoted line break (RFC 4180) is part of its field, not the end of a line."""
    q = env[1]
    sources = zone(q)
    for src in sources.values():
        src.cut[0] = 0.5  # cut in the middle
        src.cut[1] = 1.0  # only the last field missing
        src.long.add(2)
    sources[REG].rows[3]["full_name"] = "Nur\nBinti"  # written quoted: one record
    root = write_zone(tmp_path, sources, "csv", q)
    counts, quarantine = ingest_pure(spark, env, root, "csv")
    check_accounting(counts, quarantine)
    assert counts[REG]["read"] == 8
    for s in SOURCES:
        assert counts[s]["quarantined"] >= 3
    malformed = {r.source: r.n for r in quarantine if r.detail == MALFORMED_DETAIL}
    assert malformed == {REG: 3, HH: 3, MEM: 3, THH: 3, TMEM: 3}  # rows 0-2 of each
    assert all(r.reason_code == codes.BAD_VALUE for r in quarantine if r.detail == MALFORMED_DETAIL)


def test_duplicated_keys(spark, env, tmp_path):
    """Exact copies and same-key rows with different content: one kept, the others quarantined;
    a household listed twice with one bad copy does not list its members twice. (Parquet here: the
    CSV examples of the fuzz test duplicate rows too.)"""
    q, fmt = env[1], "parquet"
    sources = zone(q)
    for src in sources.values():
        src.rows.append(dict(src.rows[0]))  # exact copy
        src.rows.append(dict(src.rows[0]))  # a third listing
    sources[HH].rows.append(dict(sources[HH].rows[1], floor_area=Bad("abc")))  # HB again, unreadable
    sources[HH].rows.append(dict(sources[HH].rows[3], floor_area=Bad("abc")))  # HX (rejected) again, unreadable
    sources[REG].rows.append(dict(sources[REG].rows[1], updated_at=dt.datetime(2026, 2, 1)))  # newer Siti
    root = write_zone(tmp_path, sources, fmt, q)
    counts, quarantine = ingest_pure(spark, env, root, fmt)
    check_accounting(counts, quarantine, sources)
    got = {s: (c["read"], c["accepted"], c["quarantined"]) for s, c in counts.items()}
    assert got == {REG: (11, 7, 4), HH: (9, 3, 6), MEM: (17, 11, 6), THH: (5, 3, 2), TMEM: (13, 11, 2)}
    reasons = reasons_by_source(quarantine)
    assert reasons[HH] == {"DUPLICATE_RECORD": 2, "BAD_VALUE": 2, "UNKNOWN_VILLAGE": 1, "OUT_OF_RANGE": 1}
    assert reasons[MEM]["DUPLICATE_RECORD"] == 2 and reasons[MEM]["HOUSEHOLD_REJECTED"] == 1


# ------------------------------------------------------------------ the whole ingest stage


def fuzzed_zone(q) -> dict[str, Source]:
    """One fixed example of everything above, for the stage runs."""
    sources = zone(q)
    reg, hh, mem, thh, tmem = (sources[s].rows for s in SOURCES)
    reg.append(dict(reg[0]))  # duplicate NIK
    reg[1]["birth_date"] = Bad("2020-02-30")
    reg[2]["full_name"] = UNICODE_SAMPLES[0] + "X" * 100_000
    reg[4]["updated_at"] = Bad("+10000-01-01 00:00:00")
    reg[5]["village_code"] = "\u202e3273011001"
    reg[6]["death_date"], reg[6]["relationship"] = dt.date(9999, 12, 31), INT32_MIN  # accepted: no rule on these
    hh.append(dict(hh[1], floor_area=Bad("abc")))  # HB twice, the copy unreadable
    hh[2]["enumerator_id"] = UNICODE_SAMPLES[4]
    hh[2]["interview_start"], hh[2]["interview_end"] = dt.datetime(9999, 12, 31, 10), dt.datetime(9999, 12, 31, 10, 50)
    hh[4]["interview_start"] = dt.datetime(1, 1, 1)
    for c in hh[3]:
        hh[3][c] = None  # nulls everywhere, key included
    mem[0]["member_no"] = Bad(INT32_MIN)  # accepted before, then crashed the features (member_no * -1)
    mem[1]["birth_date"] = dt.date(9999, 12, 31)
    mem[2]["full_name"] = UNICODE_SAMPLES[2] * 1000
    mem[7]["education"] = Bad("２")
    mem[9]["birth_date"] = dt.date(1, 1, 1)  # accepted, aged 9998 at the interview
    mem.append(dict(mem[4]))  # duplicated (household_id, member_no)
    thh[0]["weight"] = Bad(math.nan)  # NaN passed `weight <= 0`
    thh[1]["consumption_per_capita"] = Bad(math.inf)
    tmem[3]["nik"] = None
    tmem[4]["household_id"] = None
    for s in SOURCES:
        sources[s].columns.append("catatan_📝")
        for r in sources[s].rows:
            r["catatan_📝"] = "🙂"
    sources[MEM].cut[10] = 0.4
    sources[TMEM].long.add(6)
    return sources


DATA_TABLES = (
    tables.QUARANTINE,
    tables.IDENTITY_VAULT,
    tables.REGISTRY,
    tables.SURVEY,
    tables.HOUSEHOLDS,
    tables.MEMBERS,
    tables.TRAINING,
)


def run_stage(spark, config, root: Path, fmt: str):
    return run(spark, config, "ingest", run_id=f"fuzz-{fmt}", landing=str(root), format=fmt, as_of=ld.AS_OF)


def test_ingest_stage_quarantines_every_rejected_row(spark, tmp_path):
    config = make_config(tmp_path)
    q = questionnaire.load(config)
    sources = fuzzed_zone(q)
    root = write_zone(tmp_path / "landing", sources, "csv", q)
    result, run_id = run_stage(spark, config, root, "csv")
    d = result.details
    quarantine = tables.read(spark, config, tables.QUARANTINE).where(F.col("run_id") == run_id)
    written = {
        r.source: r.n
        for r in quarantine.where(F.col("record_key").isNotNull() & F.col("reason_code").isin(*REASONS))
        .groupBy("source")
        .agg(F.count("*").alias("n"))
        .collect()
    }
    for s, src in sources.items():
        read, accepted, rejected = (int(d[f"{s}.{k}"]) for k in ("read", "accepted", "quarantined"))
        assert read == len(src.rows) and read == accepted + rejected, s
        assert rejected >= src.must_quarantine(), s
        assert written.get(s, 0) == rejected, s
    assert quarantine.count() == sum(int(d[f"{s}.quarantined"]) for s in SOURCES)
    households = tables.read(spark, config, tables.HOUSEHOLDS).select("household_id", "hh_size").collect()
    assert sorted(r.household_id for r in households) == ["HA", "HB", "HC"]  # HC interviewed in 9999
    # The household listed twice (one copy unreadable) keeps its members once each.
    members = tables.read(spark, config, tables.MEMBERS).where("household_id = 'HB'")
    assert sorted(r.member_no for r in members.select("member_no").collect()) == [1, 2, 3]


def test_ingest_stage_fails_before_writing(spark, tmp_path):
    config = make_config(tmp_path)
    q = questionnaire.load(config)
    root = write_zone(tmp_path / "landing", fuzzed_zone(q), "parquet", q)
    (root / TMEM / "part-00000.parquet").write_bytes(b"")  # the last source read: the others were fine
    with pytest.raises(InputContractError, match=r"source 'training_members'.*not a Parquet file"):
        run_stage(spark, config, root, "parquet")
    assert {t: tables.version(spark, config, t) for t in DATA_TABLES} == dict.fromkeys(DATA_TABLES)
