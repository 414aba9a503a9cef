"""Stage `generate`: NIK rules, regions, field hierarchy, determinism and exact defect counts.

One small nation is generated per module (real Spark) and every check reads the written files, recounting
each injected defect from the data itself rather than trusting truth/defects.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from jobs.core import nik, regions
from jobs.generate import defects, names, outputs, world
from jobs.generate import stage as generate
from jobs.generate.draws import Draws, add_columns
from jobs.generate.households import households as draw_households
from jobs.generate.proxies import PROXIES
from jobs.generate.villages import read_population, village_plan
from runtime.config import ReportingErrors, load_config
from runtime.stage import StageContext

HOUSEHOLDS = 1500
SEED = 11
# Reads the nation this module generates (a generate stage run of 1,500 households): the end-to-end tier.
GENERATED = pytest.mark.e2e
FOLDERS = ("registry", "survey_households", "survey_members", "training_households", "training_members",
           "truth/households", "truth/defects", "truth/members")


def _run(spark, root: Path, seed: int = SEED, households: int = HOUSEHOLDS, fmt: str | None = None):
    landing = {"root": str(root / "landing")} | ({"format": fmt} if fmt else {})
    config = load_config("test", {"lakehouse_root": str(root / "lake"), "landing": landing,
                                  "generate": {"households": households, "seed": seed}})
    ctx = StageContext(config=config, run_id="20260101T000000Z-test", _spark=spark)
    return config, generate.run(ctx, argparse.Namespace())


class Landing:
    def __init__(self, spark, config, result) -> None:
        self.spark, self.config, self.result = spark, config, result
        self.root = Path(config.landing.root)
        self.manifest = json.loads((self.root / "manifest.json").read_text())

    def df(self, name: str) -> DataFrame:
        return self.spark.read.parquet(str(self.root / name))


@pytest.fixture(scope="module")
def landing(spark, tmp_path_factory) -> Landing:
    config, result = _run(spark, tmp_path_factory.mktemp("generate"))
    return Landing(spark, config, result)


@pytest.fixture(scope="module")
def ref():
    return regions.load(load_config("test"))


@GENERATED
def test_manifest_counts_and_contract_columns(landing):
    counts = landing.manifest["row_counts"]
    for name in FOLDERS:
        assert landing.df(name).count() == counts[name], name
    assert landing.result.rows_out == sum(counts.values())
    assert landing.manifest["seed"] == SEED and landing.manifest["parameters"]["households"] == HOUSEHOLDS
    assert len(list((landing.root / "registry").glob("*.parquet"))) == 1  # fixed file count at this size
    # The size generate expects its landing zone to have, which sets the Spark settings it draws with (files'
    # own footers weigh more in a nation this small than near the limit, about 50,000 households).
    on_disk = sum(f.stat().st_size for f in landing.root.rglob("*.parquet"))
    assert 0.9 < on_disk / (HOUSEHOLDS * generate.LANDING_BYTES_PER_HOUSEHOLD) < 1.5
    assert not list(landing.root.parent.glob("landing.tmp-*")) and not list(landing.root.parent.glob("landing.old-*"))
    # Coverage of the sources: survey about three quarters, training a few per cent, ~1 % dead.
    assert 0.65 < counts["survey_households"] / HOUSEHOLDS < 0.85
    assert 0.025 < counts["training_households"] / HOUSEHOLDS < 0.06
    assert 3.2 < counts["registry"] / HOUSEHOLDS < 4.6
    assert 0.005 < landing.manifest["stats"]["deaths"] / counts["registry"] < 0.02
    assert counts["truth/households"] == counts["survey_households"]
    questionnaire = yaml.safe_load(landing.config.conf_file(landing.config.questionnaire_file).read_text())
    assert list(PROXIES) == list(questionnaire["household"])
    assert landing.df("survey_households").columns == [*outputs.HOUSEHOLD_HEAD_COLUMNS, *PROXIES]
    assert landing.df("survey_members").columns == list(outputs.MEMBER_COLUMNS)
    assert landing.df("registry").columns == list(outputs.REGISTRY_COLUMNS)
    assert landing.df("training_households").columns[-2:] == ["consumption_per_capita", "weight"]
    assert "consumption_per_capita" not in landing.df("survey_households").columns


@GENERATED
def test_registry_niks_follow_the_rules(landing, ref):
    reg = landing.df("registry")
    as_of = world.REFERENCE_DATE
    provinces = ref.provinces["province_code"]
    checked = reg.select(
        nik.problem("nik", provinces, as_of).alias("problem"),
        (nik.birth_date("nik", as_of) == F.col("birth_date")).alias("date_ok"),
        (nik.sex(F.col("nik")) == F.col("sex")).alias("sex_ok"),
        (F.col("nik").substr(1, 6) == F.col("village_code").substr(1, 6)).alias("home_district"),
        (F.col("nik").substr(1, 2) != F.col("village_code").substr(1, 2)).alias("migrant"),
        F.col("kk_number").rlike(r"^\d{16}$").alias("kk_ok"),
        (F.col("kk_number").substr(1, 6) == F.col("village_code").substr(1, 6)).alias("kk_district"),
        (F.col("death_date") > F.col("birth_date")).alias("died_after_birth"),
    ).agg(
        F.count(F.lit(1)).alias("n"),
        F.count("problem").alias("invalid"),
        F.sum((~F.col("date_ok")).cast("int")).alias("bad_date"),
        F.sum((~F.col("sex_ok")).cast("int")).alias("bad_sex"),
        F.avg(F.col("home_district").cast("int")).alias("home"),
        F.avg(F.col("migrant").cast("int")).alias("migrants"),
        F.sum((~F.col("kk_ok") | ~F.col("kk_district")).cast("int")).alias("bad_kk"),
        F.sum((~F.col("died_after_birth")).cast("int")).alias("bad_death"),
    ).first()
    assert checked["invalid"] == 0 and checked["bad_date"] == 0 and checked["bad_sex"] == 0
    assert checked["bad_kk"] == 0 and checked["bad_death"] in (0, None)
    assert 0.02 < checked["migrants"] < 0.09 and checked["home"] > 0.9
    assert reg.select("nik").distinct().count() == checked["n"]
    # Serials start at 0001 within (district, date, sex); women's days are 41-71.
    assert reg.filter(F.col("nik").substr(13, 4) == "0001").count() > 0.9 * checked["n"]
    assert reg.filter((F.col("sex") == "P") & (F.col("nik").substr(7, 2).cast("int") <= 40)).count() == 0
    # Households: every roster has exactly one head (relationship 1) in the registry's KK.
    heads = reg.filter("relationship = 1").groupBy("kk_number").count()
    assert heads.filter("count != 1").count() == 0 and heads.count() == HOUSEHOLDS


@GENERATED
def test_region_codes_come_from_the_reference(landing, ref, spark):
    villages = spark.createDataFrame(ref.villages[["village_code"]])
    assert landing.df("registry").join(villages, "village_code", "left_anti").count() == 0
    assert landing.df("training_households").join(villages, "village_code", "left_anti").count() == 0
    unknown = landing.df("survey_households").join(villages, "village_code", "left_anti")
    assert unknown.count() == landing.manifest["defects"]["unknown_village"] > 0
    kinds = {r[0] for r in landing.df("registry").select(F.col("village_code").substr(7, 1)).distinct().collect()}
    assert {"1", "2"} <= kinds  # both kelurahan and desa are populated


def census_shares(config) -> pd.Series:
    pop = read_population(config.conf_file(generate.POPULATION_FILE)).set_index("province_code")
    return pop["population"] / pop["population"].sum()


def worst_gap(persons: pd.Series, census: pd.Series) -> tuple[float, str]:
    """The largest gap between a province's share of `persons` and its census share (absolute), and where."""
    gap = (persons.reindex(census.index, fill_value=0) / persons.sum() - census).abs()
    return float(gap.max()), str(gap.idxmax())


@GENERATED
def test_registry_persons_follow_the_census(landing, ref, spark):
    """Every province is in the nation, each with its census share of the registry's persons (living and
    dead) within 1.5 percentage points; the plan's households hold exactly these persons (`size`) and the
    survey members the registry does not hold (truth/members without a registry NIK)."""
    province = F.col("village_code").substr(1, 2).alias("province_code")
    reg = landing.df("registry").groupBy(province).count()
    persons = reg.toPandas().set_index("province_code")["count"]
    absent = (landing.df("truth/members").where("registry_nik IS NULL")  # an unknown village keeps its district
              .join(landing.df("survey_households"), "household_id").groupBy(province).count().toPandas())
    assert absent["count"].sum() == landing.manifest["defects"]["person_not_in_registry"] > 0
    assert set(persons.index) == set(ref.provinces["province_code"])
    gap, where = worst_gap(persons, census_shares(landing.config))
    assert gap < 0.015, (gap, where)
    pop = read_population(landing.config.conf_file(generate.POPULATION_FILE))
    plan = village_plan(ref, pop, HOUSEHOLDS, SEED, landing.config.generate.defects.curbstoning)
    hh = draw_households(spark, plan, SEED, landing.config.generate.defects, 10.0, 2)
    sizes = hh.groupBy("province_code").agg(F.sum("size").alias("persons")).toPandas()
    everyone = persons.add(absent.set_index("province_code")["count"], fill_value=0).astype("int64")
    assert sizes.set_index("province_code")["persons"].sort_index().equals(everyone.sort_index())


@pytest.mark.parametrize("households", [20_000, 100_000])
def test_population_follows_the_provinces(ref, spark, households):
    """At the demo size and beyond, households are where the census puts people: every province, each
    with its census share of persons within 1.5 percentage points. Registry persons are the households'
    `size` (test_registry_persons_follow_the_census), so the households alone are drawn, not the persons.
    Survey persons too, less closely: poorer households are listed more often, by design (Jakarta's
    survey share is about 0.6 points below its census share)."""
    config = load_config("test")
    pop = read_population(config.conf_file(generate.POPULATION_FILE))
    plan = village_plan(ref, pop, households, SEED, 0.005)
    villages = plan.villages
    assert set(villages["province_code"]) == set(ref.provinces["province_code"])
    assert villages["n"].sum() == households and 80 <= villages["n"].mean() <= 120
    assert villages["is_urban"].any() and (~villages["is_urban"]).any()
    assert villages["village_code"].is_unique
    hh = draw_households(spark, plan, SEED, config.generate.defects, 10.0, 2)
    persons = hh.groupBy("province_code").agg(
        F.sum("size").alias("registry"),
        F.sum(F.when(F.col("listed"), F.col("roster_size")).otherwise(0)).alias("survey"),
    ).toPandas().set_index("province_code")
    census = census_shares(config)
    gap, where = worst_gap(persons["registry"], census)
    assert gap < 0.015, (gap, where)
    gap, where = worst_gap(persons["survey"], census)
    assert gap < 0.015, (gap, where)
    share = persons["registry"] / persons["registry"].sum()
    assert share.idxmax() == "32" and 0.5 < share[["31", "32", "33", "34", "35", "36"]].sum() < 0.62


@GENERATED
def test_field_hierarchy(landing, ref):
    sh = landing.df("survey_households").join(
        landing.spark.createDataFrame(ref.villages[["village_code"]]), "village_code")  # drop unknown codes
    sh = sh.withColumn("district", F.col("village_code").substr(1, 6))
    per_enumerator = sh.groupBy("enumerator_id").agg(F.countDistinct("village_code").alias("v"))
    assert per_enumerator.filter("v != 1").count() == 0
    enumerators, villages = per_enumerator.count(), sh.select("village_code").distinct().count()
    assert enumerators == villages == landing.manifest["parameters"]["populated_villages"]
    sup = sh.groupBy("supervisor_id").agg(F.countDistinct("district").alias("d"),
                                          F.countDistinct("enumerator_id").alias("e"))
    assert sup.filter("d != 1 OR e > 5").count() == 0
    # As few supervisors as five enumerators each allow: ceil(villages / 5) in every district.
    per_district = sh.groupBy("district").agg(F.countDistinct("enumerator_id").alias("e"),
                                              F.countDistinct("supervisor_id").alias("s"))
    assert per_district.filter("s != ceil(e / 5)").count() == 0
    coord = sh.groupBy("coordinator_id").agg(F.countDistinct("district").alias("d"))
    assert coord.filter("d != 1").count() == 0
    assert coord.count() == sh.select("district").distinct().count() >= 2


@GENERATED
def test_interviews_and_truth(landing):
    sh = landing.df("survey_households").withColumn(
        "minutes", (F.unix_timestamp("interview_end") - F.unix_timestamp("interview_start")) / 60)
    limit = landing.config.thresholds.min_interview_minutes
    assert sh.filter(F.col("minutes") < limit).count() == landing.manifest["defects"]["short_interview"] > 0
    normal = sh.filter(F.col("minutes") >= limit).agg(F.min("minutes"), F.max("minutes")).first()
    assert normal[0] >= 25 and normal[1] <= 90
    truth = landing.df("truth/households")
    assert truth.join(sh, "household_id", "left_anti").count() == 0
    stats = truth.agg(
        F.percentile_approx("consumption_per_capita", 0.5).alias("median"),
        F.stddev(F.col("log_consumption_per_capita") - F.col("oracle_log_consumption")).alias("noise"),
        F.avg((F.col("consumption_per_capita") < 600_000).cast("int")).alias("poor"),
    ).first()
    assert 800_000 < stats["median"] < 2_000_000 and 0.28 < stats["noise"] < 0.42 and 0.03 < stats["poor"] < 0.3
    training = landing.df("training_households")
    assert training.filter(~F.col("household_id").startswith("T") | (F.col("weight") < 1)).count() == 0
    assert landing.df("training_members").join(training, "household_id", "left_anti").count() == 0


@GENERATED
def test_defect_counts_match_the_files(landing, ref):
    expected = landing.manifest["defects"]
    assert set(expected) == set(defects.DEFECTS) and all(v > 0 for v in expected.values()), expected
    truth = landing.df("truth/defects")
    by_truth = {r["defect"]: r["count"] for r in truth.groupBy("defect").count().collect()}
    assert {k: v for k, v in expected.items() if v} == by_truth
    assert truth.groupBy("source", "household_id", "member_no").count().filter("count > 1").count() == 0

    reg = landing.df("registry").select(
        "nik", F.col("birth_date").alias("reg_birth"), F.col("sex").alias("reg_sex"), "death_date")
    sh = landing.df("survey_households")
    members = landing.df("survey_members").join(
        sh.select("household_id", "interview_start", F.to_date("interview_start").alias("interview_date")),
        "household_id")
    provinces, as_of = ref.provinces["province_code"], world.REFERENCE_DATE
    problems = {r[0]: r[1] for r in members.groupBy(nik.problem("nik", provinces, as_of)).count().collect()}
    assert problems.get(nik.MISSING, 0) == expected["nik_missing"]
    assert problems.get(nik.NOT_16_DIGITS, 0) == expected["nik_malformed"]
    assert problems.get(nik.PLACEHOLDER, 0) == expected["nik_placeholder"]
    valid = members.filter(nik.problem("nik", provinces, as_of).isNull())
    assert valid.count() == problems[None]
    # A NIK written with wrong digits, or the own NIK of a person the registry does not hold.
    unknown = expected["nik_not_in_registry"] + expected["person_not_in_registry"]
    assert valid.join(reg, "nik", "left_anti").count() == unknown
    found = valid.join(reg, "nik")
    future = F.col("birth_date") > F.col("interview_date")
    assert members.filter(future).count() == expected["future_birth_date"]
    differs = (F.col("birth_date") != F.col("reg_birth")) | (F.col("sex") != F.col("reg_sex"))
    misreported = expected["birth_date_sex_mismatch"] + expected["birth_date_misreported"]
    assert found.filter(differs & ~future).count() == misreported
    dead = found.filter(F.col("death_date") < F.col("interview_date"))
    assert dead.count() == expected["deceased_listed"]
    # Duplicates: a registry NIK listed twice; truth points at the listing with the older interview.
    listings = found.groupBy("nik").agg(F.count(F.lit(1)).alias("n"), F.min("interview_start").alias("first"))
    assert listings.filter("n > 2").count() == 0
    dups = listings.filter("n = 2")
    assert dups.count() == expected["duplicate_person"]
    older = found.join(dups, "nik").filter(F.col("interview_start") == F.col("first")).select(
        "household_id", "member_no")
    flagged = truth.filter(F.col("defect") == "duplicate_person").select("household_id", "member_no")
    assert older.exceptAll(flagged).count() == 0 and flagged.exceptAll(older).count() == 0
    assert sh.filter(F.col("floor_area") < 0).count() == expected["negative_floor_area"]
    # Curbstoning: an enumerator whose households all give one and the same answer pattern.
    answers = [c for c in PROXIES if c != "floor_area"]
    patterns = sh.groupBy("enumerator_id").agg(
        F.count(F.lit(1)).alias("n"), F.countDistinct(F.concat_ws("|", *answers)).alias("patterns"))
    copied = patterns.filter("patterns = 1 AND n >= 5").agg(F.sum("n")).first()[0]
    assert copied == expected["curbstoning"]
    # Every member defect row in truth exists in the roster.
    member_truth = truth.filter("source = 'survey_members'")
    assert member_truth.join(members, ["household_id", "member_no"], "left_anti").count() == 0


def sizes_by_folder(files: dict[str, int]) -> dict[str, list[int]]:
    """A manifest's file list without the names (they hold each write's random id): each folder's sizes."""
    out: dict[str, list[int]] = {}
    for name, size in files.items():
        out.setdefault(name.rsplit("/", 1)[0], []).append(size)
    return {folder: sorted(sizes) for folder, sizes in out.items()}


def _reported(spark, rows: list[tuple[str]], **rates: float) -> list[str]:
    errors = ReportingErrors(**({f: 0.0 for f in ReportingErrors.model_fields} | rates))
    df = spark.createDataFrame([(i, 1, n) for i, (n,) in enumerate(rows)],
                               "hh_idx long, member_no int, full_name string")
    out = add_columns(df, names.reported_name(Draws(5), ("hh_idx", "member_no"), errors))
    return [r.reported_name for r in out.orderBy("hh_idx").collect()]


def test_each_reporting_error_on_literal_names(spark):
    """Each error where it applies, and nowhere else (rates of one and zero)."""
    rows = [("Muhammad Rizki Saputra",), ("Siti Aminah",), ("Budi",), ("I Wayan Suardana",)]
    assert _reported(spark, rows) == [r[0] for r in rows]
    abbreviated = _reported(spark, rows, muhammad_abbreviated=1.0)
    assert abbreviated[0] in {"M. Rizki Saputra", "Moh. Rizki Saputra", "Muh. Rizki Saputra"}
    assert abbreviated[1:] == ["Siti Aminah", "Budi", "I Wayan Suardana"]
    assert _reported(spark, rows, name_variant=1.0) == [
        "Muhamad Rizki Saputra", "Sitti Aminah", "Budi", "I Wayan Soeardana"]
    assert _reported(spark, rows, second_name_dropped=1.0) == ["Muhammad Rizki", "Siti", "Budi", "I Wayan"]
    typos = _reported(spark, rows, name_typo=1.0)
    typed = spark.createDataFrame(list(zip([r[0] for r in rows], typos, strict=True)), "a string, b string")
    # One letter replaced, dropped or added (edit distance 1), or two neighbours swapped (distance 2, same letters).
    checked = typed.select("a", "b", F.levenshtein("a", "b").alias("d"),
                           (F.array_sort(F.split("a", "")) == F.array_sort(F.split("b", ""))).alias("same")).collect()
    assert all(r.d == 1 or (r.d == 2 and r.same) for r in checked), checked
    assert all(r.a[0] == r.b[0] for r in checked)  # the capital stays


@GENERATED
def test_names_and_reporting_errors_follow_their_rates(landing):
    """Names tell people apart about as real ones do, and the survey misreports them and birth dates at the
    configured rates (truth/members holds each member's registry NIK)."""
    errors = landing.config.generate.reporting_errors
    reg = landing.df("registry").select(F.col("nik").alias("registry_nik"), F.col("full_name").alias("reg_name"),
                                        F.col("birth_date").alias("reg_birth"), "village_code")
    members = landing.df("survey_members").join(landing.df("truth/members"), ["household_id", "member_no"], "left")
    assert members.where("registry_nik IS NULL").count() == landing.manifest["defects"]["person_not_in_registry"]
    assert members.count() == landing.df("truth/members").count()
    pairs = members.join(reg, "registry_nik").cache()
    n = pairs.count()
    assert n == members.where("registry_nik IS NOT NULL").count()
    muhammad = pairs.where(F.col("reg_name").rlike(r"\bMuhammad\b"))
    abbreviated = muhammad.where(F.col("full_name").rlike(r"^(M|Moh|Muh)\. ")).count() / muhammad.count()
    assert abs(abbreviated - errors.muhammad_abbreviated) < 0.12, abbreviated
    dropped = pairs.where(F.size(F.split("reg_name", " ")) > F.size(F.split("full_name", " "))).count() / n
    assert 0.6 * errors.second_name_dropped < dropped < 1.4 * errors.second_name_dropped + 0.02, dropped
    year_off = pairs.where(F.abs(F.months_between("birth_date", "reg_birth")) == 12).count() / n
    assert 0.5 * errors.birth_year_off_by_one < year_off < 1.3 * errors.birth_year_off_by_one, year_off
    swap = F.when(F.dayofmonth("reg_birth") <= 12,
                  F.make_date(F.year("reg_birth"), F.dayofmonth("reg_birth"), F.month("reg_birth")))
    swapped = pairs.where((F.col("birth_date") != F.col("reg_birth")) & (F.col("birth_date") == swap)).count()
    assert swapped > 0
    # Diversity: many distinct names, a few very common ones, and the traditions where they live.
    registry = landing.df("registry")
    distinct = registry.select("full_name").distinct().count()
    assert distinct > 0.3 * registry.count()
    first = registry.groupBy(F.split("full_name", " ")[0].alias("w")).count().orderBy(F.desc("count")).first()
    assert first.w in {"Muhammad", "Siti", "Nur", "Sri"}
    bali = registry.where("village_code LIKE '51%'").where(F.col("full_name").rlike("^(I|Ni) ")).count()
    assert bali > 0.5 * registry.where("village_code LIKE '51%'").count()
    pairs.unpersist()


@GENERATED
def test_same_seed_same_data_other_seed_other_data(landing, spark, tmp_path):
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "3")  # other partitioning must not change any value
    try:
        config, _ = _run(spark, tmp_path)
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    again = Path(config.landing.root)
    for name in FOLDERS:
        a, b = landing.df(name), spark.read.parquet(str(again / name))
        assert a.exceptAll(b).count() == 0 and b.exceptAll(a).count() == 0, name
    files = "files"  # file names hold a write's random id; each folder's sizes are the same
    regenerated = json.loads((again / "manifest.json").read_text())
    assert {k: v for k, v in regenerated.items() if k != files} == {
        k: v for k, v in landing.manifest.items() if k != files}
    assert sizes_by_folder(regenerated[files]) == sizes_by_folder(landing.manifest[files])
    # Another seed: another village plan and other households.
    ref = regions.load(config)
    pop = read_population(config.conf_file(generate.POPULATION_FILE))
    plan_a = village_plan(ref, pop, HOUSEHOLDS, SEED, 0.005).villages
    plan_b = village_plan(ref, pop, HOUSEHOLDS, SEED + 1, 0.005).villages
    assert not plan_a.equals(plan_b)
    rates = config.generate.defects
    first = [draw_households(spark, village_plan(ref, pop, HOUSEHOLDS, s, 0.0), s, rates, 10.0, 2)
             .filter("hh_idx < 20").orderBy("hh_idx").select("wealth", "size").collect() for s in (SEED, SEED + 1)]
    assert first[0] != first[1]


def test_arguments_and_run_options():
    parser = argparse.ArgumentParser()
    generate.add_arguments(parser)
    args = parser.parse_args(["--households", "500", "--seed", "3", "--format", "csv", "--out", "x"])
    assert args.overrides == ["generate.households=500", "generate.seed=3", "landing.format=csv", "landing.root=x"]
    run_parser = argparse.ArgumentParser()
    generate.add_run_arguments(run_parser)
    assert vars(run_parser.parse_args([])) == {}  # config flags: the values live in the config only
