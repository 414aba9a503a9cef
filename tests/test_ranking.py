"""The national ranking rule, checked against an independent pandas computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jobs.policy import eligibility, ranking
from runtime.config import ConfigError, load_config
from tests import reference_rules


def pandas_ranking(df: pd.DataFrame, population: int, target: float) -> pd.DataFrame:
    out = df.sort_values(["welfare_score", "household_id"]).reset_index(drop=True)
    out["national_rank"] = np.arange(1, len(out) + 1)
    out["cum_population_share"] = out["hh_size"].cumsum() / float(population)
    out["decile"] = out["cum_population_share"].map(lambda s: min(max(math.ceil(s * 10), 1), 10))
    out["within_coverage"] = out["cum_population_share"] <= target
    return out.set_index("household_id")


@pytest.mark.parametrize("partitions", [1, 3, 7])
def test_ranking_equals_pandas_with_ties(spark, partitions):
    rng = np.random.default_rng(7)
    n = 500
    pdf = pd.DataFrame(
        {
            "household_id": [f"H{i:05d}" for i in rng.permutation(n)],
            # Few distinct scores: many ties, broken by household_id.
            "welfare_score": rng.integers(0, 40, n).astype(float) / 4.0,
            "hh_size": rng.integers(1, 9, n).astype("int32"),
        }
    )
    population = int(pdf["hh_size"].sum() * 1.3)
    got = ranking.rank_nationally(spark.createDataFrame(pdf), population, 0.4, partitions=partitions).toPandas()
    got = got.set_index("household_id").sort_index()
    want = pandas_ranking(pdf, population, 0.4).sort_index()
    assert (got["national_rank"] == want["national_rank"]).all()
    assert (got["cum_population_share"] == want["cum_population_share"]).all()
    assert (got["decile"] == want["decile"]).all()
    assert (got["within_coverage"] == want["within_coverage"]).all()
    ref = reference_rules.reference_ranking(list(pdf.itertuples(index=False, name=None)), population, 0.4)
    assert all(ref[h][0] == r for h, r in got["national_rank"].items())


def test_ranking_plan_has_no_single_partition_window(spark):
    pdf = pd.DataFrame({"household_id": ["a", "b"], "welfare_score": [1.0, 0.0], "hh_size": [2, 3]})
    plan = ranking.rank_nationally(spark.createDataFrame(pdf), 10, 0.6)._jdf.queryExecution().executedPlan().toString()
    assert "SinglePartition" not in plan
    rows = {r.household_id: r for r in ranking.rank_nationally(spark.createDataFrame(pdf), 10, 0.6).collect()}
    assert (rows["b"].national_rank, rows["b"].cum_population_share, rows["b"].decile) == (1, 0.3, 3)
    assert (rows["a"].national_rank, rows["a"].cum_population_share, rows["a"].within_coverage) == (2, 0.5, True)


def test_programme_rules(spark, tmp_path):
    path = tmp_path / "programs.yaml"
    path.write_text(
        "rule_version: v1\nprograms:\n  PKH: {deciles: [1, 4], any_component: [n_pregnant, n_elderly]}\n"
        "  SEMBAKO: {deciles: [1, 5]}\n"
    )
    config = load_config("test").model_copy(update={"programs_file": str(path)})
    rules = eligibility.load(config)
    cols = "household_id string, province_code string, regency_code string, decile int, n_pregnant int, n_elderly int"
    hh = spark.createDataFrame(
        [("h1", "32", "3273", 2, 1, 0), ("h2", "32", "3273", 3, 0, 0), ("h3", "32", "3273", 5, 0, 2)], cols
    )
    got = {(r.program, r.household_id): r.eligible for r in eligibility.eligibility(hh, rules).collect()}
    assert got == {
        ("PKH", "h1"): True,
        ("PKH", "h2"): False,
        ("PKH", "h3"): False,
        ("SEMBAKO", "h1"): True,
        ("SEMBAKO", "h2"): True,
        ("SEMBAKO", "h3"): True,
    }
    path.write_text("rule_version: v1\nprograms:\n  PKH: {deciles: [1, 4], any_component: [n_unicorns]}\n")
    with pytest.raises(ConfigError, match=r"programs.yaml: key 'programs.PKH.any_component': unknown household count"):
        eligibility.load(config)
    path.write_text("rule_version: v1\nprograms:\n  PKH: {deciles: [0, 4]}\n")
    with pytest.raises(ConfigError, match=r"programs.yaml: key 'programs.PKH.deciles': must be \[low, high\]"):
        eligibility.load(config)
    path.write_text("rule_version: v1\nprograms:\n  PKH: {deciles: [1, 4], band: 2}\n")
    with pytest.raises(ConfigError, match=r"key 'programs.PKH.band': Extra inputs are not permitted"):
        eligibility.load(config)
