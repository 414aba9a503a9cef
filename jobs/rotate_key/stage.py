"""`dtks rotate-key`: every keyed token in the lakehouse computed again under a new key, published as one.

The current key (security.nik_key_env) and the new one (security.new_nik_key_env) are both in the
environment. The identity vault holds the identifier behind every NIK and KK token, so those tokens are
recomputed exactly: afterwards the tables are what rounds ingested with the new key would have made.
A quarantine record key made from a whole rejected row (`row:...`) or from a NIK the vault does not hold
cannot be recomputed: it becomes the new key's token of itself (unique, and unlinkable without the new
key), so a rejected record delivered again after the rotation is quarantined under a new record key.

Each table with tokens is replaced in one commit marked `dtks rotate-key to <fingerprint>`; the gold
tables' new versions become visible in one new `publications` row, so a reader going through the
publication never sees old and new tokens mixed. The vault's properties say which key the tokens are
made with and whether a rotation is under way: ingest refuses a lakehouse whose rotation did not finish,
and a rotation killed half-way resumes where it stopped (a table already rotated is read from the version
before its rotation commit and not written again). Tables without tokens (dtks_households,
program_eligibility and its change feed, the scores unless their carried row hashes move) are untouched.
Earlier table versions keep the old tokens until `dtks maintain` vacuums them.
"""

from __future__ import annotations

import argparse
import logging
import sys

from jobs.core import nik, pseudonym
from jobs.rotate_key.rotation import NEW, Rotation, marker, republish
from runtime import tables
from runtime.config import new_nik_key_source, nik_key_source
from runtime.errors import UserError
from runtime.runs import StageResult
from runtime.stage import StageContext, main_for

NAME = "rotate_key"
HELP = ("compute every NIK and KK token again under a new key (from security.new_nik_key_env) and publish "
        "the result as one publication")
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: both keys come from the environment (security.nik_key_env, security.new_nik_key_env)."""


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    config = ctx.config
    old_source, new_source = nik_key_source(config), new_nik_key_source(config)  # both before Spark starts
    spark = ctx.spark
    nik.register(spark, old_source)
    nik.register(spark, new_source, NEW)
    old_key, new_key = pseudonym.fingerprint(spark), pseudonym.fingerprint(spark, NEW)
    if not tables.exists(spark, config, tables.IDENTITY_VAULT):
        raise UserError(f"{config.table_path(tables.IDENTITY_VAULT)} not found: nothing to rotate (run `dtks ingest`)")
    stored, rotating = pseudonym.key_state(spark, config)
    if rotating not in (None, new_key):
        raise UserError(f"a rotation to key {rotating} did not finish; {config.security.new_nik_key_env} holds key "
                        f"{new_key}: finish that rotation with its key first")
    if stored not in (None, old_key) and not (rotating == new_key and stored == new_key):
        raise UserError(f"the lakehouse's tokens are made with key {stored}, but {config.security.nik_key_env} "
                        f"holds key {old_key}: set the current key there")
    resumed = rotating == new_key
    if not resumed:
        pseudonym.set_key_state(spark, config, stored or old_key, new_key)
    mark = marker(new_key)
    written: dict[str, int] = {}
    with tables.staging(spark, config, ctx.run_id) as area:
        rotate = Rotation(spark, config, mark, area.put, written)
        rotate.all()
    versions = tables.current_versions(spark, config)
    published = tables.published_versions(spark, config)
    publication = None
    if published is not None and published != versions:
        publication = republish(spark, config, ctx.run_id)
    pseudonym.set_key_state(spark, config, new_key, None)
    summary = [f"rotate-key: key {old_key} -> {new_key}; {len(written)} tables re-tokenised"
               + (f" ({', '.join(sorted(written))})" if written else "")
               + (f"; publication {publication}" if publication else "")
               + (" (resumed)" if resumed else ""),
               f"  set {config.security.nik_key_env} to the new key before the next round"]
    return StageResult(rows_in=None, rows_out=sum(written.values()) if written else 0,
                       details={"key_from": old_key, "key_to": new_key, "resumed": str(resumed).lower(),
                                **{f"{n}.version": str(v) for n, v in written.items()}},
                       summary=summary)


if __name__ == "__main__":
    sys.exit(main_for(sys.modules[__name__]))
