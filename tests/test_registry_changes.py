"""The registry's change set in an update round, on literal rows (jobs/ingest/batch.py registry_change_set)."""

from __future__ import annotations

from chispa import assert_df_equality

from jobs.core.change_set import DELETE, NEW
from jobs.ingest.batch import IDENTITY_COLUMNS, registry_change_set
from runtime import tables

STORED = "nik_token string, nik string, full_name string, name string"
EVENTS = f"{STORED}, previous_token string"


def _hashed(df):
    """The delivered rows as the batch gives them: with their content hash (stored rows' are computed)."""
    return df.withColumn(tables.ROW_HASH, tables.row_hash(IDENTITY_COLUMNS))


def test_events_change_only_the_persons_they_touch(spark):
    """t1's event repeats its stored record (no change), t2's changes its name, t3 is born, t4's NIK is corrected
    to t5 (t4 leaves), t6's correction names a previous token the registry does not hold (nothing to delete);
    t7 and t8, untouched by any event, are in no change set, whatever the events. Only t2 is held already: the
    rest are new (appended, not MERGEd)."""
    stored = spark.createDataFrame([
        ("t1", "1", "Siti", "SITI"), ("t2", "2", "Budi", "BUDI"), ("t4", "4", "Agus", "AGUS"),
        ("t7", "7", "Dewi", "DEWI"), ("t8", "8", "Rina", "RINA"),
    ], STORED)
    events = spark.createDataFrame([
        ("t1", "1", "Siti", "SITI", None), ("t2", "2", "Budi S", "BUDI S", None), ("t3", "3", "Ayu", "AYU", None),
        ("t5", "5", "Agus", "AGUS", "t4"), ("t6", "6", "Eko", "EKO", "t9"),
    ], EVENTS)
    got = registry_change_set(_hashed(events), stored, True, IDENTITY_COLUMNS, stored_hash=False)
    assert_df_equality(
        got.drop(tables.ROW_HASH),
        spark.createDataFrame([
            ("t2", "2", "Budi S", "BUDI S", False, False), ("t3", "3", "Ayu", "AYU", True, False),
            ("t5", "5", "Agus", "AGUS", True, False), ("t6", "6", "Eko", "EKO", True, False),
            ("t4", None, None, None, False, True),
        ], f"{STORED}, {NEW} boolean, {DELETE} boolean"),
        ignore_row_order=True, ignore_nullable=True,
    )


def test_a_whole_registry_is_diffed_with_the_stored_one(spark):
    """Delivered whole (no events): t1 unchanged, t2 changed, t3 new, t4 no longer delivered (it leaves)."""
    stored = spark.createDataFrame([("t1", "1", "Siti", "SITI"), ("t2", "2", "Budi", "BUDI"),
                                    ("t4", "4", "Agus", "AGUS")], STORED)
    delivered = spark.createDataFrame([("t1", "1", "Siti", "SITI"), ("t2", "2", "Budi S", "BUDI S"),
                                       ("t3", "3", "Ayu", "AYU")], STORED)
    got = registry_change_set(_hashed(delivered), stored, False, IDENTITY_COLUMNS, stored_hash=False)
    assert sorted((r.nik_token, r[NEW], r[DELETE]) for r in got.collect()) == [
        ("t2", False, False), ("t3", True, False), ("t4", False, True)]
