"""Record linkage's own rules on literal rows (models/linkage.py): how names are made comparable, and how
scored pairs become at most one link per member and per registry person."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import random
from pathlib import Path

import pytest
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


def test_blocking_keys_are_each_rules_columns_or_none_for_another_rule():
    """blocking_keys reads the pinned version's rules: the shipped first version's four, and None for a rule an
    update round cannot prune by (a function, an inequality, two columns, an unknown column)."""
    import json
    from pathlib import Path

    model = json.loads((Path(__file__).resolve().parents[1] / "conf" / "linkage_model.json").read_text())
    assert linkage.blocking_keys(model) == [("village_code", "birth_date"), ("kk",),
                                            ("district_code", "birth_year", "name_key"), ("nik_prefix",)]
    for rule in ("substr(l.`name`, 1, 3) = substr(r.`name`, 1, 3)", "l.`kk` <> r.`kk`",
                 "(l.`kk` = r.`kk`) AND (l.`sex` = r.`name`)", "l.`surname` = r.`surname`", "1 = 1"):
        assert linkage.blocking_keys({"blocking_rules_to_generate_predictions": [
            {"blocking_rule": "l.`kk` = r.`kk`"}, {"blocking_rule": rule}]}) is None, rule


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


def literal_sides(spark, members: list[tuple], registry: list[tuple]):
    """Both sides' COLUMNS from rows of (key, name, birth date, sex, village, KK, NIK)."""
    cols = "uid string, name string, birth date, sex string, village string, kk string, nik string"
    return tuple(linkage.side(df, F.col("uid"), F.col("name"), F.col("birth"), F.col("sex"), F.col("village"),
                              F.col("kk"), F.col("nik"))
                 for df in (spark.createDataFrame(members, cols), spark.createDataFrame(registry, cols)))


def test_a_trained_model_scores_literal_members_against_the_registry(spark):
    """The similarity functions load from the set-up JAR and a trained model of this shape scores pairs on our
    Spark: a member with an abbreviated name and a swapped birth date, and one whose NIK has a wrong digit,
    are linked; a stranger of the same village is not. Re-train the file when the comparisons change."""
    model = json.loads(MODEL.read_text())
    members, registry = literal_sides(spark, [
        ("H1:2", "M. Rizki Saputra", dt.date(1990, 4, 3), "L", "3201010001", "K1", None),
        ("H1:3", "Siti Aminah", dt.date(1985, 7, 21), "P", "3201010001", "K1", "3201016107851001"),
        ("H2:1", "Yohanes Lado", dt.date(1962, 1, 30), "L", "3201010001", "K9", None),
    ], [
        ("A", "Muhammad Rizki Saputra", dt.date(1990, 3, 4), "L", "3201010001", "K1", "3201010403900001"),
        ("B", "Siti Aminah", dt.date(1985, 7, 21), "P", "3201010001", "K1", "3201016107850001"),
        ("C", "Budi Santoso", dt.date(1962, 1, 30), "L", "3201010001", "K5", "3201013001620001"),
    ])
    pairs = linkage.predict(spark, members, registry, model, lower=0.5)
    decided = linkage.decide(linkage.one_to_one(pairs), linkage.Thresholds(upper=0.999, lower=0.5))
    got = {r.member_id: (r.registry_id, r.decision) for r in decided.collect()}
    assert got == {"H1:2": ("A", "LINK"), "H1:3": ("B", "LINK")}, got


def test_u_is_each_levels_share_of_random_pairs_in_one_pass(spark):
    """u by random sampling (`u_by_random_sampling`, one pass for every comparison): here every pair is
    sampled (9 pairs, under U_MAX_PAIRS), so each level's u is its share of the pairs where neither value is
    null, counted by hand; a level no pair reaches stays without u, as Splink leaves it."""
    left, right = literal_sides(spark, [
        ("H1:2", "Rizki", dt.date(1990, 4, 3), "L", "3201010001", "K1", None),
        ("H1:3", "Siti", dt.date(1985, 7, 21), "P", "3201010001", "K1", "3201016107851001"),
        ("H2:1", "Yohanes", dt.date(1962, 1, 30), "L", "3201010001", "K9", None),
    ], [
        ("A", "Rizki", dt.date(1990, 3, 4), "L", "3201010001", "K1", "3201010403900001"),
        ("B", "Siti", dt.date(1985, 7, 21), "P", "3201010001", "K1", "3201016107850001"),
        ("C", "Budi", dt.date(1962, 1, 30), "L", "3201010001", "K5", "3201013001620001"),
    ])
    settings = linkage._linker(spark, left, right, linkage._settings(0.1)).misc.save_model_to_json()
    u = linkage.u_by_random_sampling(spark, left, right, settings, 9)
    assert u["sex"] == {1: 5 / 9, 0: 4 / 9}  # L-L 2x2, P-P 1x1 of 9
    assert u["kk"] == {1: 4 / 9, 0: 5 / 9}  # K1-K1 2x2
    assert u["nik"] == {1: 1 / 3, 0: 2 / 3}  # H1:3's three pairs only (the others report none): one digit off B
    assert u["village_code"] == {2: 1.0}  # one village: the district and else levels are never reached
    # name (levels: exact 5, ..., else 0): Rizki and Siti exactly once each; the 7 others far apart (0)
    assert u["name"] == {5: 2 / 9, 0: 7 / 9}
    # birth date (exact 4, swapped 3, year off 2, within a year 1, else 0): Siti exact, Yohanes-Budi exact,
    # Rizki's day and month swapped; no other pair within a year of each other
    assert u["birth_date"] == {4: 2 / 9, 3: 1 / 9, 0: 6 / 9}
    village = next(c for c in linkage.with_u(settings, u)["comparisons"] if c["output_column_name"] == "village_code")
    assert [lv.get("u_probability") for lv in village["comparison_levels"]] == [None, 1.0, None, None]


def test_training_gives_every_reached_level_m_and_u_and_links_the_same_persons(spark):
    """`linkage.train` end to end on our Spark (a lakehouse's first version is trained so): u from the one-pass
    count, m by EM over its three rules, λ from the sides' sizes. 40 registry persons; the members are 30 of
    them as reported (every fourth with a typing error in the name, every fifth with day and month swapped)
    and 10 strangers. The trained model links each reported person to themself and no stranger."""
    first = ["Agus", "Budi", "Citra", "Dewi", "Eko", "Fitri", "Gilang", "Hana", "Indra", "Joko"]
    last = ["Santoso", "Wijaya", "Lestari", "Saputra"]
    persons = [(f"P{i}", f"{first[i % 10]} {last[i // 10]}", dt.date(1950 + i, 1 + i % 12, 13 + i % 10),
                "LP"[i % 2], f"320101000{i % 4}", f"K{i // 2}", None) for i in range(40)]
    members = []
    for i, (_, name, born, sex, village, kk, _) in enumerate(persons[:30]):
        if i % 4 == 0:
            name = name[:-1] + "x"  # one typing error
        if i % 5 == 0 and born.day <= 12:
            born = dt.date(born.year, born.day, born.month)
        members.append((f"H{i}:1", name, born, sex, village, kk, None))
    members += [(f"S{i}:1", f"Stranger{i} Nama", dt.date(1930 + i, 6, 1), "L", "3201010009", f"X{i}", None)
                for i in range(10)]
    left, right = literal_sides(spark, members, persons)

    model = linkage.train(spark, left, right, expected_share=0.75)
    assert model["probability_two_random_records_match"] == 0.75 * 40 / (40 * 40)
    settings = linkage._linker(spark, left, right, linkage._settings(0.1)).misc.save_model_to_json()
    u = linkage.u_by_random_sampling(spark, left, right, settings, 40 * 40)
    for comparison in model["comparisons"]:
        graded = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        got = {len(graded) - 1 - i: lv.get("u_probability") for i, lv in enumerate(graded)}
        assert {k: v for k, v in got.items() if v is not None} == u[comparison["output_column_name"]]
    name = next(c for c in model["comparisons"] if c["output_column_name"] == "name")
    assert name["comparison_levels"][1]["m_probability"] > 0.5  # most reported names are exact
    assert name["comparison_description"] == "CustomComparison"
    sex = next(c for c in model["comparisons"] if c["output_column_name"] == "sex")
    assert sex["comparison_description"] == "ExactMatch"  # kept though Splink drops it reading a dict

    pairs = linkage.predict(spark, left, right, model, lower=0.5)
    links = linkage.decide(linkage.one_to_one(pairs), linkage.Thresholds(upper=0.99, lower=0.5))
    linked = {r.member_id: r.registry_id for r in links.where("decision = 'LINK'").collect()}
    assert linked == {f"H{i}:1": f"P{i}" for i in range(30)}, linked


@pytest.mark.e2e  # Splink's own iterations, the oracle, take about 20 s: not for the inner loop
def test_em_in_process_equals_splinks_own_iterations(spark, monkeypatch):
    """The EM iterations `train` runs in this process (`em_on_agreement_patterns`) give the model Splink's own
    iterations give (a Spark query each) on the same sides: every level's m and u, within float rounding.
    The sides make each training rule's blocked pairs a mix of matches and non-matches at most levels: 300
    registry persons from few names, villages and birth dates; 200 of them reported with errors (names
    mistyped, shortened or extended, day and month swapped, a year off, another village of the district,
    another KK) and 60 strangers. Splink's iterations take most of this test's time: they are the oracle,
    run once, here."""
    rng = random.Random(7)
    first = ["Agus", "Budi", "Citra", "Dewi", "Eko", "Fitri", "Siti", "Muhammad", "Nur", "Joko", "Rina", "Yanti"]
    last = ["Santoso", "Wijaya", "Lestari", "Saputra", "Hidayat", "Sari", "Rahman", ""]
    days = [dt.date(1960 + rng.randrange(30), 1 + rng.randrange(12), 1 + rng.randrange(28)) for _ in range(60)]
    villages = [f"32010{d}000{v}" for d in (1, 2) for v in range(4)]

    def person(i: int) -> tuple:
        return (f"P{i}", f"{rng.choice(first)} {rng.choice(last)}".strip(), rng.choice(days), rng.choice("LP"),
                rng.choice(villages), f"K{i // 3}", None)

    persons = [person(i) for i in range(300)]
    members = []
    for i, (_, name, born, sex, village, kk, _) in enumerate(rng.sample(persons, 200)):
        error = rng.randrange(8)
        if error == 0:
            name = name[:-1] + "x"
        elif error == 1:
            name = name.split(" ")[0]
        elif error == 2:
            name = f"{name} Putra"
        elif error == 3 and born.day <= 12:
            born = dt.date(born.year, born.day, born.month)
        elif error == 4:
            born = dt.date(born.year + 1, born.month, born.day)
        elif error == 5:
            village = village[:-1] + str((int(village[-1]) + 1) % 4)
        elif error == 6:
            kk = f"X{i}"
        members.append((f"H{i}:1", name, born, sex, village, kk, None))
    members += [(f"S{i}:1", *person(1000 + i)[1:]) for i in range(60)]
    left, right = literal_sides(spark, members, persons)
    ours = linkage.train(spark, left, right, expected_share=0.75)
    from splink.internals import em_training_session, expectation_maximisation

    assert em_training_session.expectation_maximisation is expectation_maximisation.expectation_maximisation
    monkeypatch.setattr(linkage, "_em_iterations_in_process", contextlib.nullcontext)
    splinks = linkage.train(spark, left, right, expected_share=0.75)

    def parameters(model: dict) -> list:
        return [(c["output_column_name"], lv["label_for_charts"], lv.get("m_probability"), lv.get("u_probability"))
                for c in model["comparisons"] for lv in c["comparison_levels"]]

    assert ours.keys() == splinks.keys()
    assert {k: v for k, v in ours.items() if k not in ("comparisons", "linker_uid")} == \
        {k: v for k, v in splinks.items() if k not in ("comparisons", "linker_uid")}
    for got, want in zip(parameters(ours), parameters(splinks), strict=True):
        assert got[:2] == want[:2]
        for a, b in zip(got[2:], want[2:], strict=True):
            assert (a is None) == (b is None) and (a is None or math.isclose(a, b, rel_tol=1e-9)), (got, want)
    graded = [(c, label, m) for c, label, m, u in parameters(ours) if not label.endswith("is NULL")]
    assert [label for c, label, m in graded if m is None] == [  # no member reports a NIK here
        "Levenshtein distance of nik <= 2", "All other comparisons"]
    assert sum(0.01 < m < 0.99 for c, label, m in graded if m is not None) >= 10  # EM's estimates, not degenerate
