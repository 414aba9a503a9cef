"""The gold tables' rows and their writes: dtks_households replaced in one commit (it carries the national
rank), dtks_members and program_eligibility changed by their change sets only, and the `publications`
row that makes the three versions the published set. A row keeps the run id of the run that last
changed it, so a re-run on unchanged inputs leaves every table identical and the change feed empty.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core.change_set import DELETE, WAS, WAS_ELIGIBLE, WAS_RULE, was
from jobs.core.contract import FEATURE_COLUMNS
from jobs.policy import eligibility, ranking
from runtime import tables
from runtime.config import DtksConfig

log = logging.getLogger(__name__)
# What the previous publication's dtks_households held for a household, carried beside this run's staged rows
# (with_run), so the reasons for change and the queue's outcomes do not read that table again.
CARRIED = ("interview_date", "model_version", "data_hash", "decile")


def data_hash(model_features: list[str]) -> Column:
    """A hash of the household's own data (features, counts, village): it changes when its roster or answers
    do, not when other households' do (the reasons for change tell REGISTRY from RANK_SHIFT by it)."""
    data = sorted({*model_features, *FEATURE_COLUMNS, "village_code"} - {"province_code", "is_urban"})
    return F.xxhash64(*[F.col(c) for c in data])


def build_households(
    households: DataFrame, scores: DataFrame, model_features: list[str], pop: int, coverage: float
) -> DataFrame:
    """Pure: dtks_households for this run, before run ids are reconciled."""
    rankable = households.where("rankable")
    # Ranked on the few columns the rule needs (kept, so the range partitioning's sample and its shuffle
    # read them once), then joined back: the wide household rows are shuffled once.
    narrow = rankable.select("household_id", "hh_size").join(
        scores.select("household_id", "welfare_score", "model_name", "model_version"), "household_id"
    )
    ranked = ranking.rank_nationally(narrow.persist(StorageLevel.MEMORY_AND_DISK), pop, coverage)
    ranked = rankable.drop("hh_size").join(ranked, "household_id")
    keep = [
        "household_id",
        "province_code",
        "regency_code",
        "district_code",
        "village_code",
        "is_urban",
        "interview_date",
        *FEATURE_COLUMNS,
        *[c for c in model_features if c not in FEATURE_COLUMNS and c not in ("province_code", "is_urban")],
        "welfare_score",
        "national_rank",
        "cum_persons",
        "cum_population_share",
        "decile",
        "within_coverage",
        "coverage_target",
        "persons_to_cutoff",
        "model_name",
        "model_version",
        "data_hash",
    ]
    line = ranking.cutoff_line(pop, coverage)
    return (ranked.withColumn("persons_to_cutoff", F.col("cum_persons") - F.lit(line))
            .withColumn("data_hash", data_hash(model_features)).select(*dict.fromkeys(keep)))


def with_score_distance(gold_hh: DataFrame, cutoff: float | None, previous: float | None, run_id: str) -> DataFrame:
    """Add `score_to_cutoff` (welfare_score - the cut-off score, the highest within coverage) to the ranked
    rows. It is not in row_hash (the cut-off is known only once the ranking is): where the cut-off moved
    since the previous publication, every row changed, so every row takes this run's id."""
    rows = gold_hh.withColumn("score_to_cutoff", F.col("welfare_score") - F.lit(cutoff).cast("double"))
    if previous is None or previous != cutoff:
        rows = rows.withColumn("run_id", F.lit(run_id))
    carried = {was(c) for c in CARRIED}
    columns = [c for c in gold_hh.columns if c not in carried]
    at = columns.index("persons_to_cutoff")
    return rows.select(*columns[:at], "score_to_cutoff", *columns[at:])


def build_members(members: DataFrame) -> DataFrame:
    """Pure: dtks_members rows of these (ranked households') members, before run ids, with their
    silver row's `row_hash`. No rank, decile or coverage here (they are the household's, in
    dtks_households), so a member's row changes only when the member does."""
    return members.select(
        "household_id",
        "member_no",
        "nik_token",
        "match_status",
        "sex",
        "age",
        "relationship",
        (F.col("age") < 6).alias("is_child_u6"),
        F.col("age").between(6, 18).alias("is_school_age"),
        (F.col("age") >= 60).alias("is_elderly"),
        (F.col("disability") == 2).alias("severe_disability"),
        (F.col("disability") > 0).alias("any_disability"),
        (F.col("pregnant") == 1).alias("pregnant"),
        (F.col("chronic_illness") == 1).alias("chronic_illness"),
        (F.col("in_school") == 1).alias("in_school"),
        "province_code",
        "regency_code",
        "row_hash",
    )


def with_run(df: DataFrame, previous: DataFrame | None, keys: list[str], run_id: str,
             carry: Sequence[str] = ()) -> DataFrame:
    """Add row_hash (unless the rows carry their source's) and run_id: the run that last changed the row
    (this one unless the previous publication holds the same content); and `was(c)` for each column in
    `carry`: what the previous publication held (null for a row it did not hold), read in the same join."""
    hashed = df if "row_hash" in df.columns else df.withColumn("row_hash", tables.row_hash(df.columns))
    if previous is None:
        return hashed.select("*", F.lit(run_id).alias("run_id"),
                             *[F.lit(None).cast(df.schema[c].dataType).alias(was(c)) for c in carry])
    prev = previous.select(*keys, F.col("row_hash").alias("_prev_hash"), F.col("run_id").alias("_prev_run"),
                           *[F.col(c).alias(was(c)) for c in carry])
    same = F.col("_prev_hash") == F.col("row_hash")
    return hashed.join(prev, keys, "left").select(
        *hashed.columns, F.when(same, F.col("_prev_run")).otherwise(F.lit(run_id)).alias("run_id"),
        *[was(c) for c in carry])


def previous_households(spark: SparkSession, config: DtksConfig, model_features: list[str],
                        versions: dict[str, int]) -> DataFrame | None:
    """The published dtks_households (at `versions`, the latest publication's), with `data_hash` computed where it
    was published before it was kept."""
    rows = published(spark, config, tables.DTKS_HOUSEHOLDS, versions)
    if rows is None or "data_hash" in rows.columns:
        return rows
    return rows.withColumn("data_hash", data_hash(model_features))


def unranked_households(members: DataFrame, gold_hh: DataFrame) -> DataFrame:
    """The households with members but no rank (few): found on household ids alone."""
    return members.select("household_id").distinct().join(gold_hh.select("household_id"), "household_id", "left_anti")


def member_changes(members: DataFrame, gold_hh: DataFrame, current: DataFrame | None, run_id: str,
                   put: Callable[[str, DataFrame], DataFrame]) -> DataFrame:
    """The change set against dtks_members (`current`; None: every ranked household's member is new), flagged
    `_delete` where a member leaves it.

    A gold member row is a function of its silver_members row, so it carries that row's `row_hash`: the
    comparison reads keys and hashes only, and gold rows are built for the members that are new to the table or
    changed (with this run's id), not for the whole nation. Against a table, no member's wide row is shuffled:
    the unranked households and the keys that differ (a few per cent of the nation's) are staged, so the planner
    sees their size and joins them by broadcast."""
    keys = ["household_id", "member_no"]
    if current is None:  # the whole table is written, shuffled by its partitions anyway
        todo = members.join(gold_hh.select("household_id"), "household_id", "left_semi")
    else:
        ranked = members.join(put("unranked_households", unranked_households(members, gold_hh)), "household_id",
                              "left_anti")
        cur = current.select(*keys, F.col("row_hash").alias("_t_hash"), F.col("province_code").alias("_t_province"),
                             F.col("regency_code").alias("_t_regency"))
        joined = ranked.select(*keys, "row_hash", F.lit(True).alias("_s")).join(cur, keys, "full")
        differs = F.col("_t_hash").isNull() | (F.col("_t_hash") != F.col("row_hash"))
        changed = put("member_keys_changed", joined.where(F.col("_s").isNull() | differs)
                      .select(*keys, "_s", "_t_province", "_t_regency"))
        todo = ranked.join(changed.where(F.col("_s")).select(*keys), keys, "left_semi")
        gone = changed.where(F.col("_s").isNull()).select(
            *keys, F.col("_t_province").alias("province_code"), F.col("_t_regency").alias("regency_code"))
    rows = build_members(todo).withColumn("run_id", F.lit(run_id)).withColumn(DELETE, F.lit(False))
    if current is None:
        return rows
    return rows.unionByName(gone.withColumn(DELETE, F.lit(True)), allowMissingColumns=True)


def write_members(spark: SparkSession, config: DtksConfig, members: DataFrame, gold_hh: DataFrame,
                  run_id: str, put: Callable[[str, DataFrame], DataFrame]) -> None:
    """Against the table's latest version (a publish killed after this write left it ahead of the
    published one): the MERGE then brings it to this run's rows whatever it held."""
    name = tables.DTKS_MEMBERS
    if not tables.has_columns(spark, config, name, "row_hash"):
        tables.overwrite(member_changes(members, gold_hh, None, run_id, put).drop(DELETE), config, name)
        return
    if not config.layout.gold_deletion_vectors:
        # Copy-on-write: a change set spread over the nation touches nearly every file, so a MERGE would
        # rewrite them all anyway, after joining the table; replacing it is cheaper and ends the same.
        rows = member_changes(members, gold_hh, None, run_id, put).drop(DELETE, "run_id")
        tables.overwrite(with_run(rows, tables.read(spark, config, name), ["household_id", "member_no"], run_id),
                         config, name)
        return
    # Stored first: a MERGE reads its source twice.
    changes = put("member_changes", member_changes(members, gold_hh, tables.read(spark, config, name), run_id, put))
    tables.merge_changes(spark, config, name, changes, delete=DELETE)


def eligibility_rows(gold_hh: DataFrame, rules: eligibility.Programs, run_id: str, run_date: dt.date) -> DataFrame:
    return (
        eligibility.eligibility(gold_hh, rules)
        .drop("decile")
        .withColumn("eligible_since", F.when(F.col("eligible"), F.lit(run_date)))
        .withColumn("updated_run_id", F.lit(run_id))
    )


def eligibility_changes(rows: DataFrame, current: DataFrame) -> DataFrame:
    """The change set against the published table: new rows, rows whose eligibility or rule changed,
    and rows to delete (households no longer ranked), flagged by `_delete`; with what the table held
    (`WAS`: eligible and rule version), which the reasons for change read."""
    keys = ["program", "household_id"]
    cur = current.select(*keys, F.col("eligible").alias("_t_eligible"), F.col("rule_version").alias("_t_rule"),
                         F.col("province_code").alias("_t_province"), F.col("regency_code").alias("_t_regency"))
    joined = rows.withColumn("_s", F.lit(True)).join(cur, keys, "full")
    gone = F.col("_s").isNull()
    changed = (
        F.col("_t_eligible").isNull()
        | (F.col("eligible") != F.col("_t_eligible"))
        | (F.col("rule_version") != F.col("_t_rule"))
    )
    return (
        joined.where(gone | changed)
        .withColumn("province_code", F.coalesce(F.col("province_code"), F.col("_t_province")))
        .withColumn("regency_code", F.coalesce(F.col("regency_code"), F.col("_t_regency")))
        .withColumn("_delete", gone)
        .select(*rows.columns, "_delete", F.col("_t_eligible").alias(WAS_ELIGIBLE), F.col("_t_rule").alias(WAS_RULE))
    )


def write_eligibility(spark: SparkSession, config: DtksConfig, rows: DataFrame,
                      put: Callable[[str, DataFrame], DataFrame], versions: dict[str, int]) -> DataFrame | None:
    """Only what changed goes in, so the change feed holds exactly who entered and who left. Returns the
    stored change set (None on the first publish, when every row is new)."""
    name = tables.PROGRAM_ELIGIBILITY
    if not tables.exists(spark, config, name):
        tables.create_empty(spark, config, name, rows)  # change feed on from the first commit
        tables.append(rows, config, name)
        return None
    current = tables.read_published(spark, config, name, versions)
    changes = put("eligibility_changes", eligibility_changes(rows, current))
    tables.merge_changes(
        spark,
        config,
        name,
        changes.drop(*WAS),
        update={
            "eligible": "s.eligible",
            "eligible_since": "CASE WHEN s.eligible AND NOT t.eligible THEN s.eligible_since "
            "WHEN s.eligible THEN t.eligible_since END",
            "rule_version": "s.rule_version",
            "updated_run_id": "s.updated_run_id",
        },
        delete="_delete",
    )
    return changes


def record_publication(
    spark: SparkSession, config: DtksConfig, run_id: str, coverage: float, population: int,
    models_used: list[tuple[str, str]], rules: dict[str, str], cutoff_score: float | None,
) -> int:
    """Append the versions the published tables now have: the one commit that makes them published. `rules`:
    each programme's rule as published (eligibility.fingerprints), which the next publish compares with;
    `cutoff_score`: the highest welfare score within coverage."""
    versions = tables.current_versions(spark, config)
    previous = tables.read(spark, config, tables.PUBLICATIONS) if tables.exists(
        spark, config, tables.PUBLICATIONS) else None
    number = (previous.agg(F.max("publication_id")).first()[0] or 0) + 1 if previous is not None else 1
    row = spark.createDataFrame(
        [(number, run_id, dt.datetime.now(dt.UTC), coverage, population, ",".join(f"{n}:{v}" for n, v in models_used),
          versions, rules, cutoff_score)],
        "publication_id long, run_id string, published_at timestamp, coverage_target double, population long, "
        "models string, versions map<string,long>, rules map<string,string>, cutoff_score double",
    )
    # `population`, `rules`, `cutoff_score`: added later
    tables.append(row, config, tables.PUBLICATIONS, new_columns=True)
    log.info("publication %d: %s", number, ", ".join(f"{n} v{v}" for n, v in versions.items()))
    return number


def published(spark: SparkSession, config: DtksConfig, name: str, versions: dict[str, int]) -> DataFrame | None:
    """`name` at `versions` (the latest publication's: tables.read_published), None before its first write."""
    return tables.read_published(spark, config, name, versions) if tables.exists(spark, config, name) else None
