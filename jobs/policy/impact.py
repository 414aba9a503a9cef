"""What a candidate model version or a policy change would do to the published nation, before it goes live.

A shadow ranking: the published households (dtks_households at the latest publication, with the features it
keeps) scored by the candidate, or keeping their published score for a policy change, ranked nationally with
the publication's population P and the configured coverage, and run through the configured programme rules.
It is compared household by household with the published program_eligibility and deciles. Nothing is
written to any table: the result is a few small aggregates (per programme and province, per subgroup, the
decile transition matrix; models/impact.py's `Impact`), printed, logged to MLflow and read by the promotion
gate. Here, below the steps, because `dtks train` measures each new version and `dtks model` measures on
demand.
"""

from __future__ import annotations

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from jobs.policy import eligibility, ranking
from models import subgroups
from models.impact import COVERAGE, MOVES, Impact
from runtime import tables
from runtime.config import DtksConfig
from runtime.errors import UserError


def household_moves(before: DataFrame, before_eligibility: DataFrame, score: Column | None, population: int,
                    coverage: float, rules: eligibility.Programs, programs: list[str]) -> DataFrame:
    """Pure: one row per published household: its decile before and after, its subgroup flags, and per
    programme (and the coverage flag) whether it enters (`e_<program>`) or leaves (`l_<program>`).

    before: published dtks_households; before_eligibility: published program_eligibility; score: the candidate's
    welfare score over dtks_households' columns (None: keep the published score, a policy change)."""
    # Only the columns the rules, the subgroups and the tables need ride through the ranking's shuffle.
    needed = ["household_id", "province_code", "hh_size", *subgroups.COLUMNS,
              *sorted({c for p in rules.programs.values() for c in p.any_component})]
    scored = before.select(*dict.fromkeys(needed), (F.col("welfare_score") if score is None else score)
                           .cast("double").alias("welfare_score"), F.col("decile").alias("decile_before"),
                           F.col("within_coverage").alias(f"_was_{COVERAGE}"))
    ranked = ranking.rank_nationally(scored, population, coverage)
    now = eligibility.conditions(rules)
    was = before_eligibility.groupBy("household_id").agg(
        *[F.max(F.when(F.col("program") == p, F.col("eligible"))).alias(f"_was_{p}") for p in programs])
    joined = ranked.join(was, "household_id", "left")
    flags: list[Column] = []
    for p in [*programs, COVERAGE]:
        is_now = F.col("within_coverage") if p == COVERAGE else now[p] if p in now else F.lit(False)
        is_was = F.coalesce(F.col(f"_was_{p}"), F.lit(False))
        is_now = F.coalesce(is_now, F.lit(False))
        flags += [(is_now & ~is_was).alias(f"e_{p}"), (is_was & ~is_now).alias(f"l_{p}")]
    return joined.select("household_id", "province_code", "hh_size", "decile_before",
                         F.col("decile").alias("decile_after"), *subgroups.flags(), *flags)


def _long(row: dict, programs: list[str], key: str, value: str) -> list[dict]:
    return [{"program": p, key: value,
             **{f"{m}_{u}": int(row.get(f"{m[0]}_{p}_{u[0]}") or 0) for m in MOVES for u in ("households", "persons")}}
            for p in [*programs, COVERAGE]]


def aggregate(moves: DataFrame, programs: list[str]) -> dict[str, object]:
    """The small tables of `household_moves`: three Spark jobs whose results are bounded by provinces x
    programmes, subgroups x programmes and 10 x 10 deciles."""
    size = F.col("hh_size")
    per_program = []
    for p in [*programs, COVERAGE]:
        for m in ("e", "l"):
            flag = F.col(f"{m}_{p}")
            per_program += [F.sum(flag.cast("long")).alias(f"{m}_{p}_h"),
                            F.sum(F.when(flag, size).otherwise(0)).alias(f"{m}_{p}_p")]
    by_province = [r.asDict() for r in moves.groupBy("province_code").agg(*per_program).collect()]
    changed = F.greatest(*[F.col(f"{m}_{p}") for p in programs for m in ("e", "l")], F.lit(False))
    national = [F.count(F.lit(1)).alias("households"), F.sum(size).alias("persons"),
                F.sum(F.when(changed, size).otherwise(0)).alias("persons_changed"),
                F.sum((F.abs(F.col("decile_after") - F.col("decile_before")) >= 2).cast("long")).alias("moved_2")]
    for name in subgroups.SUBGROUPS:
        for p in [*programs, COVERAGE]:
            for m in ("e", "l"):
                flag = F.col(f"{m}_{p}") & F.coalesce(F.col(name), F.lit(False))
                national += [F.sum(flag.cast("long")).alias(f"{name}:{m}_{p}_h"),
                             F.sum(F.when(flag, size).otherwise(0)).alias(f"{name}:{m}_{p}_p")]
    totals = moves.agg(*national).first().asDict()
    transitions = moves.groupBy("decile_before", "decile_after").agg(
        F.count(F.lit(1)).alias("households"), F.sum(size).alias("persons")).toPandas()
    province_rows = [x for r in by_province for x in _long(r, programs, "province_code", r["province_code"])]
    subgroup_rows = []
    for name in subgroups.SUBGROUPS:
        mine = {k.split(":", 1)[1]: v for k, v in totals.items() if k.startswith(f"{name}:")}
        subgroup_rows += _long(mine, programs, "subgroup", name)
    return {
        "households": int(totals["households"] or 0), "persons": int(totals["persons"] or 0),
        "persons_changed": int(totals["persons_changed"] or 0), "moved_2": int(totals["moved_2"] or 0),
        "by_province": pd.DataFrame(province_rows).sort_values(["program", "province_code"]).reset_index(drop=True),
        "by_subgroup": pd.DataFrame(subgroup_rows),
        "transitions": transitions.sort_values(["decile_before", "decile_after"]).reset_index(drop=True),
    }


def measure(spark: SparkSession, config: DtksConfig, model_version: str | None = None,
            rules: eligibility.Programs | None = None) -> Impact:
    """The impact of scoring with `model_version` (None: the published scores) under the configured coverage
    and `rules` (default: the configured programmes) against the latest publication."""
    publication = tables.latest_publication(spark, config)
    if publication is None:
        raise UserError(f"no publication under {config.lakehouse}: run `dtks publish` first (the impact is measured "
                        "against the published nation)")
    rules = rules or eligibility.load(config)
    before = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)
    before_eligibility = tables.read_published(spark, config, tables.PROGRAM_ELIGIBILITY)
    published_programs = sorted((publication["rules"] or {}).keys())
    programs = sorted(set(rules.programs) | set(published_programs))
    score, candidate = None, "policy"
    if model_version is not None:
        from models.champion import prediction, resolve_model

        model = resolve_model(config, model_version)
        missing = [c for c in model.input_columns if c not in before.columns]
        if missing:
            raise UserError(f"model {model.uri} needs {missing}, which dtks_households does not keep")
        score, path = prediction(spark, model, "auto")
        candidate = f"{model.name} v{model.version} ({path})"
    moves = household_moves(before, before_eligibility, score, int(publication["population"]),
                            config.ranking.coverage_target, rules, programs).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        found = aggregate(moves, programs)
    finally:
        spark.catalog.clearCache()  # the moves and the ranking's own ordered rows, as publish does
    return Impact(
        publication_id=int(publication["publication_id"]), candidate=candidate,
        coverage=config.ranking.coverage_target, households=found["households"], persons=found["persons"],
        persons_changed=found["persons_changed"], households_decile_moved_2=found["moved_2"],
        by_province=found["by_province"], by_subgroup=found["by_subgroup"], transitions=found["transitions"],
        programs=programs,
    )
