"""A synthetic nation with a known answer: registry, verval survey, training sample, truth and defects.

Why: the pipeline must be tested and demonstrated without personal data, on inputs whose welfare truth
and defects are known exactly. Every part is a DataFrame transform built from `spark.range` and
column expressions; randomness is hash-based (xxhash64 of seed, row key and a salt), so every value
depends only on the seed and the row's key, never on partitioning, cores or execution order. The only
driver-side work is the village plan (which villages are populated), bounded by the region reference.

Welfare truth: a latent wealth per household (region dependent) drives its housing, assets and family
composition; log consumption per capita is then a fixed linear formula of those proxies plus province,
urban and district effects and Gaussian noise (`oracle_log_consumption` is the formula without noise).

Modules by concern: the world's fixed facts (`world.py`), draws as SQL text (`draws.py`), the village plan
(`villages.py`), households (`households.py`), their proxies (`proxies.py`), persons (`people.py`), defects
(`defects.py`), welfare (`welfare.py`), the landing tables (`outputs.py`), appeals (`appeals.py`); this module
puts them together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from jobs.core.regions import RegionReference
from jobs.generate.appeals import appeals as filed_appeals
from jobs.generate.draws import Draws
from jobs.generate.households import households, villages_frame
from jobs.generate.outputs import (
    HOUSEHOLD_HEAD_COLUMNS,
    MEMBER_COLUMNS,
    registry,
    survey_households,
    survey_members,
    training,
    truth_defects,
    truth_households,
    truth_members,
)
from jobs.generate.people import persons
from jobs.generate.proxies import PROXIES
from jobs.generate.villages import Plan, village_plan
from jobs.generate.welfare import with_consumption
from jobs.generate.world import TRAINING_RATE
from runtime.config import DefectRates, ReportingErrors


def materialize(df: DataFrame) -> DataFrame:
    """Compute `df` once and keep its rows (memory, spilling to disk) under a plan that starts from them.

    Why: every landing table reads the same households and persons. A columnar cache spends more on
    encoding and decoding these wide rows than they cost to compute, and it keeps the whole lineage in
    every later plan, so each query that reads it is analysed, optimised and explained again in full.
    Unlike a cache, rows lost with an executor are not recomputed: the query fails and the stage is re-run.
    """
    return df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)


def release(df: DataFrame) -> None:
    """Drop the rows `materialize` kept, now rather than whenever the JVM collects them."""
    df._jdf.queryExecution().analyzed().rdd().unpersist(False)


@dataclass
class Nation:
    """The landing tables (as DataFrames, in contract column order) and what produced them."""

    tables: dict[str, DataFrame]
    keys: dict[str, list[str]]
    plan: Plan
    materialized: list[DataFrame]

    def release(self) -> None:
        """Free the materialized rows once written: under `dtks run` the session goes on to other stages."""
        for df in self.materialized:
            release(df)


# Household columns the landing tables need beyond the village's own (joined back by `slot`).
_DRAW_ONLY = ("u_elderly", "u_head_sex", "u_hh_defect", "head_age_drawn")
# Person columns the landing tables and the household features read.
PERSON_COLUMNS = (
    "hh_idx", "member_no", "household_id", "training_id", "village_code", "kk_number", "listed", "in_training",
    "is_dead", "deceased_listed", "dup_member_no", "nik", "full_name", "birth_date", "sex", "relationship", "age",
    "education", "employment", "disability", "chronic_illness", "pregnant", "in_school", "death_date",
    "updated_at", "reported_nik", "reported_birth_date", "reported_sex", "reported_name", "member_defect",
)


def build(spark: SparkSession, ref: RegionReference, population: pd.DataFrame, households_n: int, seed: int,
          rates: DefectRates, errors: ReportingErrors, min_interview_minutes: float,
          training_rate: float = TRAINING_RATE, scope: tuple[str, ...] = (), appeal_share: float = 0.0) -> Nation:
    """The whole synthetic nation as DataFrames; nothing that grows with N reaches the driver.

    Households, persons and the consumption truth are computed once each (`materialize`); households
    keep only their own columns, the village's (a few thousand rows) are joined back by broadcast.
    """
    plan = village_plan(ref, population, households_n, seed, rates.curbstoning, scope)
    partitions = max(spark.sparkContext.defaultParallelism, math.ceil(households_n / 50_000))
    villages = F.broadcast(villages_frame(spark, plan, seed))
    every = households(spark, plan, seed, rates, min_interview_minutes, partitions, training_rate)
    own = [c for c in every.columns if c not in villages.columns and c not in _DRAW_ONLY]
    hh_own = materialize(every.select("slot", *own))
    hh = hh_own.join(villages, "slot")
    districts = spark.createDataFrame(plan.districts)
    people = materialize(persons(hh, districts, seed, rates, errors).select(*PERSON_COLUMNS))
    consumption = materialize(with_consumption(hh, people, seed).select(
        "hh_idx", "household_id", "listed", "consumption_per_capita", "log_consumption_per_capita",
        "oracle_log_consumption"))
    s_hh = survey_households(hh, seed)
    s_members, dup_truth = survey_members(people, s_hh)
    t_hh, t_members = training(hh.join(consumption.select("hh_idx", "consumption_per_capita"), "hh_idx"), people)
    tables = {
        "registry": registry(people),
        "survey_households": s_hh.select(*HOUSEHOLD_HEAD_COLUMNS, *PROXIES),
        "survey_members": s_members.select(*MEMBER_COLUMNS),
        "training_households": t_hh,
        "training_members": t_members,
        "truth/households": truth_households(consumption),
        "truth/defects": truth_defects(s_hh, s_members, dup_truth),
        "truth/members": truth_members(s_members),
    }
    keys = {
        "registry": ["nik"],
        "survey_households": ["household_id"],
        "survey_members": ["household_id", "member_no"],
        "training_households": ["household_id"],
        "training_members": ["household_id", "member_no"],
        "truth/households": ["household_id"],
        "truth/defects": ["source", "household_id", "member_no", "defect"],
        "truth/members": ["household_id", "member_no"],
    }
    if appeal_share > 0:
        tables["appeals"], tables["truth/appeals"] = filed_appeals(s_hh, people, Draws(seed), appeal_share,
                                                                   rates.appeal_invalid)
        keys |= {"appeals": ["appeal_id", "filed_at"], "truth/appeals": ["appeal_id"]}
    return Nation(tables, keys, plan, [hh_own, people, consumption])
