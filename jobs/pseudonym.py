"""Pseudonymisation (UU 27/2022): raw NIKs and names leave the pipeline here.

Analytical tables carry `nik_token` = HMAC-SHA256(key, NIK); the token -> NIK map goes only to the
restricted `identity_vault`. A record that must be referred to without a usable NIK (quarantine)
gets a keyed token of its whole row instead, so nothing personal is ever echoed.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs import nik

PERSONAL_COLUMNS = ("nik", "full_name", "kk_number")


def tokenise(df: DataFrame, key: bytes, province_codes: list[str], as_of: dt.date) -> DataFrame:
    """Replace nik with nik_token (null when malformed) and nik_problem; drop name and KK number.

    A malformed NIK is not tokenised: it would only ever match by accident.
    """
    problem = F.col("nik_problem") if "nik_problem" in df.columns else nik.problem(F.col("nik"), province_codes, as_of)
    extra = [F.when(problem.isNull(), nik.token(F.col("nik"), key)).alias("nik_token")]
    if "kk_number" in df.columns:
        extra.append(kk_token(key))
    keep = [c for c in df.columns if c not in PERSONAL_COLUMNS and c != "nik_problem"]
    return df.select(*keep, problem.alias("nik_problem"), *extra)


def kk_token(key: bytes) -> Column:
    """The family-card number is personal data too: analytical tables carry its keyed token."""
    return F.when(F.col("kk_number").isNotNull(), nik.token(F.col("kk_number"), key)).alias("kk_token")


def vault_rows(df: DataFrame, key: bytes, province_codes: list[str], as_of: dt.date) -> DataFrame:
    """token -> NIK rows for every well-formed NIK seen (for the restricted identity_vault)."""
    problem = F.col("nik_problem") if "nik_problem" in df.columns else nik.problem(F.col("nik"), province_codes, as_of)
    valid = df.where(problem.isNull())
    return valid.select(nik.token(F.col("nik"), key).alias("nik_token"), F.col("nik")).dropDuplicates(["nik_token"])


def row_token(df: DataFrame, key: bytes) -> Column:
    """A keyed token of a whole input row: refers to a record without revealing any of it."""
    cols = [F.col(f"`{c}`").cast("string") for c in sorted(df.columns) if not c.startswith("_")]
    return F.concat(F.lit("row:"), nik.token(F.concat_ws("\u0001", *cols), key).substr(1, 32))
