import pandas as pd
import pytest

from jobs.core import regions
from runtime.config import load_config
from runtime.errors import UserError


def test_reference_counts_and_formats():
    ref = regions.load(load_config("test"))
    assert ref.counts() == {"provinces": 38, "regencies": 514, "districts": 7285, "villages": 83762}
    assert ref.version == "4.0.1"
    raw = regions.read_raw(regions.reference_dir(load_config("test")))
    assert regions.check_formats(raw) == []
    assert ref.villages["village_code"].str.fullmatch(r"\d{10}").all()
    # Hierarchy is closed: every village's district, regency and province exist.
    assert set(ref.villages["district_code"]) <= set(ref.districts["district_code"])
    assert set(ref.districts["regency_code"]) <= set(ref.regencies["regency_code"])
    assert set(ref.regencies["province_code"]) == set(ref.provinces["province_code"])
    # Kota codes 71-99; kelurahan (1), desa (2) and, in Papua, desa adat (3) are all present.
    assert ref.regencies.loc[ref.regencies["is_city"], "regency_code"].str[2:].astype(int).min() >= 71
    assert ref.villages["village_code"].str[6].value_counts().to_dict() == {"2": 75252, "1": 8496, "3": 14}
    assert ref.villages["is_urban"].sum() == 8496


def test_licence_and_source_ship_with_the_data():
    folder = regions.reference_dir(load_config("test"))
    assert "Open Database License" in (folder / "LICENSE.md").read_text()
    assert "idn-area-data" in (folder / "SOURCE.md").read_text()


def test_malformed_reference_is_reported(tmp_path):
    import shutil

    import pytest

    src = regions.reference_dir(load_config("test"))
    for level in regions.LEVELS:
        shutil.copy(src / f"{level}.csv", tmp_path / f"{level}.csv")
    with open(tmp_path / "villages.csv", "a") as handle:
        handle.write("11.01.01.20X1,11.01.01,Bad\n")
    with pytest.raises(ValueError, match="villages: 1 malformed codes"):
        regions.load_reference(tmp_path)


def test_region_columns_read_off_village_code(spark):
    df = spark.createDataFrame([("3273011001",), ("9471022005",)], "village_code string")
    rows = df.select(*regions.region_columns(df.village_code)).collect()
    assert [tuple(r) for r in rows] == [("32", "3273", "327301", True), ("94", "9471", "947102", False)]


def test_trial_scope_keeps_listed_provinces_and_regencies(spark):
    codes = ("3201", "33")
    villages = ["3201010001", "3202010001", "3301010001", "3522010001"]
    df = spark.createDataFrame([(v,) for v in villages], "village_code string")
    kept = [r.village_code for r in df.where(regions.in_scope(df.village_code, codes)).collect()]
    assert kept == ["3201010001", "3301010001"]
    assert regions.scope_mask(pd.Series(villages), codes).tolist() == [True, False, True, False]
    assert df.where(regions.in_scope(df.village_code, ())).count() == 4  # no trial: the nation


def test_unknown_trial_region_is_named():
    ref = regions.load(load_config("test"))
    regions.check_scope(ref, ("31", "3201"))
    with pytest.raises(UserError, match="3299, 99 not in the region reference"):
        regions.check_scope(ref, ("3201", "3299", "99"))


def test_province_tiles_cover_the_reference():
    """The report map's tile grid: one square per province of the reference, none shared."""
    from jobs.report import figures

    config = load_config("test")
    tiles = figures.read_tiles(config.conf_file(figures.TILES_FILE))
    assert sorted(tiles["province_code"]) == sorted(regions.load(config).provinces["province_code"])
    assert not tiles.duplicated(["col", "row"]).any()
    assert tiles["iso"].str.fullmatch(r"[A-Z]{2}").all() and not tiles["iso"].duplicated().any()


def test_dotted_and_plain_notation_name_one_code(spark):
    """Kemendagri's dotted notation at every level reads as the plain digits; anything else is kept as given
    (stripped), for the reader's own check: a typo is never silently turned into another region's code."""
    from runtime.region_codes import plain, plain_column

    given = ["11.06.10.2041", "11.06.10", "32.01", "32", " 3201 ", "1106102041", "3.201", "11.06.10.204", "11..06",
             "32.01.", None]
    expected = ["1106102041", "110610", "3201", "32", "3201", "1106102041", "3.201", "11.06.10.204", "11..06",
                "32.01.", None]
    assert [plain(c) if c is not None else None for c in given] == expected
    df = spark.createDataFrame([(c,) for c in given], "code string")
    # The column form does not strip: landing values keep their spaces (validation judges them).
    assert [r.code for r in df.select(plain_column(df.code).alias("code")).collect()] == [
        " 3201 " if c == " 3201 " else e for c, e in zip(given, expected, strict=True)]


def test_names_read_for_a_few_codes_are_the_references():
    """A lookup reads the names of a few codes without loading the reference: the same names as the whole
    reference, at every level; a code it does not hold is an unknown region."""
    config = load_config("local")
    whole = regions.load(config).names()
    codes = ["32", "3273", "327301", "3273011001", "11", "9471", "99", None]
    alone = regions.names_for(config, codes)
    assert alone.label("32") == "32 Jawa Barat" and alone.label("3273") == "3273 Kota Bandung"
    assert {code: alone.name(code) for code in codes} == {code: whole.name(code) for code in codes}
    assert alone.name("99") == "unknown region"
