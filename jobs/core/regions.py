"""Kemendagri region codes: the versioned reference list and the rules for reading a village code.

Codes are carried in the pipeline as plain digits (village ``PPKKCCDDDD``, 10 digits); the
reference files use the dotted form ``PP.KK.CC.DDDD``. Region codes change when regions split,
so the list is data under conf/reference/, refreshed by scripts/refresh_regions.py.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from runtime.config import DtksConfig
from runtime.errors import UserError

if TYPE_CHECKING:  # pandas is imported where it is used: every `dtks` command imports this module
    import pandas as pd

LEVELS = ("provinces", "regencies", "districts", "villages")
DOTTED_FORMAT = {
    "provinces": re.compile(r"^\d{2}$"),
    "regencies": re.compile(r"^\d{2}\.\d{2}$"),
    "districts": re.compile(r"^\d{2}\.\d{2}\.\d{2}$"),
    "villages": re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"),
}
EXPECTED_COUNTS = {"provinces": 38, "regencies": 514, "districts": 7285, "villages": 83762}


@dataclass(frozen=True)
class RegionReference:
    """The four levels as pandas frames (small: 83,762 villages), codes without dots."""

    version: str
    provinces: pd.DataFrame  # province_code, province_name
    regencies: pd.DataFrame  # regency_code, province_code, regency_name, is_city
    districts: pd.DataFrame  # district_code, regency_code, district_name
    villages: pd.DataFrame  # village_code, district_code, regency_code, province_code, village_name, is_urban

    def counts(self) -> dict[str, int]:
        return {level: len(getattr(self, level)) for level in LEVELS}

    def names(self) -> Names:
        """Region names by code, for every level (what a person reads beside a code)."""
        by_code: dict[str, str] = {}
        for level, frame in (("province", self.provinces), ("regency", self.regencies),
                             ("district", self.districts), ("village", self.villages)):
            by_code.update(zip(frame[f"{level}_code"], frame[f"{level}_name"], strict=True))
        return Names(by_code)


@dataclass(frozen=True)
class Names:
    """Code -> name of a province, regency, district or village (codes without dots)."""

    by_code: dict[str, str]

    def name(self, code: str | None) -> str:
        return self.by_code.get(code or "", "unknown region")

    def label(self, code: str | None) -> str:
        """`32 Jawa Barat`, `3273 Kota Bandung`: the code, then its name."""
        return f"{code} {self.name(code)}" if code else "unknown region"


def reference_dir(config: DtksConfig) -> Path:
    return config.conf_file(config.regions_dir)


def check_formats(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Problems with the dotted codes of raw reference files (empty when all are well formed)."""
    problems = []
    for level, pattern in DOTTED_FORMAT.items():
        codes = frames[level]["code"].astype(str)
        bad = codes[~codes.str.match(pattern)]
        if len(bad):
            problems.append(f"{level}: {len(bad)} malformed codes, e.g. {bad.iloc[0]!r}")
        if codes.duplicated().any():
            problems.append(f"{level}: duplicated codes")
    return problems


def read_raw(folder: Path) -> dict[str, pd.DataFrame]:
    import pandas as pd

    return {level: pd.read_csv(folder / f"{level}.csv", dtype=str, keep_default_na=False) for level in LEVELS}


def load_reference(folder: Path) -> RegionReference:
    """Read and check the shipped CSVs; a malformed file is an error naming the file."""
    import pandas as pd

    raw = read_raw(folder)
    problems = check_formats(raw)
    if problems:
        raise ValueError(f"{folder}: region reference is malformed: " + "; ".join(problems))
    nodot = lambda s: s.str.replace(".", "", regex=False)  # noqa: E731
    provinces = pd.DataFrame({"province_code": raw["provinces"]["code"], "province_name": raw["provinces"]["name"]})
    reg = raw["regencies"]
    regencies = pd.DataFrame(
        {
            "regency_code": nodot(reg["code"]),
            "province_code": reg["province_code"],
            "regency_name": reg["name"],
            "is_city": nodot(reg["code"]).str[2:4].astype(int) >= 71,
        }
    )
    dis = raw["districts"]
    districts = pd.DataFrame(
        {"district_code": nodot(dis["code"]), "regency_code": nodot(dis["regency_code"]), "district_name": dis["name"]}
    )
    vil = raw["villages"]
    code = nodot(vil["code"])
    villages = pd.DataFrame(
        {
            "village_code": code,
            "district_code": code.str[:6],
            "regency_code": code.str[:4],
            "province_code": code.str[:2],
            "village_name": vil["name"],
            "is_urban": code.str[6] == "1",
        }
    )
    version_file = folder / "VERSION"
    version = version_file.read_text().strip() if version_file.exists() else "unknown"
    return RegionReference(version, provinces, regencies, districts, villages)


def load(config: DtksConfig) -> RegionReference:
    return load_reference(reference_dir(config))


CODE_LENGTH = {"provinces": 2, "regencies": 4, "districts": 6, "villages": 10}  # digits of a code without dots


def names_for(config: DtksConfig, codes: Iterable[str | None]) -> Names:
    """The names of these codes (any level, without dots), read from the shipped CSVs without pandas, a level's
    file only when a code of its length is asked: a lookup labels a few codes (`dtks explain` one household's
    four, `dtks diff` its provinces), where loading every level (83,762 villages) would be most of its time."""
    wanted = {code for code in codes if code}
    found: dict[str, str] = {}
    for level in LEVELS:
        if not any(len(code) == CODE_LENGTH[level] for code in wanted):
            continue
        with open(reference_dir(config) / f"{level}.csv", newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                code = row["code"].replace(".", "")
                if code in wanted:
                    found[code] = row["name"]
    return Names(found)


def villages_df(spark: SparkSession, folder: Path) -> DataFrame:
    """The village codes as a Spark DataFrame read from the reference file (broadcast it in joins).

    Read as a file scan rather than built from pandas: a plan that carries 83,762 literal rows is
    slow to analyse and is copied into every query that joins it.
    """
    raw = spark.read.option("header", True).csv(str(folder / "villages.csv"))
    code = F.regexp_replace(F.col("code"), r"\.", "")
    return raw.select(code.alias("village_code"))


def province_code(village_code: Column) -> Column:
    return village_code.substr(1, 2).alias("province_code")


def regency_code(village_code: Column) -> Column:
    return village_code.substr(1, 4).alias("regency_code")


def region_columns(village_code: Column) -> list[Column]:
    """Province, regency and district codes read off a 10-digit village code, plus urban flag."""
    return [
        province_code(village_code),
        regency_code(village_code),
        village_code.substr(1, 6).alias("district_code"),
        (village_code.substr(7, 1) == F.lit("1")).alias("is_urban"),
    ]


def check_scope(ref: RegionReference, codes: tuple[str, ...], what: str = "--regions / trial.regions") -> None:
    """Every code must name a province or regency of the reference: a typo is an error, not an empty run."""
    known = set(ref.provinces["province_code"]) | set(ref.regencies["regency_code"])
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise UserError(
            f"{what}: {', '.join(unknown)} not in the region reference {ref.version} "
            "(2-digit province or 4-digit regency codes)"
        )


def in_scope(village_code: Column, codes: tuple[str, ...]) -> Column:
    """True for villages inside any of the trial's provinces or regencies (always true for the nation)."""
    if not codes:
        return F.lit(True)
    provinces = [c for c in codes if len(c) == 2]
    regencies = [c for c in codes if len(c) == 4]
    return village_code.substr(1, 2).isin(provinces) | village_code.substr(1, 4).isin(regencies)


def scope_mask(village_codes: pd.Series, codes: tuple[str, ...]) -> pd.Series:
    """in_scope for pandas (the generator's village plan)."""
    import pandas as pd

    if not codes:
        return pd.Series(True, index=village_codes.index)
    return village_codes.str[:2].isin(codes) | village_codes.str[:4].isin(codes)

