"""Programme eligibility from conf/programs.yaml: decile bands plus member conditions (PKH components)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
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


CHANGE_COLUMNS = ("program", "household_id", "province_code", "eligible")  # what `changes` reads of the feed


def changes_arrow(change_feed: pa.Table) -> list[dict]:
    """`changes` on a change feed read without Spark (deltalake's `load_cdf`: the lookups of a local
    lakehouse), as rows sorted by programme and province; tests/test_eligibility.py holds both to one answer.

    Only the images that can pair are grouped (a household's update images, or its delete and insert in
    one commit); every other row of the feed is an entry or an exit on its own, counted as it is."""
    keys = ["program", "household_id", "_commit_version"]
    kind = change_feed["_change_type"]
    eligible = pc.fill_null(change_feed["eligible"], False)
    pre = pc.and_(pc.is_in(kind, pa.array(["update_preimage", "delete"])), eligible).cast(pa.int8())
    post = pc.and_(pc.is_in(kind, pa.array(["insert", "update_postimage"])), eligible).cast(pa.int8())
    paired = pc.is_in(kind, pa.array(["update_preimage", "update_postimage"]))
    deletes = pc.equal(kind, "delete")
    if pc.any(deletes).as_py():  # a delete and an insert of one key in one commit pair too
        keyed = change_feed.select(keys)
        # Acero builds its hash table on the right table: the smaller one.
        small, large = sorted((keyed.filter(deletes), keyed.filter(pc.equal(kind, "insert"))),
                              key=lambda t: t.num_rows)
        both = large.join(small, keys, join_type="inner")
        if both.num_rows:
            marked = keyed.append_column("_row", pa.array(range(keyed.num_rows))).join(
                both.append_column("_both", pa.array([True] * both.num_rows)), keys, join_type="left outer")
            paired = pc.or_(paired, pc.fill_null(marked.sort_by("_row")["_both"], False))
    # Only the rows that pair carry their keys on; the others (a first publication's every row) move narrow.
    wide = change_feed.select([*keys, "province_code"]).append_column("pre", pre).append_column("post", post)
    grouped = wide.filter(paired).group_by(keys).aggregate([("pre", "max"), ("post", "max"), ("province_code", "min")])
    alone = pa.table({"program": change_feed["program"], "province_code": change_feed["province_code"],
                      "pre": pre, "post": post}).filter(pc.invert(paired))
    moves = pa.concat_tables([
        pa.table({"program": grouped["program"], "province_code": grouped["province_code_min"],
                  "pre": grouped["pre_max"], "post": grouped["post_max"]}),
        alone,
    ])
    pre, post = moves["pre"], moves["post"]
    totals = pa.table({
        "program": moves["program"], "province_code": moves["province_code"],
        "entered": pc.and_(pc.equal(pre, 0), pc.equal(post, 1)).cast(pa.int64()),
        "left": pc.and_(pc.equal(pre, 1), pc.equal(post, 0)).cast(pa.int64()),
    }).group_by(["program", "province_code"]).aggregate([("entered", "sum"), ("left", "sum")])
    rows = [{"program": r["program"], "province_code": r["province_code"], "entered": r["entered_sum"],
             "left": r["left_sum"]} for r in totals.to_pylist() if r["entered_sum"] or r["left_sum"]]
    return sorted(rows, key=lambda r: (r["program"], r["province_code"]))
