"""Everyone in every household, living and dead: relationship, sex, age, birth date, schooling, work,
disability, name and a registry NIK unique by construction; then the survey's member defects.

Why: the registry and the survey rosters are both views of these persons.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from jobs.core import nik
from jobs.generate.defects import member_defects
from jobs.generate.draws import Draws, add_columns, case, clamp, double
from jobs.generate.names import full_name, tradition
from jobs.generate.world import MIGRANT_SHARE, REFERENCE_DATE, SURVEY_START
from runtime.config import DefectRates, ReportingErrors


def persons(hh: DataFrame, plan_districts: DataFrame, seed: int, rates: DefectRates,
            errors: ReportingErrors) -> DataFrame:
    """Everyone in every household (living and dead), with registry NIKs unique by construction."""
    r = Draws(seed)
    keep = ["hh_idx", "household_id", "training_id", "village_code", "district_code", "province_code",
            "is_urban", "kk_number", "wealth", "has_spouse", "n_kids", "n_other", "n_elderly", "head_sex",
            "head_age", "size", "dead_last", "listed", "in_training", "deceased_listed", "dup_member_no",
            "interview_start_s", "own_lo", "own_n", "n_all"]
    p = hh.selectExpr(*keep, "explode(sequence(1, size)) AS member_no")
    k = ("hh_idx", "member_no")
    p = add_columns(p, {
        "role": "CASE WHEN member_no = 1 THEN 'head' WHEN member_no = 2 AND has_spouse THEN 'spouse'"
                " WHEN member_no <= 1 + CAST(has_spouse AS INT) + n_kids THEN 'kid'"
                " WHEN member_no <= 1 + CAST(has_spouse AS INT) + n_kids + n_other THEN 'other' ELSE 'elder' END",
        "u_age": r.u("age", *k),
        "u_sex": r.u("sex", *k),
    })
    p = add_columns(p, {
        "relationship": case([
            ("role = 'head'", "1"),
            ("role = 'spouse'", "CASE WHEN head_sex = 'L' THEN 3 ELSE 2 END"),
            ("role = 'kid'", f"CASE WHEN head_age >= 58 AND {r.u('grandchild', *k)} < 0.5D THEN 6 ELSE 4 END"),
            ("role = 'other'",
             f"CASE WHEN wealth > 1.8D THEN 10 WHEN {r.u('other_rel', *k)} < 0.2D THEN 11 ELSE 9 END"),
        ], f"CASE WHEN {r.u('elder_rel', *k)} < 0.6D THEN 7 ELSE 8 END"),
        "sex": case([
            ("role = 'head'", "head_sex"),
            ("role = 'spouse'", "CASE WHEN head_sex = 'L' THEN 'P' ELSE 'L' END"),
            ("role = 'elder'", "CASE WHEN u_sex < 0.62D THEN 'P' ELSE 'L' END"),
        ], "CASE WHEN u_sex < 0.5D THEN 'P' ELSE 'L' END"),
    })
    spouse_age = clamp(f"head_age + CASE WHEN head_sex = 'L' THEN -3 ELSE 3 END + round(3 * {r.normal('sp_age', *k)})",
                        17, 90)
    p = add_columns(p, {"age": "CAST(" + case([
        ("role = 'head'", "head_age"),
        ("role = 'spouse'", spouse_age),
        ("relationship = 6", "floor(u_age * 16)"),
        ("role = 'kid'", f"floor(u_age * {clamp('head_age - 18', 1, 30)})"),
        ("role = 'other'", "10 + floor(u_age * 60)"),
    ], clamp("head_age + 22 + floor(u_age * 14)", 60, 95)) + " AS INT)"})
    days_old = f"CAST(floor((age + {r.u('birthday', *k)}) * 365.25D) AS INT)"
    p = add_columns(p, {
        "birth_date": f"date_sub(DATE'{REFERENCE_DATE.isoformat()}', {days_old})",
        "in_school": "CAST(" + r.u("school", *k) + " < " + case([
            ("age BETWEEN 7 AND 15", "0.97D"),
            ("age BETWEEN 16 AND 18", clamp("0.65D + 0.1D * wealth", 0.2, 0.98)),
            ("age BETWEEN 19 AND 23", clamp("0.25D + 0.12D * wealth", 0.02, 0.7)),
        ], "0.0D") + " AS INT)",
        "is_dead": "dead_last AND member_no = size",
        "z_edu": r.normal("edu", *k),
        "z_sector": r.normal("sector", *k),
        "u_disability": r.u("disability", *k),
        "mig_other": r.index("mig_district", "n_all - own_n", *k),
    })
    p = add_columns(p, {
        "adult_edu": clamp("round(1.7D + 0.7D * wealth - 0.025D * (age - 40) + 0.9D * z_edu)", 0, 4),
        "sector": "0.7D * wealth + 0.6D * CAST(is_urban AS INT) - 0.3D + z_sector",
    })
    # Issuing district: home district, or for migrants a district of another province.
    other = "mig_other"
    start = f"DATE'{SURVEY_START.date().isoformat()}'"
    span = f"greatest(least(datediff({start}, birth_date) - 1, 1500), 1)"
    p = add_columns(p, {
        **_member_answers(r, k),
        # Death on a day between the birth (or four years back) and the eve of the survey.
        "death_date": f"CASE WHEN is_dead THEN date_sub({start}, 1 + {r.index('death_day', span, *k)}) END",
        "mig_idx": f"CASE WHEN {r.u('migrant', *k)} < {double(MIGRANT_SHARE)} THEN"
                   f" CAST(CASE WHEN {other} < own_lo THEN {other} ELSE {other} + own_n END AS BIGINT) END",
    })
    p = p.join(F.broadcast(plan_districts.withColumnRenamed("district_code", "mig_district")),
               F.col("mig_idx") == F.col("district_idx"), "left")
    p = add_columns(p, {
        "nik_district": "coalesce(mig_district, district_code)",
        "name_tradition": tradition(r),
        "updated_at": f"timestamp_seconds({int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())}L"
                      f" + {r.index('updated', 545 * 86400, *k)})",
    })
    p = add_columns(p, {"full_name": full_name(r, k)})
    p = add_columns(p, {
        "serial": "row_number() OVER (PARTITION BY nik_district, birth_date, sex ORDER BY hh_idx, member_no)"})
    p = p.withColumn("nik", nik.make_nik(F.col("nik_district"), F.col("birth_date"), F.col("sex"), F.col("serial")))
    p = p.drop("mig_idx", "district_idx", "mig_district", "role", "u_age", "u_sex", "serial", "z_edu", "z_sector",
               "u_disability", "mig_other", "adult_edu", "sector", "name_tradition")
    return member_defects(p, r, rates, errors)


def _member_answers(r: Draws, k: tuple[str, ...]) -> dict[str, str]:
    """Education, work, disability, illness, pregnancy: by age, sex and household wealth."""
    adult_edu = "adult_edu"
    edu = case([
        ("age < 7", "0"), ("age <= 12", "1"), ("age <= 15", "2"),
        ("age <= 18", f"CASE WHEN in_school = 1 THEN 3 ELSE least({adult_edu}, 2) END"),
        ("age <= 23 AND in_school = 1", "4"),
    ], adult_edu)
    works_p = "CASE WHEN sex = 'L' THEN 0.85D ELSE 0.52D END * CASE WHEN age > 65 THEN 0.6D ELSE 1.0D END"
    works = f"age >= 15 AND in_school = 0 AND {r.u('works', *k)} < {works_p}"
    sector = "sector"
    agri = f"{r.normal('agri', *k)} + 0.9D * CAST(is_urban AS INT) + 0.3D * wealth"
    informal = f"CASE WHEN {agri} > -0.2D THEN 2 ELSE 1 END"
    d = "u_disability"
    sev = "(0.006D + 0.03D * CAST(age >= 65 AS INT))"
    mod = "(0.02D + 0.08D * CAST(age >= 65 AS INT))"
    return {
        "education": f"CAST({edu} AS INT)",
        "employment": f"CAST(CASE WHEN NOT ({works}) THEN 0 WHEN {sector} > 1.8D THEN 4 WHEN {sector} > 0.3D THEN 3"
                      f" ELSE {informal} END AS INT)",
        "disability": f"CASE WHEN {d} < {sev} THEN 2 WHEN {d} < {sev} + {mod} THEN 1 ELSE 0 END",
        "chronic_illness": f"CAST({r.u('chronic', *k)} < least(0.03D + 0.004D * greatest(age - 30, 0), 0.4D) AS INT)",
        "pregnant": f"CAST(sex = 'P' AND age BETWEEN 15 AND 45 AND {r.u('pregnant', *k)} < 0.05D AS INT)",
    }
