"""Pseudonymisation (UU 27/2022): raw NIKs and names leave the pipeline here.

Analytical tables carry `nik_token` = HMAC-SHA256(key, NIK); the token -> NIK map goes only to the
restricted `identity_vault`. A record that must be referred to without a usable NIK (quarantine)
gets a keyed token of its whole row instead, so nothing personal is ever echoed.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs import nik

PERSONAL_COLUMNS = ("nik", "full_name", "kk_number")


def kk_token(key: bytes) -> Column:
    """The family-card number is personal data too: analytical tables carry its keyed token."""
    return F.when(F.col("kk_number").isNotNull(), nik.token(F.col("kk_number"), key)).alias("kk_token")


def row_token(df: DataFrame, key: bytes) -> Column:
    """A keyed token of a whole input row: refers to a record without revealing any of it."""
    cols = [F.col(f"`{c}`").cast("string") for c in sorted(df.columns) if not c.startswith("_")]
    return F.concat(F.lit("row:"), nik.token(F.concat_ws("\u0001", *cols), key).substr(1, 32))
