"""NIK rules: the native Spark expressions agree with the plain-Python reference (property-based)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.core import nik
from runtime.errors import UserError
from tests import reference_rules

PROVINCES = ["11", "31", "32", "33", "35", "94"]
AS_OF = dt.date(2026, 6, 30)


def nik_like() -> st.SearchStrategy[str | None]:
    """Mostly near-valid NIKs (so every rule gets exercised), plus arbitrary junk."""
    digits = st.text(alphabet="0123456789", min_size=2, max_size=2)
    structured = st.builds(
        lambda p, d, day, m, y, s: p + d + day + m + y + s,
        st.sampled_from(PROVINCES + ["00", "99", "10"]),
        st.text(alphabet="0123456789", min_size=4, max_size=4),
        st.sampled_from(["00", "01", "15", "29", "30", "31", "32", "40", "41", "60", "69", "70", "71", "72", "99"]),
        st.sampled_from(["00", "01", "02", "06", "12", "13", "99"]),
        digits,
        st.sampled_from(["0000", "0001", "1234", "9999"]),
    )
    junk = st.one_of(st.none(), st.text(max_size=20), st.text(alphabet="0123456789 x", min_size=15, max_size=17))
    return st.one_of(structured, structured, st.sampled_from(sorted(nik.PLACEHOLDERS)), junk)


# Each example is a Spark job: fewer, longer lists check as many values (about 1,500) in a third of the jobs.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(nik_like(), min_size=1, max_size=150))
def test_spark_rules_equal_python_reference(spark, values):
    df = spark.createDataFrame([(v,) for v in values], "nik string")
    got = df.select(
        nik.problem("nik", PROVINCES, AS_OF).alias("problem"),
        nik.birth_date("nik", AS_OF).alias("born"),
    ).collect()
    for value, row in zip(values, got, strict=True):
        assert row.problem == nik.problem_py(value, PROVINCES, AS_OF), value
        if row.problem is None:
            assert row.born == nik.birth_date_py(value, AS_OF), value


def test_examples_from_the_brief():
    # A woman born 17 Aug 1990 registered in Kota Bandung (32.73.01), serial 1.
    woman = reference_rules.make_nik("327301", dt.date(1990, 8, 17), "P", 1)
    assert woman == "3273015708900001"
    assert nik.problem_py(woman, PROVINCES, AS_OF) is None
    assert nik.sex_py(woman) == "P" and nik.birth_date_py(woman, AS_OF) == dt.date(1990, 8, 17)
    assert nik.problem_py("1234567890123456", PROVINCES, AS_OF) == nik.PLACEHOLDER
    assert nik.problem_py("3333333333333333", PROVINCES, AS_OF) == nik.PLACEHOLDER
    assert nik.problem_py("3273013102900001", PROVINCES, AS_OF) == nik.BAD_DATE  # 31 February
    assert nik.problem_py("3273011702900000", PROVINCES, AS_OF) == nik.SERIAL_ZERO
    assert nik.problem_py("5173011702900001", PROVINCES, AS_OF) == nik.UNKNOWN_PROVINCE
    assert nik.problem_py("32730117029O0001", PROVINCES, AS_OF) == nik.NOT_16_DIGITS
    assert nik.problem_py("  ", PROVINCES, AS_OF) == nik.MISSING
    # Two-digit years take the latest century that is not in the future.
    assert nik.birth_date_py("3273010101250001", AS_OF) == dt.date(2025, 1, 1)
    assert nik.birth_date_py("3273010101270001", AS_OF) == dt.date(1927, 1, 1)


def test_make_nik_spark_equals_python(spark):
    rows = [("327301", dt.date(1990, 8, 17), "P", 1), ("110101", dt.date(2003, 1, 5), "L", 321)]
    df = spark.createDataFrame(rows, "d string, born date, sex string, serial int")
    got = [r[0] for r in df.select(nik.make_nik(df.d, df.born, df.sex, df.serial)).collect()]
    assert got == [reference_rules.make_nik(*r) for r in rows]


def test_token_is_rfc2104_hmac_sha256_and_keeps_the_key_out_of_the_plan(spark, tmp_path):
    """The JVM function equals Python's hmac for keys shorter than, equal to and longer than the
    64-byte block; the plan names the function and the key file, never the key or its pads."""
    values = ["3273015708900001", "1101010501030321", "", None]
    df = spark.createDataFrame([(v,) for v in values], "nik string")
    for i, key in enumerate((b"k" * 40, b"z" * 64, b"x" * 100)):
        path = tmp_path / f"key{i}"
        path.write_bytes(key)
        path.chmod(0o600)
        nik.register(spark, f"file:{path}", name=f"test_token_{i}")
        tokens = df.select(nik.token(df.nik, f"test_token_{i}").alias("t"))
        assert [r.t for r in tokens.collect()] == [
            None if v is None else hmac.new(key, v.encode(), hashlib.sha256).hexdigest() for v in values
        ]
        plan = tokens._jdf.queryExecution().toString()
        assert f"test_token_{i}(" in plan
        block = key.ljust(64, b"\0")
        for secret in (key, bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)):
            assert secret.hex() not in plan.lower() and secret.decode("latin-1") not in plan


def test_a_missing_or_short_key_is_one_line(spark, tmp_path):
    with pytest.raises(UserError, match=r"^NIK key: environment variable DTKS_NO_SUCH_KEY is not set in this JVM"):
        nik.register(spark, "env:DTKS_NO_SUCH_KEY")
    short = tmp_path / "short"
    short.write_text("too-short")
    with pytest.raises(UserError, match=r"^NIK key from file:.* is shorter than 32 characters$"):
        nik.register(spark, f"file:{short}")
