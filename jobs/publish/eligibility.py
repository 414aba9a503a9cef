"""Programme eligibility from conf/programs.yaml: decile bands plus member conditions (PKH components)."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core.contract import FEATURE_COLUMNS
from runtime.config import DtksConfig, validated_file


class Program(BaseModel):
    """One programme's rule: a band of national deciles, optionally at least one member of a kind, and
    optionally within the register's coverage (then the coverage target moves the programme too)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str | None = None
    deciles: tuple[int, int]
    any_component: tuple[str, ...] = ()
    within_coverage: bool = False

    @field_validator("deciles")
    @classmethod
    def _band(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1] <= 10:
            raise ValueError(f"must be [low, high] within 1..10, got {list(value)}")
        return value

    @field_validator("any_component")
    @classmethod
    def _known_counts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in FEATURE_COLUMNS]
        if unknown:
            raise ValueError(f"unknown household count(s) {unknown}")
        return value


class Programs(BaseModel):
    """conf/programs.yaml: the rule version recorded on every eligibility row, and the programmes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rule_version: str
    programs: dict[str, Program] = Field(min_length=1)


def load(config: DtksConfig) -> Programs:
    """The programme rules of this config; an unknown key or a bad value fails naming the key and the file."""
    return validated_file(Programs, config.conf_file(config.programs_file))


def fingerprints(programs: Programs) -> dict[str, str]:
    """Each programme's rule as canonical JSON: a publication records them, so the next one sees which
    programme's rule changed (a reason for change) whether or not `rule_version` was raised."""
    return {name: json.dumps(p.model_dump(mode="json"), sort_keys=True) for name, p in programs.programs.items()}


def conditions(programs: Programs) -> dict[str, F.Column]:
    """Each programme's rule as a boolean Column over a ranked household (decile and member counts)."""
    out = {}
    for name, program in programs.programs.items():
        lo, hi = program.deciles
        cond = F.col("decile").between(lo, hi)
        if program.any_component:
            cond = cond & F.greatest(*[F.col(c) > 0 for c in program.any_component] + [F.lit(False)])
        if program.within_coverage:
            cond = cond & F.col("within_coverage")
        out[name] = cond
    return out


def eligibility(ranked: DataFrame, programs: Programs) -> DataFrame:
    """One row per household and programme: eligible now or not, with the rule version."""
    rows = [
        ranked.select(
            F.lit(name).alias("program"),
            "household_id",
            "province_code",
            "regency_code",
            "decile",
            cond.alias("eligible"),
            F.lit(programs.rule_version).alias("rule_version"),
        )
        for name, cond in conditions(programs).items()
    ]
    out = rows[0]
    for df in rows[1:]:
        out = out.unionByName(df)
    return out


def changes(change_feed: DataFrame) -> DataFrame:
    """Who entered and who left, per programme and province, from program_eligibility's change feed.

    Pre- and post-images of one household in one commit are paired, so a rule-version change that
    leaves a household eligible is neither an entry nor an exit.
    """
    kind = F.col("_change_type")
    pre = F.when(kind.isin("update_preimage", "delete"), F.col("eligible"))
    post = F.when(kind.isin("insert", "update_postimage"), F.col("eligible"))
    per = change_feed.groupBy("program", "household_id", "_commit_version").agg(
        F.max(pre).alias("pre"), F.max(post).alias("post"), F.first("province_code").alias("province_code")
    )
    entered = ~F.coalesce(F.col("pre"), F.lit(False)) & F.coalesce(F.col("post"), F.lit(False))
    left = F.coalesce(F.col("pre"), F.lit(False)) & ~F.coalesce(F.col("post"), F.lit(False))
    return per.groupBy("program", "province_code").agg(
        F.sum(entered.cast("int")).alias("entered"), F.sum(left.cast("int")).alias("left")
    ).where("entered > 0 OR left > 0")
