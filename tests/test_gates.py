"""The publish gates on literal inputs (jobs/publish/gates.py): each gate's verdict and its exact detail text."""

from __future__ import annotations

import mlflow
import pytest
from chispa import assert_df_equality
from mlflow import MlflowClient

from jobs.core import contract
from jobs.publish import gates
from jobs.publish.gates import GateResult
from runtime.config import load_config

DEFAULT = load_config("test").thresholds  # conf/base.yaml: min_national_match_rate 0.80, min_region_match_rate 0.50


# ---------------------------------------------------------------- matched


def test_matched_counts_both_padan_statuses_and_nothing_else(spark):
    """matched(): MATCHED and MATCHED_WITH_DIFFERENCES are matched, every other status is not, null stays null."""
    statuses = [contract.MATCHED, contract.MATCHED_WITH_DIFFERENCES, contract.NOT_FOUND, contract.INVALID_NIK,
                contract.MISSING_NIK, contract.DECEASED, contract.DUPLICATE, None]
    got = spark.createDataFrame([(s,) for s in statuses], "match_status string").select(
        "match_status", gates.matched().alias("matched"))
    assert_df_equality(got, spark.createDataFrame([
        ("MATCHED", True), ("MATCHED_WITH_DIFFERENCES", True), ("NOT_FOUND", False), ("INVALID_NIK", False),
        ("MISSING_NIK", False), ("DECEASED", False), ("DUPLICATE", False), (None, None),
    ], "match_status string, matched boolean"), ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- reconciliation


def test_reconciliation_fails_without_a_recorded_ingest():
    """reconciliation: no successful ingest (None, or an empty record) fails, saying so."""
    expected = GateResult("reconciliation", False, "no successful ingest recorded in pipeline_runs")
    assert gates.reconciliation(None) == expected
    assert gates.reconciliation({}) == expected


def test_reconciliation_fails_when_the_ingest_recorded_no_row_counts():
    """reconciliation: an ingest whose details hold no `<source>.read` count fails, saying it recorded none."""
    expected = GateResult("reconciliation", False, "the last ingest recorded no row counts")
    assert gates.reconciliation({"run_id": "r0", "details": None}) == expected
    assert gates.reconciliation({"run_id": "r0", "details": {}}) == expected
    assert gates.reconciliation({"run_id": "r0", "details": {"registry.accepted": "5", "note": "x"}}) == expected


def test_reconciliation_passes_when_every_source_balances():
    """reconciliation: read == accepted + quarantined for every source passes, naming the number of sources and
    the ingest's run; keys that are not row counts are ignored."""
    ingest = {"run_id": "ingest-7", "details": {
        "registry.read": "10", "registry.accepted": "9", "registry.quarantined": "1",
        "survey_members.read": "5", "survey_members.accepted": "5", "survey_members.quarantined": "0",
        "appeals.read": "0", "appeals.accepted": "0", "appeals.quarantined": "0",
        "registry.seconds": "3.5"}}
    assert gates.reconciliation(ingest) == GateResult("reconciliation", True, "balanced for 3 sources (run ingest-7)")


def test_reconciliation_names_every_unbalanced_source_in_order():
    """reconciliation: each source whose rows read != accepted + quarantined is named, sorted; balanced ones are
    not; one row too many or too few both fail."""
    ingest = {"run_id": "ingest-8", "details": {
        "survey_members.read": "10", "survey_members.accepted": "8", "survey_members.quarantined": "1",
        "registry.read": "10", "registry.accepted": "10", "registry.quarantined": "0",
        "appeals.read": "3", "appeals.accepted": "3", "appeals.quarantined": "1"}}
    assert gates.reconciliation(ingest) == GateResult(
        "reconciliation", False, "rows read != accepted + quarantined for: appeals, survey_members")


# ---------------------------------------------------------------- match rates


def test_match_rates_pass_exactly_at_both_thresholds():
    """match_rates: a national rate equal to min_national_match_rate and a province equal to min_region_match_rate
    both pass (the minimum is inclusive)."""
    # national 12 / 15 = 0.8; province 12: 1 / 2 = 0.5
    got = gates.match_rates({"11": (7, 7), "12": (1, 2), "13": (4, 6)}, DEFAULT)
    assert got == [GateResult("national_match_rate", True, "0.800 against minimum 0.800"),
                   GateResult("region_match_rate", True, "all provinces at or above minimum")]


def test_match_rates_fail_below_and_list_the_low_provinces_sorted():
    """match_rates: below either minimum fails; the low provinces are listed by code with their rates, and a
    province with no listed members counts as rate 0."""
    # national 8 / 13 = 0.615; 11: 0.70 passes, 12: 1 / 3, 13: no members
    got = gates.match_rates({"13": (0, 0), "11": (7, 10), "12": (1, 3)}, DEFAULT)
    assert got == [GateResult("national_match_rate", False, "0.615 against minimum 0.800"),
                   GateResult("region_match_rate", False, "2 province(s) below 0.50: 12=0.33, 13=0.00")]


def test_match_rates_fail_just_below_the_thresholds():
    """match_rates: a rate a hair below the minimum fails (no rounding in the comparison), national and per
    province."""
    got = gates.match_rates({"11": (3999, 5000), "12": (2, 4)}, DEFAULT)  # national 4001 / 5004 = 0.79956...
    assert [g.passed for g in got] == [False, True]
    assert got[0].detail == "0.800 against minimum 0.800"
    low = gates.match_rates({"11": (499, 1000), "12": (10, 10)}, DEFAULT)  # national 509 / 1010 = 0.504
    assert low == [GateResult("national_match_rate", False, "0.504 against minimum 0.800"),
                   GateResult("region_match_rate", False, "1 province(s) below 0.50: 11=0.50")]


def test_match_rates_read_their_thresholds_from_the_config():
    """match_rates: the minimums are the config's (thresholds): the same counts pass under lower minimums and fail
    under higher ones, and the detail quotes the configured values."""
    counts = {"11": (9, 10), "12": (3, 4)}  # national 12 / 14 = 0.857; 12 at 0.75
    strict = DEFAULT.model_copy(update={"min_national_match_rate": 0.9, "min_region_match_rate": 0.8})
    assert gates.match_rates(counts, strict) == [
        GateResult("national_match_rate", False, "0.857 against minimum 0.900"),
        GateResult("region_match_rate", False, "1 province(s) below 0.80: 12=0.75")]
    lenient = DEFAULT.model_copy(update={"min_national_match_rate": 0.85, "min_region_match_rate": 0.75})
    assert gates.match_rates(counts, lenient) == [
        GateResult("national_match_rate", True, "0.857 against minimum 0.850"),
        GateResult("region_match_rate", True, "all provinces at or above minimum")]


def test_match_rates_list_at_most_ten_low_provinces_but_count_them_all():
    """match_rates: with more than ten provinces below the minimum the count names all of them, the list the first
    ten by code."""
    counts = {f"{p:02d}": (0, 4) for p in range(12, 0, -1)} | {"31": (10, 10)}
    got = gates.match_rates(counts, DEFAULT)
    assert got[0] == GateResult("national_match_rate", False, "0.172 against minimum 0.800")  # 10 / 58
    assert got[1] == GateResult("region_match_rate", False, "12 province(s) below 0.50: " + ", ".join(
        f"{p:02d}=0.00" for p in range(1, 11)))


def test_match_rates_with_no_members_fail_nationally():
    """match_rates: nothing listed at all is a national rate of 0 (fails), with no province to be low."""
    assert gates.match_rates({}, DEFAULT) == [
        GateResult("national_match_rate", False, "0.000 against minimum 0.800"),
        GateResult("region_match_rate", True, "all provinces at or above minimum")]


# ---------------------------------------------------------------- regions covered


def test_regions_covered_passes_when_every_surveyed_regency_is_ranked():
    """regions_covered: every surveyed regency among the ranked ones (extra ranked regencies, repeats and no
    survey at all included) passes."""
    expected = GateResult("regions_ranked", True, "every surveyed regency has ranked households")
    assert gates.regions_covered(["1101", "1102", "1101"], iter(["1102", "1101", "3201"])) == expected
    assert gates.regions_covered([], []) == expected


def test_regions_covered_names_the_missing_regencies_sorted():
    """regions_covered: surveyed regencies with no ranked household fail, counted and named in code order."""
    assert gates.regions_covered(["3201", "1102", "1101", "3201"], ["1101"]) == GateResult(
        "regions_ranked", False, "2 surveyed regency(ies) with no ranked household: 1102, 3201")


def test_regions_covered_names_at_most_ten_missing_regencies():
    """regions_covered: more than ten missing regencies are all counted, the first ten by code named."""
    surveyed = [f"11{r:02d}" for r in range(12, 0, -1)]
    assert gates.regions_covered(surveyed, []) == GateResult(
        "regions_ranked", False, "12 surveyed regency(ies) with no ranked household: "
        "1101, 1102, 1103, 1104, 1105, 1106, 1107, 1108, 1109, 1110")


# ---------------------------------------------------------------- model registered


@pytest.fixture
def registry_store(tmp_path, monkeypatch):
    """A SQLite MLflow store of the test's own, holding dtks_pmt version 1; MLflow points back where it was
    afterwards."""
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # set_tracking_uri also sets these variables: monkeypatch puts them back as they were
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient()
    client.create_registered_model("dtks_pmt")
    client.create_model_version("dtks_pmt", source=str(tmp_path / "model"))
    yield client
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)


def test_model_registered_checks_the_name_and_version_in_the_registry(registry_store):
    """model_registered: a registered version passes; another version, or an unknown model name, fails, each
    named in the detail."""
    assert gates.model_registered("dtks_pmt", "1") == GateResult("model_registered", True, "dtks_pmt v1 is registered")
    assert gates.model_registered("dtks_pmt", "2") == GateResult(
        "model_registered", False, "dtks_pmt v2 is not in the model registry")
    assert gates.model_registered("other_model", "1") == GateResult(
        "model_registered", False, "other_model v1 is not in the model registry")
    registry_store.delete_model_version("dtks_pmt", "1")
    assert gates.model_registered("dtks_pmt", "1") == GateResult(
        "model_registered", False, "dtks_pmt v1 is not in the model registry")
