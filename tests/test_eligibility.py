"""Programme eligibility on literal rows, and the programme rules' file (jobs/policy/eligibility.py)."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from chispa import assert_df_equality

from jobs.policy import eligibility
from jobs.policy.eligibility import Program, Programs
from runtime.config import ConfigError, load_config

RULES = Programs(rule_version="v7", programs={
    "PKH": Program(deciles=(1, 4), any_component=("n_pregnant", "n_elderly")),
    "SEMBAKO": Program(label="Sembako", deciles=(2, 5)),
    "KARTU": Program(deciles=(1, 10), within_coverage=True),
})
RANKED = ("household_id string, province_code string, regency_code string, decile int, within_coverage boolean, "
          "n_pregnant int, n_elderly int")
ELIGIBILITY = ("program string, household_id string, province_code string, regency_code string, decile int, "
               "eligible boolean, rule_version string")


def test_eligibility_is_a_decile_band_with_member_and_coverage_conditions(spark):
    """eligibility: one row per household and programme; eligible iff the decile is within the programme's
    band (both ends included), with at least one member of a listed kind where it lists some (a null count is
    none; all null is not eligible, never null), and within coverage where the programme requires it; each row
    carries the file's rule_version."""
    ranked = spark.createDataFrame([
        ("h1", "11", "1101", 1, True, 1, 0),
        ("h2", "11", "1101", 4, True, 0, 2),
        ("h3", "12", "1201", 5, False, 1, 1),
        ("h4", "12", "1201", 3, True, 0, 0),
        ("h5", "12", "1201", 6, False, None, 1),
        ("h6", "11", "1102", 2, True, None, 1),
        ("h7", "11", "1102", 2, True, None, None),
    ], RANKED)
    got = eligibility.eligibility(ranked, RULES).orderBy("program", "household_id")
    want = {  # household: (province, regency, decile, PKH, SEMBAKO, KARTU)
        "h1": ("11", "1101", 1, True, False, True),
        "h2": ("11", "1101", 4, True, True, True),
        "h3": ("12", "1201", 5, False, True, False),
        "h4": ("12", "1201", 3, False, True, True),
        "h5": ("12", "1201", 6, False, False, False),
        "h6": ("11", "1102", 2, True, True, True),
        "h7": ("11", "1102", 2, False, True, True),
    }
    rows = [(p, h, prov, reg, dec, flags[i], "v7") for i, p in enumerate(["PKH", "SEMBAKO", "KARTU"])
            for h, (prov, reg, dec, *flags) in want.items()]
    assert_df_equality(got, spark.createDataFrame(sorted(rows), ELIGIBILITY), ignore_nullable=True)


def test_conditions_of_the_real_programmes(spark):
    """load + conditions on conf/programs.yaml: PKH is deciles 1-4 with a pregnant, under-6, school-age,
    elderly or severely disabled member; SEMBAKO and PBI-JK are deciles 1-5; none requires coverage. One
    Column per programme, in the file's order."""
    rules = eligibility.load(load_config("test"))
    assert rules.rule_version == "kepmensos-79-huk-2025.1"
    programs = eligibility.conditions(rules)
    assert list(programs) == ["PKH", "SEMBAKO", "PBI_JK"]
    ranked = spark.createDataFrame([
        ("h1", 4, False, 0, 0, 1, 0, 0),
        ("h2", 4, True, 0, 0, 0, 0, 0),
        ("h3", 5, True, 0, 0, 0, 0, 1),
        ("h4", 6, True, 1, 1, 1, 1, 1),
        ("h5", 1, False, 0, 1, 0, 0, 0),
        ("h6", 2, True, 1, 0, 0, 0, 0),
        ("h7", 3, True, 0, 0, 0, 1, 0),
        ("h8", 4, True, 0, 0, 0, 0, 2),
    ], "household_id string, decile int, within_coverage boolean, n_pregnant int, n_children_u6 int, "
       "n_school_age int, n_elderly int, n_severe_disabled int")
    got = ranked.select("household_id", *[c.alias(p) for p, c in programs.items()]).orderBy("household_id")
    assert_df_equality(got, spark.createDataFrame([
        ("h1", True, True, True),
        ("h2", False, True, True),
        ("h3", False, True, True),
        ("h4", False, False, False),
        ("h5", True, True, True),
        ("h6", True, True, True),
        ("h7", True, True, True),
        ("h8", True, True, True),
    ], "household_id string, PKH boolean, SEMBAKO boolean, PBI_JK boolean"), ignore_nullable=True)


def test_fingerprints_are_each_programmes_rule_not_the_rule_version():
    """fingerprints: each programme's rule as canonical JSON (sorted keys, defaults included); raising the
    rule_version alone changes none, changing one programme's band changes that one only."""
    assert eligibility.fingerprints(RULES) == {
        "PKH": '{"any_component": ["n_pregnant", "n_elderly"], "deciles": [1, 4], "label": null, '
               '"within_coverage": false}',
        "SEMBAKO": '{"any_component": [], "deciles": [2, 5], "label": "Sembako", "within_coverage": false}',
        "KARTU": '{"any_component": [], "deciles": [1, 10], "label": null, "within_coverage": true}',
    }
    raised = RULES.model_copy(update={"rule_version": "v8"})
    assert eligibility.fingerprints(raised) == eligibility.fingerprints(RULES)
    narrowed = RULES.model_copy(update={"programs": {**RULES.programs, "SEMBAKO": Program(label="Sembako",
                                                                                         deciles=(2, 4))}})
    before, after = eligibility.fingerprints(RULES), eligibility.fingerprints(narrowed)
    assert [p for p in before if before[p] != after[p]] == ["SEMBAKO"]


def test_changes_count_entries_and_exits_per_programme_and_province(spark):
    """changes: per programme and province, the households that entered (not eligible or absent before, eligible
    after) and left (eligible before, not eligible or deleted after), pairing each household's pre- and
    post-image within a commit: a rule-version update that stays eligible, a new ineligible row and a deleted
    ineligible row are neither; a household that entered in one commit and left in the next counts once each;
    a programme and province with no move has no row. The form for Arrow (`changes_arrow`) says the same."""
    feed = spark.createDataFrame([
        ("PKH", "h1", "11", "1101", True, "v1", "insert", 3),
        ("PKH", "h2", "11", "1101", False, "v1", "insert", 3),
        ("PKH", "h3", "11", "1101", False, "v1", "update_preimage", 3),
        ("PKH", "h3", "11", "1101", True, "v1", "update_postimage", 3),
        ("PKH", "h4", "11", "1101", True, "v1", "update_preimage", 3),
        ("PKH", "h4", "11", "1101", False, "v1", "update_postimage", 3),
        ("PKH", "h5", "12", "1201", True, "v1", "update_preimage", 3),
        ("PKH", "h5", "12", "1201", True, "v2", "update_postimage", 3),
        ("PKH", "h6", "12", "1201", False, "v1", "delete", 3),
        ("PKH", "h7", "11", "1101", True, "v1", "delete", 3),
        ("SEMBAKO", "h1", "11", "1101", True, "v1", "insert", 3),
        ("SEMBAKO", "h8", "13", "1301", False, "v1", "update_preimage", 3),
        ("SEMBAKO", "h8", "13", "1301", False, "v2", "update_postimage", 3),
        ("PKH", "h3", "11", "1101", True, "v1", "update_preimage", 4),
        ("PKH", "h3", "11", "1101", False, "v1", "update_postimage", 4),
        ("SEMBAKO", "h9", "12", "1201", True, "v1", "delete", 4),
        # A delete and an insert of one household in one commit (as a table overwrite writes them) pair too.
        ("PKH", "h10", "13", "1301", True, "v1", "delete", 5),
        ("PKH", "h10", "13", "1301", True, "v2", "insert", 5),
        ("PKH", "h11", "13", "1301", False, "v1", "delete", 5),
        ("PKH", "h11", "13", "1301", True, "v2", "insert", 5),
    ], "program string, household_id string, province_code string, regency_code string, eligible boolean, "
       "rule_version string, _change_type string, _commit_version long")
    got = eligibility.changes(feed).orderBy("program", "province_code")
    expected = [("PKH", "11", 2, 3), ("PKH", "13", 1, 0), ("SEMBAKO", "11", 1, 0), ("SEMBAKO", "12", 0, 1)]
    assert_df_equality(got, spark.createDataFrame(
        expected, "program string, province_code string, entered bigint, left bigint"), ignore_nullable=True)
    # The same rule on the feed as deltalake reads it (the lookups of a local lakehouse, no Spark).
    arrow = pa.Table.from_pandas(feed.toPandas(), preserve_index=False)
    assert [tuple(r.values()) for r in eligibility.changes_arrow(arrow)] == expected


def load_text(tmp_path, text: str):
    path = tmp_path / "programs.yaml"
    path.write_text(text)
    return path, load_config("test").model_copy(update={"programs_file": str(path)})


@pytest.mark.parametrize(("text", "problem"), [
    ("programs:\n  PKH: {deciles: [1, 4]}\n", "key 'rule_version': Field required"),
    ("rule_version: v1\nprograms: {}\n",
     "key 'programs': Dictionary should have at least 1 item after validation, not 0 (got {})"),
    ("rule_version: v1\nversion: 2\nprograms:\n  PKH: {deciles: [1, 4]}\n",
     "key 'version': Extra inputs are not permitted (got 2)"),
    ("rule_version: v1\nprograms:\n  PKH: {deciles: [1, 2, 3]}\n",
     "key 'programs.PKH.deciles': Tuple should have at most 2 items after validation, not 3 (got [1, 2, 3])"),
    ("rule_version: v1\nprograms:\n  PKH: {deciles: [1, 4], within_coverage: maybe}\n",
     "key 'programs.PKH.within_coverage': Input should be a valid boolean, unable to interpret input (got 'maybe')"),
], ids=["no-rule-version", "no-programmes", "unknown-key", "three-deciles", "not-boolean"])
def test_load_a_bad_programmes_file_fails_naming_the_file_and_key(tmp_path, text, problem):
    """load: a programmes file with one problem fails with one ConfigError naming the file and the key."""
    path, config = load_text(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        eligibility.load(config)
    assert str(error.value) == f"{path}: {problem}"


def test_load_rejects_a_reversed_band_and_lists_every_problem(tmp_path):
    """load: a band that is not [low, high] within 1..10 fails naming the key; a file with two problems names
    both, one a line; a missing file and a file that is not a mapping fail naming the file."""
    path, config = load_text(tmp_path, "rule_version: v1\nprograms:\n  PKH: {deciles: [5, 2]}\n")
    with pytest.raises(ConfigError, match=re.escape(
            f"{path}: key 'programs.PKH.deciles': must be [low, high] within 1..10, got [5, 2]")):
        eligibility.load(config)
    path, config = load_text(tmp_path, "rule_version: v1\nprograms:\n  PKH: {deciles: [0, 4]}\n"
                                       "  SEMBAKO: {deciles: [1, 5], any_component: [n_unicorns]}\n")
    with pytest.raises(ConfigError) as error:
        eligibility.load(config)
    lines = str(error.value).split("\n  ")
    assert lines[0] == "invalid file:" and len(lines) == 3
    assert lines[1].startswith(f"{path}: key 'programs.PKH.deciles': must be [low, high] within 1..10, got [0, 4]")
    assert lines[2].startswith(f"{path}: key 'programs.SEMBAKO.any_component': unknown household count(s) "
                               "['n_unicorns']")
    path, config = load_text(tmp_path, "- PKH\n- SEMBAKO\n")
    with pytest.raises(ConfigError) as error:
        eligibility.load(config)
    assert str(error.value) == f"{path}: top level must be a mapping of keys to values"
    path.unlink()
    with pytest.raises(ConfigError) as error:
        eligibility.load(config)
    assert str(error.value) == f"{path}: file not found"
