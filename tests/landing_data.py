"""A tiny hand-made landing zone where every row's fate is known in advance."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from tests import reference_rules

AS_OF = dt.date(2026, 6, 30)
V_BDG = "3273011001"  # a kelurahan in Kota Bandung
V_ACEH = "1101012001"  # a desa in Aceh Selatan
PROXIES = {
    "floor_area": 36.0,
    "floor_material": 4,
    "wall_material": 1,
    "roof_material": 2,
    "water_source": 3,
    "sanitation": 1,
    "lighting": 2,
    "cooking_fuel": 2,
    "tenure": 1,
    "refrigerator": 0,
    "motorcycle": 1,
    "car": 0,
    "air_conditioner": 0,
    "gold": 0,
    "land": 0,
    "livestock": 0,
    "computer": 0,
}


def person(district: str, born: dt.date, sex: str, serial: int) -> str:
    return reference_rules.make_nik(district, born, sex, serial)


# Registry people: (nik, kk, name, birth, sex, village, relationship, death)
A_HEAD = person("327301", dt.date(1980, 3, 4), "L", 1)
A_WIFE = person("327301", dt.date(1984, 7, 9), "P", 2)
A_CHILD = person("327301", dt.date(2022, 1, 15), "L", 3)
B_HEAD = person("110101", dt.date(1955, 5, 5), "P", 1)
B_DEAD = person("110101", dt.date(1950, 2, 2), "L", 2)
C_HEAD = person("327301", dt.date(1990, 10, 10), "L", 7)
MIGRANT = person("110101", dt.date(1999, 12, 31), "P", 9)  # Aceh-issued NIK living in Bandung
NOT_IN_REGISTRY = person("327301", dt.date(1970, 1, 1), "L", 99)


def registry() -> pd.DataFrame:
    rows = [
        (A_HEAD, "3273010101200001", "Budi", dt.date(1980, 3, 4), "L", V_BDG, 1, None),
        (A_WIFE, "3273010101200001", "Siti", dt.date(1984, 7, 9), "P", V_BDG, 3, None),
        (A_CHILD, "3273010101200001", "Adi", dt.date(2022, 1, 15), "L", V_BDG, 4, None),
        (B_HEAD, "1101010101200002", "Nur", dt.date(1955, 5, 5), "P", V_ACEH, 1, None),
        (B_DEAD, "1101010101200002", "Umar", dt.date(1950, 2, 2), "L", V_ACEH, 2, dt.date(2024, 1, 1)),
        (C_HEAD, "3273010101200003", "Eko", dt.date(1990, 10, 10), "L", V_BDG, 1, None),
        (MIGRANT, "3273010101200003", "Ayu", dt.date(1999, 12, 31), "P", V_BDG, 3, None),
        ("12345", "x", "Bad", dt.date(1990, 1, 1), "L", V_BDG, 1, None),  # quarantined: INVALID_NIK
    ]
    df = pd.DataFrame(
        rows,
        columns=["nik", "kk_number", "full_name", "birth_date", "sex", "village_code", "relationship", "death_date"],
    )
    df["updated_at"] = pd.Timestamp("2026-01-01")
    return df


def households() -> pd.DataFrame:
    base = {"enumerator_id": "E1", "supervisor_id": "S1", "coordinator_id": "C1", "questionnaire_version": "VV2025.1"}
    rows = [
        {
            "household_id": "HA",
            "village_code": V_BDG,
            "kk_number": "3273010101200001",
            "interview_start": "2026-03-01 09:00:00",
            "interview_end": "2026-03-01 09:45:00",
        },
        {
            "household_id": "HB",
            "village_code": V_ACEH,
            "kk_number": None,
            "interview_start": "2026-03-02 09:00:00",
            "interview_end": "2026-03-02 09:40:00",
        },
        {
            "household_id": "HC",
            "village_code": V_BDG,
            "kk_number": None,
            "interview_start": "2026-03-05 10:00:00",
            "interview_end": "2026-03-05 10:50:00",
        },
        {
            "household_id": "HX",
            "village_code": "9999999999",
            "kk_number": None,  # UNKNOWN_VILLAGE
            "interview_start": "2026-03-03 09:00:00",
            "interview_end": "2026-03-03 09:30:00",
        },
        {
            "household_id": "HY",
            "village_code": V_BDG,
            "kk_number": None,  # OUT_OF_RANGE floor_area
            "interview_start": "2026-03-03 11:00:00",
            "interview_end": "2026-03-03 11:30:00",
            "floor_area": -5.0,
        },
    ]
    df = pd.DataFrame([base | PROXIES | r for r in rows])
    for col in ("interview_start", "interview_end"):
        df[col] = pd.to_datetime(df[col])
    return df


def members() -> pd.DataFrame:
    m = {"education": 2, "employment": 1, "disability": 0, "chronic_illness": 0, "pregnant": 0, "in_school": 0}
    rows = [
        ("HA", 1, A_HEAD, "Budi", dt.date(1980, 3, 4), "L", 1),  # MATCHED
        ("HA", 2, A_WIFE, "Siti", dt.date(1984, 7, 10), "P", 3),  # MATCHED_WITH_DIFFERENCES (birth)
        ("HA", 3, A_CHILD, "Adi", dt.date(2022, 1, 15), "L", 4),  # DUPLICATE (also in HC, later)
        ("HA", 4, None, "Tamu", dt.date(2000, 1, 1), "L", 11),  # MISSING_NIK
        ("HB", 1, B_HEAD, "Nur", dt.date(1955, 5, 5), "P", 1),  # MATCHED
        ("HB", 2, B_DEAD, "Umar", dt.date(1950, 2, 2), "L", 2),  # DECEASED
        ("HB", 3, "1111111111111111", "Ani", dt.date(2010, 1, 1), "P", 4),  # INVALID_NIK (placeholder)
        ("HC", 1, C_HEAD, "Eko", dt.date(1990, 10, 10), "L", 1),  # MATCHED
        ("HC", 2, MIGRANT, "Ayu", dt.date(1999, 12, 31), "P", 3),  # MATCHED (other-province NIK)
        ("HC", 3, A_CHILD, "Adi", dt.date(2022, 1, 15), "L", 4),  # MATCHED (most recent listing)
        ("HC", 4, NOT_IN_REGISTRY, "Joko", dt.date(1970, 1, 1), "L", 9),  # NOT_FOUND
        ("HC", 5, None, "Bayi", dt.date(2027, 1, 1), "L", 4),  # quarantined: BIRTH_IN_FUTURE
        ("HX", 1, None, "Z", dt.date(1990, 1, 1), "L", 1),  # quarantined: HOUSEHOLD_REJECTED
        ("HZ", 1, None, "Q", dt.date(1990, 1, 1), "L", 1),  # quarantined: UNKNOWN_HOUSEHOLD
        ("HC", 6, None, "W", dt.date(1990, 1, 1), "X", 9),  # quarantined: OUT_OF_RANGE sex
    ]
    df = pd.DataFrame(
        rows, columns=["household_id", "member_no", "nik", "full_name", "birth_date", "sex", "relationship"]
    )
    for k, v in m.items():
        df[k] = v
    return df


def write_landing(spark, root: Path, fmt: str = "parquet") -> Path:
    frames = {
        "registry": registry(),
        "survey_households": households(),
        "survey_members": members(),
        "training_households": households()
        .iloc[:3]
        .assign(
            household_id=lambda d: "T" + d["household_id"],
            consumption_per_capita=[900_000.0, 500_000.0, 1_200_000.0],
            weight=[30.0, 30.0, 30.0],
        ),
        "training_members": members().iloc[:11].assign(household_id=lambda d: "T" + d["household_id"]),
    }
    for name, frame in frames.items():
        df = spark.createDataFrame(frame.astype(object).where(frame.notna(), None))
        writer = df.coalesce(1).write.mode("overwrite")
        if fmt == "csv":
            writer.option("header", True).csv(str(root / name))
        else:
            writer.parquet(str(root / name))
    return root
