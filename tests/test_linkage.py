"""Record linkage's own rules on literal rows (models/linkage.py): how names are made comparable, and how
scored pairs become at most one link per member and per registry person."""

from __future__ import annotations

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
