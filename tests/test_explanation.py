"""`dtks explain`'s plain words on literal answers (jobs/lookup/explain.py `describe`).

`lookup` reads the published tables (dtks_households, household_scores, program_eligibility at the publication's
versions): it needs a lakehouse and is not tested here. Its group labels come from the questionnaire's model
groups, checked on the loaded file below.
"""

from __future__ import annotations

from jobs.core import questionnaire
from jobs.lookup import explain
from runtime.questionnaire import ModelSpec
from tests.conftest import make_config

REGION = {"province": "Jawa Barat", "regency": "Kota Bandung", "district": "Sumur Bandung", "village": "Braga"}


def _found(**changed) -> dict:
    """A household within coverage, explained by the linear PMT: `lookup`'s answer, contributions lowest first."""
    return {
        "household_id": "3273011001-0042",
        "publication_id": "pub-7",
        "published_at": "2026-06-30 12:00:00",
        "coverage_target": 0.4,
        "population": 1_000_000,
        "region": REGION,
        "hh_size": 4,
        "model": "pmt_linear v3",
        "welfare_score": 13.123456,
        "national_rank": 12345,
        "decile": 2,
        "within_coverage": True,
        "cutoff_score": 13.5,
        "score_to_cutoff": -0.376544,
        "persons_to_cutoff": -2500,
        "intercept": 13.9,
        "contributions": [
            {"group": "housing", "label_id": "Kondisi tempat tinggal", "label_en": "housing", "value": -0.5},
            {"group": "assets", "label_id": "Kepemilikan aset", "label_en": "assets", "value": -0.3},
            {"group": "demography", "label_id": "Susunan rumah tangga", "label_en": "household size and make-up",
             "value": 0.023456},
        ],
        "programmes": {"SEMBAKO": True, "PBI": False, "PKH": True},
    } | changed


def test_describe_a_household_within_coverage_with_its_contributions():
    """describe: header, region, size and model, score, rank/decile/coverage, the distance below the cut-off with
    the persons who could still join, the baseline and each group's contribution (Bahasa Indonesia / English,
    aligned, signed), and the programmes eligible and not (sorted)."""
    assert explain.describe(_found()) == [
        "household 3273011001-0042, publication pub-7 (2026-06-30 12:00:00)",
        "  Jawa Barat / Kota Bandung / Sumur Bandung / Braga",
        "  4 persons; scored by pmt_linear v3",
        "  welfare score (skor kesejahteraan, predicted log consumption per person): 13.1235",
        "  national rank 12,345; decile (desil) 2; within coverage (cakupan) of 40% of the population",
        "  distance to the cut-off (batas cakupan): 0.3765 below the cut-off score 13.5000; 2,500 persons could join "
        "coverage before this household would leave it",
        "  contributions to the score (kontribusi), lowest first; a negative one pulls the score down, towards "
        "assistance:",
        "    baseline (intersep)                               +13.9000",
        "    Kondisi tempat tinggal / housing                  -0.5000",
        "    Kepemilikan aset / assets                         -0.3000",
        "    Susunan rumah tangga / household size and make-up +0.0235",
        "  programmes (program): eligible for PKH, SEMBAKO; not eligible for PBI",
    ]


def test_describe_a_household_outside_coverage_not_explained_and_eligible_for_nothing():
    """describe: outside coverage, above the cut-off with the persons ranked poorer between it and coverage; a
    score that is no linear PMT's says so; no programme at all reads `none`."""
    found = _found(within_coverage=False, decile=7, national_rank=987654, coverage_target=0.25, model="gbm v2",
                   welfare_score=13.75, score_to_cutoff=0.25, persons_to_cutoff=123456, intercept=None,
                   contributions=None, programmes={})
    assert explain.describe(found)[3:] == [
        "  welfare score (skor kesejahteraan, predicted log consumption per person): 13.7500",
        "  national rank 987,654; decile (desil) 7; outside coverage (cakupan) of 25% of the population",
        "  distance to the cut-off (batas cakupan): 0.2500 above the cut-off score 13.5000; 123,456 persons ranked "
        "poorer stand between it and coverage",
        "  no explanation of the score: gbm v2 is not a linear PMT, and dtks explains only the linear PMT's scores",
        "  programmes (program): eligible for none",
    ]


def test_describe_the_last_household_within_coverage_and_short_labels():
    """describe: at the cut-off itself (distance 0: the last household within coverage) it reads `below` and 0
    persons; the labels are padded to `baseline (intersep)` when shorter; eligible for nothing, not eligible
    for each programme, sorted."""
    found = _found(welfare_score=13.5, score_to_cutoff=0.0, persons_to_cutoff=0, intercept=13.6,
                   contributions=[{"group": "car", "label_id": "car", "label_en": "car", "value": -0.1}],
                   programmes={"PKH": False, "PBI": False})
    assert explain.describe(found)[5:] == [
        "  distance to the cut-off (batas cakupan): 0.0000 below the cut-off score 13.5000; 0 persons could join "
        "coverage before this household would leave it",
        "  contributions to the score (kontribusi), lowest first; a negative one pulls the score down, towards "
        "assistance:",
        "    baseline (intersep) +13.6000",
        "    car / car           -0.1000",
        "  programmes (program): eligible for none; not eligible for PBI, PKH",
    ]


def test_describe_without_a_cutoff_leaves_the_distance_out():
    """describe: a publication without a cut-off score (`cutoff_score` None) gives no distance line."""
    lines = explain.describe(_found(cutoff_score=None, score_to_cutoff=None, persons_to_cutoff=None))
    assert lines[4:6] == [
        "  national rank 12,345; decile (desil) 2; within coverage (cakupan) of 40% of the population",
        "  contributions to the score (kontribusi), lowest first; a negative one pulls the score down, towards "
        "assistance:",
    ]
    assert len(lines) == 11


def test_group_labels_lookup_gives_describe(tmp_path):
    """The labels `lookup` hands to describe: conf/questionnaire.yaml's groups as (Bahasa Indonesia, English);
    with no groups configured, each feature and region column is its own group, labelled by its name."""
    labels = questionnaire.load(make_config(tmp_path)).model.group_labels()
    assert labels == {
        "demography": ("Susunan rumah tangga", "household size and make-up"),
        "education_work": ("Pendidikan dan pekerjaan", "education and work"),
        "housing": ("Kondisi tempat tinggal", "housing"),
        "utilities": ("Air, sanitasi dan energi", "water, sanitation and energy"),
        "assets": ("Kepemilikan aset", "assets"),
        "region": ("Wilayah (provinsi, perkotaan/perdesaan)", "region (province, urban or rural)"),
    }
    plain = ModelSpec(target="y", numeric=("car",), categorical=("tenure",), region_effects=("province_code",))
    assert plain.group_labels() == {"car": ("car", "car"), "tenure": ("tenure", "tenure"),
                                    "province_code": ("province_code", "province_code")}
