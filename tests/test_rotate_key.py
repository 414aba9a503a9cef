"""`dtks rotate-key` on the small nation as first published: every token moves to the new key exactly as a
round ingested with that key would have made it, as one new publication; killed half-way, the previous
publication stays and a second run finishes the job; a round with the wrong key is refused."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import signal

import pandas as pd
import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructType

from jobs.core import pseudonym
from jobs.rotate_key import rotation as rotate_key
from runtime import tables
from runtime.errors import UserError
from tests.conftest import AS_OF, assert_same_rows, nation_copy, paused, run

# key rotation on copies of the shared nation, one of them killed in a process of its own
pytestmark = pytest.mark.e2e

OLD_KEY = os.environ["DTKS_NIK_KEY"].encode()
NEW_KEY = os.environ["DTKS_NIK_KEY_NEW"].encode()
SILVER = (tables.IDENTITY_VAULT, tables.REGISTRY, tables.SURVEY, tables.HOUSEHOLDS, tables.MEMBERS)
RUN_COLUMNS = ("ingest_run_id", "run_id", "updated_run_id", "scored_at")


def content(spark, config, name, version=None):
    """A table (as of `version`) without the columns that say which run wrote a row."""
    df = tables.read(spark, config, name, version)
    return df.drop(*[c for c in RUN_COLUMNS if c in df.columns])


def versions(spark, config, names=tables.CATALOG):
    """Every table's version (pipeline_runs aside: a refused run is recorded there)."""
    return {n: tables.version(spark, config, n) for n in names
            if n != tables.PIPELINE_RUNS and tables.exists(spark, config, n)}


def new_key_config(config):
    """The same lakehouse settings with the new key as the current one (what the operator sets after)."""
    security = config.security.model_copy(update={"nik_key_env": "DTKS_NIK_KEY_NEW"})
    return config.model_copy(update={"security": security})


@pytest.fixture(scope="module")
def rotated(spark, nation, tmp_path_factory):
    """A copy of the nation rotated in this process, its tables before (versions pinned) and their versions,
    and a lakehouse ingested with the new key."""
    root = tmp_path_factory.mktemp("rotate")
    config = nation_copy(nation, root / "nation")
    before_versions = versions(spark, config)
    before = {n: content(spark, config, n, v) for n, v in before_versions.items()}
    result, _ = run(spark, config, "rotate_key")
    reference = new_key_config(config).model_copy(update={"lakehouse_root": str(root / "reference")})
    run(spark, reference, "ingest", landing=str(nation[1]), as_of=pd.Timestamp(AS_OF).date())
    return config, before, before_versions, result, reference


def stored_columns(schema, prefix=""):
    """Every column of a schema, a field of a struct (or of each struct in an array) as `column.field`."""
    for f in schema.fields:
        yield prefix + f.name
        kind = f.dataType.elementType if isinstance(f.dataType, ArrayType) else f.dataType
        if isinstance(kind, StructType):
            yield from stored_columns(kind, f"{prefix}{f.name}.")


def test_the_catalog_declares_every_stored_token_column(rotated):
    """Rotation rewrites the columns the catalog declares: every `*_token` column of every table the
    published nation holds is declared, and every declared column is there (the catalog holds no schemas)."""
    _, before, *_ = rotated
    for name, df in before.items():
        declared = tables.table(name).tokens
        columns = set(stored_columns(df.schema))
        assert {c for c in columns if c.rsplit(".", 1)[-1].endswith("_token")} == {
            c for c in declared if c.endswith("_token")}, name
        assert set(declared) <= columns, name


def test_tokens_equal_a_round_ingested_with_the_new_key(spark, rotated):
    config, before, _, result, reference = rotated
    assert result.details["key_from"] != result.details["key_to"]
    for name in SILVER:
        assert_same_rows(content(spark, config, name), content(spark, reference, name), name)
    # The vault maps every new token to its NIK or KK number under the new key, as Python's hmac says.
    vault = tables.read(spark, config, tables.IDENTITY_VAULT).collect()
    assert vault and all(r.nik_token == hmac.new(NEW_KEY, r.nik.encode(), hashlib.sha256).hexdigest() for r in vault)
    old_tokens = {r.nik_token for r in before[tables.IDENTITY_VAULT].collect()}
    assert not {r.nik_token for r in vault} & old_tokens  # no old token left


def test_gold_is_one_new_publication_and_untokened_tables_are_untouched(spark, rotated):
    config, before, before_versions, _, reference = rotated
    after = versions(spark, config)
    # Tables without tokens keep their version: the eligibility change feed shows no churn.
    for name in (tables.DTKS_HOUSEHOLDS, tables.PROGRAM_ELIGIBILITY):
        assert after[name] == before_versions[name], name
    pubs = tables.read(spark, config, tables.PUBLICATIONS).orderBy("publication_id").collect()
    assert len(pubs) == 2 and dict(pubs[1].versions) == {n: after[n] for n in tables.PUBLISHED}
    assert (pubs[1].coverage_target, pubs[1].models) == (pubs[0].coverage_target, pubs[0].models)
    # dtks_members: each person's new token, every other cell as before; its row hash is the one the
    # new-key round gives its silver row, so the next publish sees no change.
    members = {(r.household_id, r.member_no): r for r in tables.read_published(spark, config, tables.DTKS_MEMBERS)
               .collect()}
    first = {(r.household_id, r.member_no): r for r in tables.read(spark, config, tables.DTKS_MEMBERS,
                                                                   before_versions[tables.DTKS_MEMBERS]).collect()}
    vault = {r.nik_token: r.nik for r in tables.read(spark, config, tables.IDENTITY_VAULT).collect()}
    silver = {(r.household_id, r.member_no): r.row_hash for r in tables.read(spark, reference, tables.MEMBERS)
              .collect()}
    assert members.keys() == first.keys()
    for key, row in members.items():
        old = first[key].asDict()
        new = row.asDict()
        if old["nik_token"] is None:
            assert new["nik_token"] is None
        else:
            assert hmac.new(NEW_KEY, vault[new["nik_token"]].encode(), hashlib.sha256).hexdigest() == new["nik_token"]
            assert hmac.new(OLD_KEY, vault[new["nik_token"]].encode(), hashlib.sha256).hexdigest() == old["nik_token"]
        assert new["row_hash"] == silver[key]
        assert {k: v for k, v in new.items() if k not in ("nik_token", "row_hash")} == {
            k: v for k, v in old.items() if k not in ("nik_token", "row_hash")}


def test_quarantine_keys_move_to_the_new_key(spark, rotated):
    config, before, _, _, reference = rotated
    got, ref = content(spark, config, tables.QUARANTINE), content(spark, reference, tables.QUARANTINE)
    old = before[tables.QUARANTINE]
    assert got.count() == old.count() == ref.count()
    # Keys that are ids (household, household:member) stay; tokens of NIKs in the vault equal the new
    # round's; the rest (row tokens, NIKs the vault does not hold) are the new key's token of the old key.
    tokenish = F.coalesce((F.col("source") == "registry") | F.col("record_key").startswith("row:"), F.lit(False))
    assert_same_rows(got.where(~tokenish), old.where(~tokenish), "quarantine rows keyed by ids")
    old_keys = {r.record_key for r in old.select("record_key").collect()}
    tokens = [r.record_key for r in got.where(tokenish).select("record_key").collect()]
    assert not old_keys & set(tokens)
    assert_same_rows(got.select("source", "reason_code", "province_code"),
                     ref.select("source", "reason_code", "province_code"), "quarantine reasons and places")
    for key in tokens:
        assert len(key) == (36 if key.startswith("row:") else 64)


def test_the_old_key_is_refused_and_the_new_key_finds_nothing_changed(spark, rotated, nation, tmp_path):
    """On a copy of the rotated lakehouse: the other tests read it as the rotation left it."""
    rotated_config, *_ = rotated
    shutil.copytree(rotated_config.path(rotated_config.lakehouse), tmp_path / "lake")
    config = rotated_config.model_copy(update={"lakehouse_root": str(tmp_path / "lake")})
    key, rotating = pseudonym.key_state(spark, config)
    assert rotating is None
    held = versions(spark, config)
    with pytest.raises(UserError, match=rf"tokens are made with key {key}, but DTKS_NIK_KEY holds key [0-9a-f]{{16}}"):
        run(spark, config, "ingest", landing=str(nation[1]), as_of=pd.Timestamp(AS_OF).date())
    assert versions(spark, config) == held
    run(spark, new_key_config(config), "ingest", landing=str(nation[1]), as_of=pd.Timestamp(AS_OF).date())
    for name in (tables.REGISTRY, tables.HOUSEHOLDS, tables.MEMBERS):
        history = DeltaTable.forPath(spark, config.table_path(name)).history(1).first()
        metrics = history.operationMetrics or {}
        changed = sum(int(metrics.get(k, 0)) for k in ("numTargetRowsInserted", "numTargetRowsUpdated",
                                                        "numTargetRowsDeleted"))
        assert history.version == held[name] or changed == 0, (name, metrics)


def test_killed_half_way_keeps_the_publication_and_a_rerun_finishes(spark, nation, rotated, tmp_path):
    finished, *_ = rotated
    config = nation_copy(nation, tmp_path / "nation")
    published = {n: content(spark, config, n, tables.version(spark, config, n)) for n in tables.GOLD}  # pinned
    folder = tmp_path / "fp"
    proc = paused(config, folder, "rotate.before_gold", "rotate-key")
    os.kill(int((folder / "reached").read_text()), signal.SIGKILL)
    proc.wait(timeout=60)
    # Killed half-way: silver rotated, gold not; a reader going through the publication sees the previous one.
    mark = rotate_key.marker(pseudonym.key_state(spark, config)[1])
    assert rotate_key.source_version(spark, config, tables.MEMBERS, mark)[1]
    assert not rotate_key.source_version(spark, config, tables.DTKS_MEMBERS, mark)[1]
    assert tables.read(spark, config, tables.PUBLICATIONS).count() == 1
    for n in tables.GOLD:
        assert_same_rows(tables.read_published(spark, config, n).drop(*RUN_COLUMNS), published[n], n)
    # A round with either key stops, naming the unfinished rotation.
    held = versions(spark, config)
    for cfg in (config, new_key_config(config)):
        with pytest.raises(UserError, match=r"a key rotation to key [0-9a-f]{16} did not finish: run `dtks rotate"):
            run(spark, cfg, "ingest", landing=str(nation[1]), as_of=pd.Timestamp(AS_OF).date())
    assert versions(spark, config) == held
    result, _ = run(spark, config, "rotate_key")
    assert result.details["resumed"] == "true"
    for name in (*SILVER, tables.QUARANTINE, tables.DTKS_MEMBERS, tables.SCORES):
        if tables.exists(spark, finished, name):
            assert_same_rows(content(spark, config, name), content(spark, finished, name), name)
    assert tables.read(spark, config, tables.PUBLICATIONS).count() == 2
