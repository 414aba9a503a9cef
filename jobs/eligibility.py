"""Programme eligibility from conf/programs.yaml: decile bands plus member conditions (PKH components)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.households import FEATURE_COLUMNS


@dataclass(frozen=True)
class Program:
    name: str
    deciles: tuple[int, int]
    any_component: tuple[str, ...] = ()


@dataclass(frozen=True)
class Programs:
    rule_version: str
    programs: tuple[Program, ...]


def load(path: Path) -> Programs:
    """Read and check the rules: an unknown key or component fails naming the key and the file."""
    data = yaml.safe_load(path.read_text()) or {}
    unknown = set(data) - {"rule_version", "programs"}
    if unknown or "rule_version" not in data or not data.get("programs"):
        raise ValueError(f"{path}: expected keys rule_version and programs (unknown: {sorted(unknown)})")
    out = []
    for name, spec in data["programs"].items():
        bad = set(spec) - {"label", "deciles", "any_component"}
        if bad:
            raise ValueError(f"{path}: key 'programs.{name}.{sorted(bad)[0]}' is not a programme setting")
        lo, hi = spec.get("deciles", [None, None])
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi <= 10):
            raise ValueError(f"{path}: key 'programs.{name}.deciles' must be [low, high] within 1..10")
        comps = tuple(spec.get("any_component", ()))
        for comp in comps:
            if comp not in FEATURE_COLUMNS:
                raise ValueError(f"{path}: key 'programs.{name}.any_component': unknown household count {comp!r}")
        out.append(Program(name, (lo, hi), comps))
    return Programs(str(data["rule_version"]), tuple(out))


def conditions(programs: Programs) -> dict[str, F.Column]:
    """Each programme's rule as a boolean Column over a ranked household (decile and member counts)."""
    out = {}
    for program in programs.programs:
        lo, hi = program.deciles
        cond = F.col("decile").between(lo, hi)
        if program.any_component:
            cond = cond & F.greatest(*[F.col(c) > 0 for c in program.any_component] + [F.lit(False)])
        out[program.name] = cond
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
