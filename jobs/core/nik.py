"""NIK rules (BRIEF §4), in one place: native Spark expressions and a plain-Python reference.

``PPKKCC DDMMYY SSSS``: district of first issuance, birth date (day + 40 for women), serial.
The Python functions are the specification the Spark expressions are property-tested against.
Also the keyed NIK token (HMAC-SHA256): a JVM function (jobs/jvm) that reads the key from its secret in
each JVM, so no Python runs per row and the key is in no Spark plan, event log or UI page.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable

from py4j.protocol import Py4JJavaError
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from runtime import sql
from runtime.errors import SparkSetupError, UserError

# Reason codes, most basic first: a NIK gets the first that applies.
MISSING = "NIK_MISSING"
NOT_16_DIGITS = "NIK_NOT_16_DIGITS"
PLACEHOLDER = "NIK_PLACEHOLDER"
UNKNOWN_PROVINCE = "NIK_UNKNOWN_PROVINCE"
BAD_DATE = "NIK_BAD_DATE"
SERIAL_ZERO = "NIK_SERIAL_ZERO"
TOKEN = "dtks_nik_token"  # the session function registered by `register`
BLANK = r"[ \t\n\r\f\x0b]*"  # what counts as an empty answer, the same class in Java and Python regex
REASONS = (MISSING, NOT_16_DIGITS, PLACEHOLDER, UNKNOWN_PROVINCE, BAD_DATE, SERIAL_ZERO)


def placeholders() -> list[str]:
    """All-one-digit NIKs and 16-digit ascending or descending runs (1234567890123456, ...)."""
    same = [str(d) * 16 for d in range(10)]
    up = ["".join(str((s + i) % 10) for i in range(16)) for s in range(10)]
    down = ["".join(str((s - i) % 10) for i in range(16)) for s in range(10)]
    return sorted(set(same + up + down))


PLACEHOLDERS = frozenset(placeholders())


def birth_year(yy: int, as_of: dt.date) -> int:
    """Two-digit year to four: the latest century that does not put the birth after `as_of`."""
    return 2000 + yy if 2000 + yy <= as_of.year else 1900 + yy


# ---------------------------------------------------------------- plain-Python reference


def problem_py(nik: str | None, province_codes: Iterable[str], as_of: dt.date) -> str | None:
    """Reason code for an invalid NIK, or None when the NIK passes every format rule."""
    if nik is None or re.fullmatch(BLANK, nik):
        return MISSING
    if len(nik) != 16 or not all("0" <= c <= "9" for c in nik):
        return NOT_16_DIGITS
    if nik in PLACEHOLDERS:
        return PLACEHOLDER
    if nik[:2] not in set(province_codes):
        return UNKNOWN_PROVINCE
    if birth_date_py(nik, as_of) is None:
        return BAD_DATE
    if nik[12:] == "0000":
        return SERIAL_ZERO
    return None


def birth_date_py(nik: str, as_of: dt.date) -> dt.date | None:
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40
    if not 1 <= month <= 12:
        return None
    year = birth_year(yy, as_of)
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    born = dt.date(year, month, day)
    return born if born <= as_of else None


def sex_py(nik: str) -> str:
    return "P" if int(nik[6:8]) > 40 else "L"


def token_py(nik: str, key: bytes) -> str:
    return hmac.new(key, nik.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- native Spark expressions


def _day(nik: str) -> str:
    raw = f"try_cast(substr({nik}, 7, 2) AS INT)"
    return f"CASE WHEN {raw} > 40 THEN {raw} - 40 ELSE {raw} END"


def _year(nik: str, as_of: dt.date) -> str:
    yy = f"try_cast(substr({nik}, 11, 2) AS INT)"
    return f"CASE WHEN {yy} + 2000 <= {as_of.year} THEN {yy} + 2000 ELSE {yy} + 1900 END"


def birth_date_sql(nik: str, as_of: dt.date) -> str:
    """SQL: the birth date embedded in the NIK `nik` (a SQL expression), null when it is no real calendar date on
    or before `as_of`.

    Guarded by CASE so that make_date never sees an impossible date (Spark runs in ANSI mode).
    """
    day, month, year = _day(nik), f"try_cast(substr({nik}, 9, 2) AS INT)", _year(nik, as_of)
    last = f"dayofmonth(last_day(make_date({year}, {month}, 1)))"
    valid = f"rlike({nik}, '^[0-9]{{16}}$') AND {month} BETWEEN 1 AND 12 AND {day} BETWEEN 1 AND {last}"
    born = f"CASE WHEN {valid} THEN make_date({year}, {month}, {day}) END"
    return f"CASE WHEN {born} <= {sql.literal(as_of)} THEN {born} END"


def birth_date(nik: str, as_of: dt.date) -> Column:
    """Birth date embedded in the NIK column `nik` (a SQL expression: a column name), as `birth_date_sql`."""
    return F.expr(birth_date_sql(nik, as_of))


def sex(nik: Column) -> Column:
    return F.when(nik.substr(7, 2).try_cast("int") > 40, F.lit("P")).otherwise(F.lit("L"))


def problem_sql(nik: str, province_codes: Iterable[str], as_of: dt.date) -> str:
    """SQL: the reason code for an invalid NIK `nik` (a SQL expression), or null: the same rules as `problem_py`.
    Text, not Columns: it is part of every validated source's projection (runtime/sql.py says why)."""
    return (
        f"CASE WHEN {nik} IS NULL OR rlike({nik}, {sql.text(f'^{BLANK}$')}) THEN {sql.text(MISSING)} "
        f"WHEN NOT rlike({nik}, '^[0-9]{{16}}$') THEN {sql.text(NOT_16_DIGITS)} "
        f"WHEN {nik} IN {sql.one_of(sorted(PLACEHOLDERS))} THEN {sql.text(PLACEHOLDER)} "
        f"WHEN NOT substr({nik}, 1, 2) IN {sql.one_of(sorted(set(province_codes)))} THEN {sql.text(UNKNOWN_PROVINCE)} "
        f"WHEN {birth_date_sql(nik, as_of)} IS NULL THEN {sql.text(BAD_DATE)} "
        f"WHEN substr({nik}, 13, 4) = '0000' THEN {sql.text(SERIAL_ZERO)} END"
    )


def problem(nik: str, province_codes: Iterable[str], as_of: dt.date) -> Column:
    """Reason code for an invalid NIK in column `nik` (a SQL expression: a column name), or null."""
    return F.expr(problem_sql(nik, province_codes, as_of))


def register(spark: SparkSession, source: str, name: str = TOKEN) -> None:
    """Make `name(value)` the keyed token in this session, the key read from `source` (`env:NAME` or
    `file:PATH`, from runtime.config.nik_key_source) by each JVM that runs it.

    The driver reads the key here, so a missing or short key stops the stage before any work.
    """
    jvm = spark.sparkContext._jvm
    cls = jvm.id.dtks.NikToken
    try:
        cls.check(source)
        function = cls(source)
    except Py4JJavaError as exc:
        raise UserError(str(exc.java_exception.getMessage())) from None
    except TypeError:  # py4j offers a package, not a class: the JAR is not on the classpath
        raise SparkSetupError(
            "the NIK token function (id.dtks.NikToken) is not on the classpath: run `make setup`, "
            "and under spark-submit pass --jars $(dtks jars)"
        ) from None
    string = jvm.org.apache.spark.sql.types.DataTypes.StringType
    spark._jsparkSession.udf().register(name, function, string)


def token(value: Column, function: str = TOKEN) -> Column:
    """HMAC-SHA256(key, value) as lowercase hex: the session function `register` made (same as `token_py`)."""
    return F.call_function(function, value)


def make_nik(district6: Column, born: Column, sex_code: Column, serial: Column) -> Column:
    """Build a NIK from its parts (the generator's side of the same rule): day + 40 for women."""
    day = F.dayofmonth(born) + F.when(sex_code == "P", F.lit(40)).otherwise(F.lit(0))
    return F.concat(
        district6,
        F.lpad(day.cast("string"), 2, "0"),
        F.lpad(F.month(born).cast("string"), 2, "0"),
        F.lpad((F.year(born) % 100).cast("string"), 2, "0"),
        F.lpad(serial.cast("string"), 4, "0"),
    )
