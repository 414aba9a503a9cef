"""Ingest on a hand-made landing zone where every row's fate is known."""

from __future__ import annotations

import argparse

import pytest

from jobs.ingest import stage as ingest
from runtime import tables
from runtime.config import with_overrides
from runtime.errors import InputContractError
from runtime.stage import StageContext
from tests import landing_data as ld
from tests.conftest import make_config


def run_ingest(spark, config, landing, fmt="parquet", run_id="r1"):
    config = with_overrides(config, [f"landing.root={landing}", f"landing.format={fmt}"])
    return ingest.run(StageContext(config=config, run_id=run_id, _spark=spark), argparse.Namespace(as_of=ld.AS_OF))


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    """One ingest shared by the read-only tests of this module (ingest is the expensive part)."""
    tmp_path = tmp_path_factory.mktemp("ingest")
    config = make_config(tmp_path)
    landing = ld.write_landing(spark, tmp_path / "landing")
    result = run_ingest(spark, config, landing)
    return config, landing, result


def statuses(spark, config):
    rows = tables.read(spark, config, tables.MEMBERS).select("household_id", "member_no", "match_status").collect()
    return {(r.household_id, r.member_no): r.match_status for r in rows}


def test_every_member_gets_the_right_status(spark, ingested):
    config, _, _ = ingested
    assert statuses(spark, config) == {
        ("HA", 1): "MATCHED",
        ("HA", 2): "MATCHED_WITH_DIFFERENCES",
        ("HA", 3): "DUPLICATE",
        ("HA", 4): "MISSING_NIK",
        ("HB", 1): "MATCHED",
        ("HB", 2): "DECEASED",
        ("HB", 3): "INVALID_NIK",
        ("HC", 1): "MATCHED",
        ("HC", 2): "MATCHED",
        ("HC", 3): "MATCHED",
        ("HC", 4): "NOT_FOUND",
    }


def test_quarantine_reasons_and_reconciliation(spark, ingested):
    config, _, result = ingested
    q = {(r.source, r.record_key): r.reason_code for r in tables.read(spark, config, tables.QUARANTINE).collect()}
    assert q[("survey_households", "HX")] == "UNKNOWN_VILLAGE"
    assert q[("survey_households", "HY")] == "OUT_OF_RANGE"
    assert q[("survey_members", "HC:5")] == "BIRTH_IN_FUTURE"
    assert q[("survey_members", "HX:1")] == "HOUSEHOLD_REJECTED"
    assert q[("survey_members", "HZ:1")] == "UNKNOWN_HOUSEHOLD"
    assert q[("survey_members", "HC:6")] == "OUT_OF_RANGE"
    registry_q = [v for (s, _), v in q.items() if s == "registry"]
    assert registry_q == ["INVALID_NIK"]
    d = result.details
    assert (d["survey_households.read"], d["survey_households.accepted"], d["survey_households.quarantined"]) == (
        "5",
        "3",
        "2",
    )
    assert (d["survey_members.read"], d["survey_members.accepted"], d["survey_members.quarantined"]) == (
        "15",
        "11",
        "4",
    )
    assert (d["registry.read"], d["registry.accepted"], d["registry.quarantined"]) == ("8", "7", "1")
    detail = tables.read(spark, config, tables.QUARANTINE).where("record_key = 'HY'").first().detail
    assert detail == "floor_area=-5.0"


def test_quarantine_rows_carry_the_province_they_are_from(spark, ingested):
    """Each quarantined row's province_code, set by ingest: a household's from its own village code (HY is in
    Bandung, 32; HX's code 9999999999 names no province), a member's from its household's row (HC, Bandung;
    HX's members none; HZ has no household row), a registry person's from their village code (Bandung)."""
    config, _, _ = ingested
    got = {(r.source, r.record_key): r.province_code
           for r in tables.read(spark, config, tables.QUARANTINE).collect() if r.source != "registry"}
    assert got == {
        ("survey_households", "HX"): None,
        ("survey_households", "HY"): "32",
        ("survey_members", "HC:5"): "32",
        ("survey_members", "HC:6"): "32",
        ("survey_members", "HX:1"): None,
        ("survey_members", "HZ:1"): None,
    }
    registry = tables.read(spark, config, tables.QUARANTINE).where("source = 'registry'").collect()
    assert [r.province_code for r in registry] == ["32"]


def test_an_older_quarantine_table_gains_province_code(spark, tmp_path):
    """A lakehouse whose quarantine predates province_code: the next ingest adds the column, its earlier rows
    hold null and the new rows are placed. Its own ingest: the upgrade happens only when ingest writes into a
    table of the older form."""
    config = make_config(tmp_path)
    old = spark.createDataFrame([("survey_households", "OLD1", "OUT_OF_RANGE", "floor_area=-1.0", "r0")],
                                "source string, record_key string, reason_code string, detail string, run_id string")
    tables.overwrite(old, config, tables.QUARANTINE)
    run_ingest(spark, config, ld.write_landing(spark, tmp_path / "landing"))
    quarantine = tables.read(spark, config, tables.QUARANTINE)
    assert "province_code" in quarantine.columns
    places = {r.record_key: r.province_code for r in quarantine.where("source = 'survey_households'").collect()}
    assert places == {"OLD1": None, "HX": None, "HY": "32"}


def test_household_size_and_features(spark, ingested):
    config, _, _ = ingested
    hh = {r.household_id: r for r in tables.read(spark, config, tables.HOUSEHOLDS).collect()}
    assert set(hh) == {"HA", "HB", "HC"}
    # HA: head, wife, guest (missing NIK) count; the child counts in HC, its latest interview.
    assert hh["HA"].hh_size == 3 and hh["HC"].hh_size == 4 and hh["HB"].hh_size == 2
    assert hh["HC"].n_children_u5 == 1 and hh["HA"].n_children_u5 == 0
    assert hh["HB"].head_female == 1 and hh["HB"].head_age == 70
    assert (hh["HA"].province_code, hh["HA"].regency_code, hh["HA"].is_urban) == ("32", "3273", True)
    assert hh["HA"].floor_area_per_capita == pytest.approx(12.0)
    assert hh["HB"].is_urban is False


def test_no_raw_nik_or_name_outside_the_vault(spark, ingested):
    config, _, _ = ingested
    raw_niks = set(ld.registry()["nik"]) | {n for n in ld.members()["nik"] if n}
    names = set(ld.registry()["full_name"]) | set(ld.members()["full_name"])
    root = config.path(config.lakehouse)
    assert not [p for p in (root / tables.STAGING).rglob("*") if p.is_file()]  # staged rows (raw NIKs) gone
    for table_dir in root.iterdir():
        if not (table_dir / "_delta_log").exists():
            continue
        df = tables.read(spark, config, table_dir.name)
        text = " ".join(str(v) for row in df.collect() for v in row)
        if table_dir.name == tables.IDENTITY_VAULT:
            assert set(df.columns) == {"nik_token", "nik"}
            # 7 registry NIKs + one survey NIK not in the registry + 3 KK numbers (for `dtks rotate-key`)
            assert len(df.collect()) == 11
            continue
        if table_dir.name == tables.IDENTITY_REGISTRY:  # restricted: what linkage compares, by token
            assert set(df.columns) == {"nik_token", "nik", "full_name", "name"} and df.count() == 7
            continue
        if table_dir.name == tables.IDENTITY_SURVEY:  # restricted: each accepted member as reported
            assert set(df.columns) == {"household_id", "member_no", "nik", "full_name"}
            assert sorted({r.household_id for r in df.collect()}) == ["HA", "HB", "HC"]
            continue
        assert table_dir.name not in tables.RESTRICTED, table_dir.name
        leaked = {n for n in raw_niks if n in text}
        assert not leaked, f"raw NIK in {table_dir.name}"
        assert not {n for n in names if f" {n} " in f" {text} "}, f"name in {table_dir.name}"


def test_missing_column_fails_before_any_write(spark, ingested, tmp_path):
    import shutil

    config, module_landing, _ = ingested
    landing = tmp_path / "landing"
    shutil.copytree(module_landing, landing)
    versions = {t: tables.version(spark, config, t) for t in (tables.HOUSEHOLDS, tables.QUARANTINE, tables.REGISTRY)}
    broken = spark.read.parquet(str(landing / "survey_members")).drop("sex")
    broken.write.mode("overwrite").parquet(str(tmp_path / "broken"))
    shutil.rmtree(landing / "survey_members")
    shutil.copytree(tmp_path / "broken", landing / "survey_members")
    with pytest.raises(InputContractError, match=r"survey_members.*lacks mandatory column\(s\): sex"):
        run_ingest(spark, config, landing, run_id="r3")
    assert {t: tables.version(spark, config, t) for t in versions} == versions
