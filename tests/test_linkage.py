"""Record linkage's own rules on literal rows (models/linkage.py): how names are made comparable, and how
scored pairs become at most one link per member and per registry person."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from chispa import assert_df_equality
from pyspark.sql import functions as F

from models import linkage


def test_standard_name_makes_common_spellings_one(spark):
    names = ["M. Rizki Saputra", "Moh. Rizki Saputra", "Muhamad Rizki  Saputra", "muhammad rizki saputra",
             "Noor Aini", "Sitti Aminah", "Soetrisno", "Djoko", "Achmad", "Rudy", "Syahputra", "  ", None,
             "Mulyadi", "Ni Made Sukerti"]
    df = spark.createDataFrame([(n,) for n in names], "name string")
    got = [r.s for r in df.select(linkage.standard_name(F.col("name")).alias("s")).collect()]
    assert got == ["MUHAMMAD RIZKI SAPUTRA"] * 4 + [
        "NUR AINI", "SITI AMINAH", "SUTRISNO", "JOKO", "AHMAD", "RUDI", "SAHPUTRA", None, None,
        "MULYADI", "NI MADE SUKERTI"]


def test_one_to_one_keeps_each_side_once_whatever_the_row_order(spark):
    schema = "member_id string, registry_id string, match_probability double, match_weight double"
    pairs = [
        ("H1:1", "A", 0.999, 10.0), ("H1:1", "B", 0.95, 5.0),  # H1:1's best is A
        ("H2:1", "A", 0.998, 9.0), ("H2:1", "C", 0.97, 6.0),  # A goes to H1:1; H2:1 keeps no other pair
        ("H3:1", "D", 0.9, 4.0), ("H3:2", "D", 0.9, 4.0),  # a tie: the lower member key
    ]
    expected = spark.createDataFrame(
        [("H1:1", "A", 0.999, 10.0), ("H3:1", "D", 0.9, 4.0)], schema)
    for rows in (pairs, list(reversed(pairs))):
        got = linkage.one_to_one(spark.createDataFrame(rows, schema))
        assert_df_equality(got, expected, ignore_row_order=True)


def test_decide_links_at_the_upper_threshold_and_reviews_below(spark):
    schema = "member_id string, registry_id string, match_probability double"
    pairs = spark.createDataFrame([("a", "A", 0.99), ("b", "B", 0.989999), ("c", "C", 0.5)], schema)
    got = linkage.decide(pairs, linkage.Thresholds(upper=0.99, lower=0.5))
    assert {r.member_id: r.decision for r in got.collect()} == {"a": "LINK", "b": "REVIEW", "c": "REVIEW"}


MODEL = Path(__file__).parents[1] / "conf" / "linkage_model.json"  # scripts/bench_linkage.py --model-out (20 k)


def test_a_trained_model_scores_literal_members_against_the_registry(spark):
    """The similarity functions load from the set-up JAR and a trained model of this shape scores pairs on our
    Spark: a member with an abbreviated name and a swapped birth date, and one whose NIK has a wrong digit,
    are linked; a stranger of the same village is not. Re-train the file when the comparisons change."""
    model = json.loads(MODEL.read_text())
    cols = "uid string, name string, birth date, sex string, village string, kk string, nik string"
    members = spark.createDataFrame([
        ("H1:2", "M. Rizki Saputra", dt.date(1990, 4, 3), "L", "3201010001", "K1", None),
        ("H1:3", "Siti Aminah", dt.date(1985, 7, 21), "P", "3201010001", "K1", "3201016107851001"),
        ("H2:1", "Yohanes Lado", dt.date(1962, 1, 30), "L", "3201010001", "K9", None),
    ], cols)
    registry = spark.createDataFrame([
        ("A", "Muhammad Rizki Saputra", dt.date(1990, 3, 4), "L", "3201010001", "K1", "3201010403900001"),
        ("B", "Siti Aminah", dt.date(1985, 7, 21), "P", "3201010001", "K1", "3201016107850001"),
        ("C", "Budi Santoso", dt.date(1962, 1, 30), "L", "3201010001", "K5", "3201013001620001"),
    ], cols)

    def side(df):
        return linkage.side(df, F.col("uid"), F.col("name"), F.col("birth"), F.col("sex"), F.col("village"),
                            F.col("kk"), F.col("nik"))

    pairs = linkage.predict(spark, side(members), side(registry), model, lower=0.5)
    decided = linkage.decide(linkage.one_to_one(pairs), linkage.Thresholds(upper=0.999, lower=0.5))
    got = {r.member_id: (r.registry_id, r.decision) for r in decided.collect()}
    assert got == {"H1:2": ("A", "LINK"), "H1:3": ("B", "LINK")}, got
