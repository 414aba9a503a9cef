"""Pseudonymisation (UU 27/2022): raw NIKs and names leave the pipeline here.

Analytical tables carry `nik_token` = HMAC-SHA256(key, NIK); the token -> NIK map goes only to the
restricted `identity_vault`. A record that must be referred to without a usable NIK (quarantine)
gets a keyed token of its whole row instead, so nothing personal is ever echoed. The vault records
which key the tokens are made with (a fingerprint, not the key), so a round with another key stops.
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core import nik
from runtime import sql, tables
from runtime.config import DtksConfig
from runtime.errors import UserError

PERSONAL_COLUMNS = ("nik", "full_name", "kk_number")


ROW = "row:"  # prefix of a record key made from a whole row


def kk_token() -> Column:
    """The family-card number is personal data too: analytical tables carry its keyed token."""
    return F.when(F.col("kk_number").isNotNull(), nik.token(F.col("kk_number"))).alias("kk_token")


def row_token(df: DataFrame) -> Column:
    """A keyed token of a whole input row: refers to a record without revealing any of it. One SQL expression
    over every column (runtime/sql.py says why text)."""
    cols = ", ".join(f"CAST({sql.ident(c)} AS STRING)" for c in sorted(df.columns) if not c.startswith("_"))
    return F.expr(f"concat({sql.text(ROW)}, substr({nik.TOKEN}(concat_ws(chr(1), {cols})), 1, 32))")


# ---------------------------------------------------------------- which key the lakehouse's tokens use

KEY_PROPERTY = "dtks.nikKey"  # on identity_vault: fingerprint of the key every token is made with
ROTATING_PROPERTY = "dtks.nikKeyRotatingTo"  # set while `dtks rotate-key` moves the tables to that key
_FINGERPRINT_INPUT = "dtks NIK key fingerprint"


def fingerprint(spark: SparkSession, function: str = nik.TOKEN) -> str:
    """A short public name for a key: its token of a fixed text (says nothing about the key itself)."""
    return spark.range(1).select(nik.token(F.lit(_FINGERPRINT_INPUT), function).substr(1, 16)).first()[0]


def key_state(spark: SparkSession, config: DtksConfig) -> tuple[str | None, str | None]:
    """(key fingerprint, rotation target) recorded on the vault; (None, None) before the first round."""
    if not tables.exists(spark, config, tables.IDENTITY_VAULT):
        return None, None
    props = DeltaTable.forPath(spark, config.table_path(tables.IDENTITY_VAULT)).detail().first().properties
    return props.get(KEY_PROPERTY), props.get(ROTATING_PROPERTY)


def check_key(spark: SparkSession, config: DtksConfig, current: str) -> None:
    """Stop before any work when the lakehouse's tokens are made with another key or a rotation is
    unfinished: tokens made with two keys would silently stop matching across rounds."""
    key, rotating = key_state(spark, config)
    path = config.table_path(tables.IDENTITY_VAULT)
    if rotating is not None:
        raise UserError(f"{path}: a key rotation to key {rotating} did not finish: run `dtks rotate-key` again "
                        f"(with the new key in {config.security.new_nik_key_env})")
    if key is not None and key != current:
        raise UserError(f"{path}: the lakehouse's tokens are made with key {key}, but {config.security.nik_key_env} "
                        f"holds key {current}: set the key the lakehouse was made with (or rotate it with "
                        "`dtks rotate-key`)")


def set_key_state(spark: SparkSession, config: DtksConfig, key: str | None, rotating: str | None) -> None:
    """Record the key fingerprint and the rotation target (None: unset) on the vault."""
    path = config.table_path(tables.IDENTITY_VAULT)
    values = {KEY_PROPERTY: key, ROTATING_PROPERTY: rotating}
    kept = ", ".join(f"'{k}' = '{v}'" for k, v in values.items() if v is not None)
    gone = [k for k, v in values.items() if v is None]
    if kept:
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({kept})")
    if gone:
        spark.sql(f"ALTER TABLE delta.`{path}` UNSET TBLPROPERTIES IF EXISTS ({', '.join(repr(k) for k in gone)})")
