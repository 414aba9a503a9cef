"""One row per household of the nation: its village, latent wealth, composition, listing and training-sample
draws, interview schedule, defects and true proxy answers.

Why: the household is the unit everything else hangs from; its persons (people.py) and its consumption
(welfare.py) are drawn from these columns.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from jobs.generate.defects import MEMBERS_PER_HOUSEHOLD, household_defects
from jobs.generate.draws import Draws, add_columns, clamp, double
from jobs.generate.proxies import with_proxies
from jobs.generate.villages import Plan
from jobs.generate.world import (
    ELDERLY_ONE,
    ELDERLY_TWO,
    INTERVIEWS_PER_DAY,
    KIDS_MAX,
    KIDS_MEAN,
    KIDS_NO_SPOUSE,
    KIDS_SD,
    KIDS_WEALTH,
    OTHER_SHARE,
    QUESTIONNAIRE_VERSIONS,
    SPOUSE_SHARE,
    SURVEY_DAYS,
    SURVEY_START,
    SURVEY_SWITCH_DAY,
    TRAINING_RATE,
    WEALTH_PROVINCE,
    WEALTH_URBAN,
)
from runtime.config import DefectRates


def villages_frame(spark: SparkSession, plan: Plan, seed: int) -> DataFrame:
    """The plan as a small DataFrame, with each village's curbstoning template answers."""
    return with_proxies(spark.createDataFrame(plan.villages), Draws(seed), ["'template'", "slot"], "tpl_", "0.0D", "4")


def households(spark: SparkSession, plan: Plan, seed: int, rates: DefectRates, min_minutes: float,
               partitions: int, training_rate: float = TRAINING_RATE) -> DataFrame:
    """One row per household of the nation: region, composition, true proxies, listing, schedule, defects."""
    r = Draws(seed)
    v = F.broadcast(villages_frame(spark, plan, seed))
    base = spark.range(0, len(plan.villages), 1, partitions).withColumnRenamed("id", "slot").join(v, "slot")
    hh = base.selectExpr("*", "explode(sequence(start, start + n - 1)) AS hh_idx")
    h = "hh_idx"
    hh = add_columns(hh, {
        "wealth": f"{double(WEALTH_PROVINCE)} * province_effect + {double(WEALTH_URBAN)} * CAST(is_urban AS DOUBLE)"
                  f" + district_effect + {r.normal('wealth', h)}",
        "has_spouse": f"{r.u('spouse', h)} < {double(SPOUSE_SHARE)}",
        "u_elderly": r.u("elderly", h),
        "u_head_sex": r.u("hsex", h),
        "u_hh_defect": r.u("hh_defect", h),
        "n_other": f"CAST({r.u('other', h)} < {double(OTHER_SHARE)} AS INT)",
        "head_age_drawn": "CAST(" + clamp("round(44 + 12 * " + r.normal("hage", h) + ")", 18, 85) + " AS INT)",
    })
    pi = f"CASE WHEN is_urban THEN {double(0.7 * training_rate)} ELSE {double(min(1.25 * training_rate, 1.0))} END"
    hh = add_columns(hh, {
        "n_kids": "CAST(" + clamp(f"round({double(KIDS_MEAN)} + {double(KIDS_WEALTH)} * wealth + {double(KIDS_SD)}"
                                   f" * {r.normal('kids', h)} - CASE WHEN has_spouse THEN 0.0D"
                                   f" ELSE {double(KIDS_NO_SPOUSE)} END)", 0, KIDS_MAX) + " AS INT)",
        "n_elderly": f"CASE WHEN u_elderly < {double(ELDERLY_TWO)} THEN 2 WHEN u_elderly < {double(ELDERLY_ONE)} THEN 1"
                     " ELSE 0 END",
        "head_sex": "CASE WHEN has_spouse THEN (CASE WHEN u_head_sex < 0.04D THEN 'P' ELSE 'L' END)"
                    " ELSE (CASE WHEN u_head_sex < 0.5D THEN 'P' ELSE 'L' END) END",
        # Listing: poorer households are more likely to be in the verval survey (about three quarters).
        "listed": f"{r.u('listed', h)} < 1.0D / (1.0D + exp(-(1.25D - 1.1D * wealth)))",
        "train_pi": pi,
        "in_training": f"{r.u('training', h)} < {pi}",
    })
    hh = add_columns(hh, {
        "head_age": "CASE WHEN n_elderly > 0 THEN least(head_age_drawn, 62) ELSE head_age_drawn END",
        "size": "1 + CAST(has_spouse AS INT) + n_kids + n_other + n_elderly",
    })
    # The last member may have died (often the elderly parent): the dead stay in the registry only.
    p_death = "CASE WHEN n_elderly > 0 THEN 0.15D ELSE 0.012D END"
    hh = add_columns(hh, {"dead_last": f"size >= 2 AND {r.u('death', h)} < {p_death}"})
    # KK: district + issue date + serial; the serial is the household's rank in its district (unique
    # while a district has fewer than 10,000 households).
    issued = f"date_sub(DATE'2024-12-31', {r.index('kk_date', 7300, h)})"
    hh = add_columns(hh, {
        "living_size": "size - CAST(dead_last AS INT)",
        "kk_number": f"concat(district_code, date_format({issued}, 'ddMMyy'),"
                     " lpad(CAST((hh_idx - district_start) % 9999 + 1 AS STRING), 4, '0'))",
        "household_id": "concat('H', lpad(CAST(hh_idx AS STRING), 10, '0'))",
        "training_id": "concat('T', lpad(CAST(hh_idx AS STRING), 10, '0'))",
        **_schedule(r, min_minutes),
        **household_defects(r, rates),
    })
    hh = with_proxies(hh, r, [h], "", "wealth", "living_size")
    p_dup = min(1.0, rates.duplicate_person * MEMBERS_PER_HOUSEHOLD / 0.7)
    return add_columns(hh, {
        "roster_size": "living_size + CAST(deceased_listed AS INT)",
        # Duplicate: one living non-head member is also listed in the partner household (hh_idx xor 1).
        "dup_member_no": f"CASE WHEN listed AND living_size >= 2 AND {r.u('dup', h)} < {double(p_dup)}"
                         f" THEN 2 + {r.index('dup_member', 'living_size - 1', h)} END",
    })


def _schedule(r: Draws, min_minutes: float) -> dict[str, str]:
    """One enumerator per village works through its households, six interviews a day, 100 min apart."""
    h = "hh_idx"
    day = f"(day_offset + (hh_idx - start) div {INTERVIEWS_PER_DAY})"
    t0 = int(SURVEY_START.replace(tzinfo=dt.UTC).timestamp())
    slot = f"((hh_idx - start) % {INTERVIEWS_PER_DAY}) * 6000"
    start = f"{t0}L + {day} * 86400 + {8 * 3600} + {slot} + {r.index('jitter', 600, h)}"
    normal_min = max(25.0, min_minutes + 1.0)
    t_day = r.index("tday", SURVEY_DAYS, h)
    first, second = QUESTIONNAIRE_VERSIONS
    version = f"CASE WHEN {{}} < {SURVEY_SWITCH_DAY} THEN '{first}' ELSE '{second}' END"
    return {
        "interview_start_s": f"CAST({start} AS BIGINT)",
        "interview_minutes": f"{double(normal_min)} + {r.u('duration', h)} * {double(90.0 - normal_min)}",
        "short_minutes": f"{double(min_minutes)} * (0.3D + 0.6D * {r.u('short', h)})",
        "questionnaire_version": version.format(day),
        "training_start_s": f"CAST({t0}L + {t_day} * 86400 + {8 * 3600} + {r.index('tstart', 9 * 3600, h)} AS BIGINT)",
        "training_minutes": f"{double(normal_min)} + {r.u('tduration', h)} * {double(90.0 - normal_min)}",
        "training_version": version.format(t_day),
    }
