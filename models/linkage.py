"""Probabilistic record linkage: survey members without a usable NIK found among registry persons
(Fellegi-Sunter, its parameters estimated from the data and its pairs scored by Splink on Spark).

Why: a member whose NIK is missing, malformed or not in the registry is otherwise never checked against the
civil registry. Names are compared after `standard_name` (Muhammad, M., Moh. and Muh. are one name; Noor is
Nur; Soe is Su), with term-frequency adjustment so a common name (Muhammad, Siti) weighs less than a rare
one. Both sides carry the columns of `COLUMNS`; `unique_id` is the member's key on the left and the
registry person's key on the right. Nothing here reads a table: the caller brings both sides.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from runtime import sql

if TYPE_CHECKING:
    from splink.internals.database_api import DatabaseAPISubClass
    from splink.internals.input_column import InputColumn
    from splink.internals.settings import CoreModelSettings, TrainingSettings
    from splink.internals.splink_dataframe import SplinkDataFrame

# The columns both sides carry. name: standard_name(); name_key: soundex of its first word; kk: the
# household's (left) or the person's (right) KK as a 64-bit hash; nik: the 16 digits as reported (left) or
# registered (right), null where there is none; nik_prefix: its first 12 (district and birth date).
COLUMNS = ("unique_id", "name", "name_key", "birth_date", "birth_year", "sex", "village_code", "district_code",
           "kk", "nik", "nik_prefix")
SEED = 20261206
LINK, REVIEW = "LINK", "REVIEW"  # `decide`: at or above the upper threshold, and from the lower to it
_linkers = itertools.count()
U_MAX_PAIRS = 2_000_000
EM_MAX_ITERATIONS, EM_CONVERGENCE = 12, 0.001


@dataclass(frozen=True)
class Thresholds:
    """At or above `upper`: linked automatically; from `lower` to `upper`: a pair for clerical review."""

    upper: float
    lower: float


# Spellings of Muhammad as a first word (M., Moh., Muh. and the rest: written without the dot here).
_MUHAMMAD = ("M", "MOH", "MOCH", "MUH", "MUHAMAD", "MOHAMMAD", "MOHAMAD", "MOHAMMED", "MUHAMMED")
# Applied in order, as plain substrings of the upper-case name of letters and single spaces between two spaces
# (so a word's bounds are spaces): whole words made one, then spellings within words, then a final Y.
_WORDS = (("NOOR", "NUR"), ("SITTI", "SITI"))
_LITERAL = (("OE", "U"), ("DJ", "J"), ("TJ", "C"), ("CH", "H"), ("SY", "S"), ("KH", "H"))


def standard_name(name: Column) -> Column:
    """A name as linkage compares it: upper case, letters and single spaces, common spellings made one.

    One regular expression (any run of other characters becomes a space); the rest are literal replacements
    on the name between two spaces, which cost a fraction of a regular expression each (a national registry
    standardises hundreds of millions of names)."""
    clean = F.trim(F.upper(F.regexp_replace(name, r"[^A-Za-z]+", " ")))
    first = F.substring_index(clean, " ", 1)
    out = F.concat(F.lit(" "), F.when(first.isin(*_MUHAMMAD), F.concat(
        F.lit("MUHAMMAD"), clean.substr(F.length(first) + 1, F.lit(1 << 30)))).otherwise(clean), F.lit(" "))
    for word, replacement in _WORDS:  # twice: a word right after a replaced one lost its leading space to it
        for _ in range(2):
            out = F.replace(out, F.lit(f" {word} "), F.lit(f" {replacement} "))
    for text, replacement in _LITERAL:
        out = F.replace(out, F.lit(text), F.lit(replacement))
    out = F.trim(F.replace(out, F.lit("Y "), F.lit("I ")))
    return F.when(out != "", out)


def side(df: DataFrame, unique_id: Column, name: Column, birth_date: Column, sex: Column, village_code: Column,
         kk: Column, nik: Column, standard: bool = False) -> DataFrame:
    """The COLUMNS of one side, from its own columns (`kk`: the KK number or token, hashed here; null stays
    null, as xxhash64 of a null is not; `standard`: the name is already `standard_name`'s)."""
    std = name if standard else standard_name(name)
    digits = F.when(nik.rlike(r"^[0-9]{16}$"), nik)
    return df.select(
        unique_id.cast("string").alias("unique_id"),
        std.alias("name"),
        F.soundex(F.split(std, " ")[0]).alias("name_key"),
        birth_date.alias("birth_date"),
        F.year(birth_date).alias("birth_year"),
        sex.alias("sex"),
        village_code.alias("village_code"),
        F.substring(village_code, 1, 6).alias("district_code"),
        F.when(kk.isNotNull(), F.xxhash64(kk)).alias("kk"),
        digits.alias("nik"),
        F.substring(digits, 1, 12).alias("nik_prefix"),
    )


# One equality of a blocking rule as Splink writes it (`block_on`): the same column on both sides.
_EQUALITY = re.compile(r"\(?l\.`(\w+)` = r\.`(\w+)`\)?")


def blocking_keys(model: dict) -> list[tuple[str, ...]] | None:
    """The columns each of `model`'s prediction rules requires equal on both sides (a pair is scored only when
    a rule's columns are all equal and not null); None when a rule is anything else (then every person can pair).
    Read from the model, not this module's settings: a registered version keeps the rules it was trained with."""
    keys = []
    for rule in model["blocking_rules_to_generate_predictions"]:
        text = rule["blocking_rule"] if isinstance(rule, dict) else rule
        columns = []
        for part in text.split(" AND "):
            found = _EQUALITY.fullmatch(part.strip())
            if found is None or found.group(1) != found.group(2) or found.group(1) not in COLUMNS:
                return None
            columns.append(found.group(1))
        keys.append(tuple(columns))
    return keys


def _settings(probability_two_random_records_match: float):  # -> splink SettingsCreator
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(output_column_name="name", comparison_levels=[
        cll.NullLevel("name"),
        cll.ExactMatchLevel("name", term_frequency_adjustments=True),
        cll.JaroWinklerLevel("name", 0.95),
        cll.CustomLevel("startswith(name_l, concat(name_r, ' ')) OR startswith(name_r, concat(name_l, ' '))",
                        "one name is the other with a name more"),
        cll.JaroWinklerLevel("name", 0.88),
        cll.JaroWinklerLevel("name", 0.75),
        cll.ElseLevel(),
    ])
    birth = cl.CustomComparison(output_column_name="birth_date", comparison_levels=[
        cll.NullLevel("birth_date"),
        cll.ExactMatchLevel("birth_date"),
        cll.CustomLevel("day(birth_date_l) = month(birth_date_r) AND month(birth_date_l) = day(birth_date_r) "
                        "AND year(birth_date_l) = year(birth_date_r)", "day and month swapped"),
        cll.CustomLevel("day(birth_date_l) = day(birth_date_r) AND month(birth_date_l) = month(birth_date_r) "
                        "AND abs(year(birth_date_l) - year(birth_date_r)) = 1", "year off by one"),
        cll.CustomLevel("abs(datediff(birth_date_l, birth_date_r)) <= 366", "within a year"),
        cll.ElseLevel(),
    ])
    place = cl.CustomComparison(output_column_name="village_code", comparison_levels=[
        cll.NullLevel("village_code"),
        cll.ExactMatchLevel("village_code"),
        cll.ExactMatchLevel("district_code"),
        cll.ElseLevel(),
    ])
    kk = cl.CustomComparison(output_column_name="kk", comparison_levels=[
        cll.NullLevel("kk"), cll.ExactMatchLevel("kk"), cll.ElseLevel()])
    nik = cl.CustomComparison(output_column_name="nik", comparison_levels=[
        cll.NullLevel("nik"), cll.LevenshteinLevel("nik", 2), cll.ElseLevel()])
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        comparisons=[name, birth, cl.ExactMatch("sex"), place, kk, nik],
        blocking_rules_to_generate_predictions=[
            block_on("village_code", "birth_date"),
            block_on("kk"),
            block_on("district_code", "birth_year", "name_key"),
            block_on("nik_prefix"),
        ],
        max_iterations=EM_MAX_ITERATIONS,
        em_convergence=EM_CONVERGENCE,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _linker(spark: SparkSession, left: DataFrame, right: DataFrame, settings):
    from splink import Linker, SparkAPI

    logging.getLogger("splink").setLevel(logging.WARNING)  # its INFO lines are per step, for notebooks

    api = SparkAPI(spark_session=spark, break_lineage_method="persist")
    run = next(_linkers)  # each linker's input views get their own names in the session
    tables = [api.register(df.select(*COLUMNS), dataset_display_name=name, table_name=f"__dtks_{name}_{run}")
              for df, name in ((left, "members"), (right, "registry"))]
    return Linker(tables, settings)


def train(spark: SparkSession, left: DataFrame, right: DataFrame, expected_share: float = 0.8) -> dict:
    """Estimate the model on these two sides as Splink recommends: u by random sampling, m by expectation
    maximisation over blocking rules; reproducible (fixed seed). `expected_share`: the share of the left
    thought to be in the registry, which sets the prior (λ). Returns the settings with their parameters."""
    from splink import block_on

    n_left, n_right = left.count(), right.count()
    prior = min(0.5, expected_share * n_left / max(1, n_left * n_right))
    settings = _linker(spark, left, right, _settings(prior)).misc.save_model_to_json()
    linker = _linker(spark, left, right, with_u(settings, u_by_random_sampling(
        spark, left, right, settings, n_left * n_right)))
    # A comparison whose columns a rule blocks on is left out of that rule's session (a derived column such as
    # name_key would not be): each comparison is estimated by a rule that does not select on it.
    with _em_iterations_in_process():
        for rule in (block_on("village_code", "birth_date"), block_on("village_code", "name"),
                     block_on("name", "birth_date")):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, fix_u_probabilities=True, fix_probability_two_random_records_match=True,
                estimate_without_term_frequencies=True)
    trained = linker.misc.save_model_to_json()
    # Splink reads a settings dict's comparisons without their description (ExactMatch, ...): kept from the first.
    described = zip(trained["comparisons"], settings["comparisons"], strict=True)
    return trained | {"comparisons": [c | {"comparison_description": first["comparison_description"]}
                                      for c, first in described]}


@contextlib.contextmanager
def _em_iterations_in_process() -> Iterator[None]:
    """Splink's EM sessions with their iterations computed here (`em_on_agreement_patterns`); the rest of each
    session stays Splink's: blocking, comparison vectors, the comparisons a rule leaves out, λ adjusted for
    the rule, the median of the trained values."""
    from splink.internals import em_training_session

    splinks = em_training_session.expectation_maximisation
    em_training_session.expectation_maximisation = em_on_agreement_patterns
    try:
        yield
    finally:
        em_training_session.expectation_maximisation = splinks


def em_on_agreement_patterns(db_api: DatabaseAPISubClass, training_settings: TrainingSettings,
                             estimate_without_term_frequencies: bool, core_model_settings: CoreModelSettings,
                             unique_id_input_columns: list[InputColumn], training_fixed_probabilities: set[str],
                             df_comparison_vector_values: SplinkDataFrame) -> list[CoreModelSettings]:
    """Splink 5's `expectation_maximisation` (same arguments, same result within float rounding) with each
    iteration computed in Python. Why: Splink runs every iteration as a Spark query (several jobs and an Arrow
    transfer) over a few hundred agreement patterns, most of a small nation's training; here the patterns are
    counted in one Spark job. With term frequencies (never asked by `train`) Splink's own runs."""
    from splink.internals import expectation_maximisation as em
    from splink.internals.misc import prob_to_match_weight

    if not estimate_without_term_frequencies:
        return em.expectation_maximisation(db_api, training_settings, False, core_model_settings,
                                           unique_id_input_columns, training_fixed_probabilities,
                                           df_comparison_vector_values)
    gammas = [cc._gamma_column_name for cc in core_model_settings.comparisons]
    patterns = [(tuple(r[g] for g in gammas), r["count"])
                for r in df_comparison_vector_values.as_spark_dataframe().groupBy(*gammas).count().collect()]
    history = [core_model_settings.copy()]
    for _ in range(training_settings.max_iterations):
        comparisons = core_model_settings.comparisons
        weights = [{cl.comparison_vector_value: cl._match_weight for cl in cc.comparison_levels} for cc in comparisons]
        prior = prob_to_match_weight(core_model_settings.probability_two_random_records_match)
        m_count: list[dict[int, float]] = [{} for _ in comparisons]
        u_count: list[dict[int, float]] = [{} for _ in comparisons]
        matches = pairs = 0.0
        for values, count in patterns:
            weight = prior
            for level, by_value in zip(values, weights, strict=True):
                weight += by_value[level]
            p = 1.0 / (1.0 + 2.0 ** -weight) if weight >= 0 else 2.0 ** weight / (1.0 + 2.0 ** weight)
            for k, level in enumerate(values):
                m_count[k][level] = m_count[k].get(level, 0.0) + p * count
                u_count[k][level] = u_count[k].get(level, 0.0) + (1 - p) * count
            matches, pairs = matches + p * count, pairs + count
        records = [{"output_column_name": "_probability_two_random_records_match", "comparison_vector_value": 0,
                    "m_probability": matches / pairs, "u_probability": (pairs - matches) / pairs}]
        for cc, ms, us in zip(comparisons, m_count, u_count, strict=True):
            m_total = sum(v for level, v in ms.items() if level != -1)
            u_total = sum(v for level, v in us.items() if level != -1)
            records += [{"output_column_name": cc.output_column_name, "comparison_vector_value": level,
                         "m_probability": ms[level] / m_total if m_total else None,
                         "u_probability": us[level] / u_total if u_total else None}
                        for level in sorted(ms) if level != -1]
        core_model_settings = em.maximisation_step(training_fixed_probabilities, core_model_settings, records)
        history.append(core_model_settings)
        change = em._max_change_in_parameters_comparison_levels(history)["max_abs_change_value"]
        if change < training_settings.em_convergence:
            break
    return history


def numbered_levels(comparison: dict) -> list[tuple[int, dict]]:
    """A comparison's graded (not null) levels with Splink's numbers (comparison vector values): the closest
    agreement highest, down to 0 for the last (the else level)."""
    graded = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
    return [(len(graded) - 1 - i, lv) for i, lv in enumerate(graded)]


def comparison_vector_sql(comparison: dict) -> str:
    """A comparison's level as Splink numbers it: -1 for the null level, else the first graded level whose
    condition holds."""
    cases = [f"WHEN {lv['sql_condition']} THEN -1" for lv in comparison["comparison_levels"]
             if lv.get("is_null_level")]
    for number, lv in numbered_levels(comparison):
        condition = lv["sql_condition"].strip()
        cases.append(f"ELSE {number}" if condition.upper() == "ELSE" else f"WHEN {condition} THEN {number}")
    return f"CASE {' '.join(cases)} END"


def u_by_random_sampling(spark: SparkSession, left: DataFrame, right: DataFrame, settings: dict,
                         pairs: int) -> dict[str, dict[int, float]]:
    """u of each comparison level (Splink's way: the share of random pairs at that level, among the pairs
    where neither value is null) from at most U_MAX_PAIRS pairs, in one pass over the pairs for every
    comparison. Splink 5 makes a pass per comparison (six queries of several Spark jobs each: most of a
    small nation's training). The sample keeps the same share of each side's rows, chosen by a hash of the
    row's key and SEED, so it does not depend on partitioning; `pairs`: left rows x right rows. A level no
    sampled pair reaches is left out (not observed, as Splink leaves it)."""
    share = min(1.0, math.sqrt(U_MAX_PAIRS / max(1, pairs)))

    def sample(df: DataFrame, suffix: str) -> DataFrame:
        if share < 1.0:
            df = df.where(F.abs(F.xxhash64("unique_id", F.lit(SEED))) % 1_000_000_000 < round(share * 1e9))
        return df.select(*(F.col(c).alias(f"{c}_{suffix}") for c in COLUMNS))

    comparisons = [c["output_column_name"] for c in settings["comparisons"]]
    gammas = [F.expr(comparison_vector_sql(c)).alias(c["output_column_name"]) for c in settings["comparisons"]]
    # The left sample spread over the cores (a sample is small at any size; the pairs are not).
    pairs_seen = (sample(left, "l").repartition(spark.sparkContext.defaultParallelism)
                  .crossJoin(sample(right, "r")).groupBy(*gammas).count().collect())
    counts: dict[str, dict[int, int]] = {c: {} for c in comparisons}
    for row in pairs_seen:  # agreement patterns: a few hundred rows
        for c in comparisons:
            if row[c] != -1:
                counts[c][row[c]] = counts[c].get(row[c], 0) + row["count"]
    return {c: {level: k / sum(levels.values()) for level, k in levels.items()} for c, levels in counts.items()}


def with_u(settings: dict, u: dict[str, dict[int, float]]) -> dict:
    """`settings` with each graded level's u_probability from `u` (by comparison and level; one left out
    stays without)."""
    comparisons = []
    for comparison in settings["comparisons"]:
        shares, graded, levels = u[comparison["output_column_name"]], iter(numbered_levels(comparison)), []
        for lv in comparison["comparison_levels"]:
            if not lv.get("is_null_level"):
                number, _ = next(graded)
                if number in shares:
                    lv = lv | {"u_probability": shares[number]}
            levels.append(lv)
        comparisons.append(comparison | {"comparison_levels": levels})
    return settings | {"comparisons": comparisons}


def name_frequencies(names: DataFrame) -> DataFrame:
    """The term-frequency lookup of the name comparison (name, tf_name: its share of `names`), from a standard
    `name` column."""
    counts = names.where(F.col("name").isNotNull()).groupBy("name").agg(F.count(F.lit(1)).alias("_k"))
    total = names.where(F.col("name").isNotNull()).agg(F.count(F.lit(1)).alias("_n"))
    return counts.crossJoin(F.broadcast(total)).select("name", (F.col("_k") / F.col("_n")).alias("tf_name"))


def predict(spark: SparkSession, left: DataFrame, right: DataFrame, model: dict, lower: float,
            frequencies: DataFrame | None = None) -> DataFrame:
    """Pairs (member_id, registry_id, match_probability, match_weight and each comparison's level as
    level_<comparison>, `levels`) at or above `lower`, before the one-to-one rule. `frequencies`: the name's
    term frequencies (`name_frequencies`); None: Splink takes them from the two sides, so a pair's probability
    then depends on who else is scored."""
    # Each comparison's partial weight (mw_) comes with the intermediate columns; the level is read off it.
    linker = _linker(spark, left, right, model | {"retain_intermediate_calculation_columns": True})
    if frequencies is not None:
        registered = linker._db_api.register(frequencies, table_name=f"__dtks_tf_name_{next(_linkers)}")
        linker.table_management.register_term_frequency_lookup(registered, "name")
    scored = linker.inference.predict(threshold_match_probability=lower).as_spark_dataframe()
    members_left = F.col("source_dataset_l") == "members"
    return scored.select(
        F.when(members_left, F.col("unique_id_l")).otherwise(F.col("unique_id_r")).alias("member_id"),
        F.when(members_left, F.col("unique_id_r")).otherwise(F.col("unique_id_l")).alias("registry_id"),
        "match_probability", "match_weight", *levels(model),
    )


def levels(model: dict) -> list[Column]:
    """level_<comparison> from its partial match weight mw_<comparison>: Splink's numbering (the closest
    agreement highest, 0 for the else level), null where a side lacks the value. The weight of each level is
    log2(m/u), distinct within a comparison of a trained model; a level EM saw no pair of (m unknown) weighs 0,
    as Splink scores it."""
    out = []
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        level = "CAST(NULL AS INT)"
        for number, lv in reversed(numbered_levels(comparison)):
            m, u = lv.get("m_probability"), lv.get("u_probability")
            weight = math.log2(m / u) if m and u else 0.0
            level = (f"CASE WHEN abs({sql.ident(f'mw_{name}')} - {sql.literal(weight)}) < {sql.literal(1e-9)} "
                     f"THEN {number} ELSE {level} END")
        out.append(F.expr(level).alias(f"level_{name}"))  # SQL text: one py4j round trip (runtime/sql.py)
    return out


def one_to_one(pairs: DataFrame) -> DataFrame:
    """Each member's best pair, then each registry person's best member: at most one link per registry
    person and per member (ties by the other side's key, so the result never depends on row order)."""
    by_member = Window.partitionBy("member_id").orderBy(F.desc("match_probability"), "registry_id")
    best = pairs.withColumn("_r", F.row_number().over(by_member)).where("_r = 1").drop("_r")
    by_person = Window.partitionBy("registry_id").orderBy(F.desc("match_probability"), "member_id")
    return best.withColumn("_r", F.row_number().over(by_person)).where("_r = 1").drop("_r")


def decide(pairs: DataFrame, thresholds: Thresholds) -> DataFrame:
    """`decision`: LINK at or above the upper threshold, REVIEW below it."""
    return pairs.withColumn(
        "decision", F.when(F.col("match_probability") >= thresholds.upper, F.lit(LINK)).otherwise(F.lit(REVIEW)))


def parameters(model: dict) -> Iterable[tuple[str, str, float | None, float | None]]:
    """(comparison, level, m, u) of a trained model: what is logged, never a record."""
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            yield (comparison["output_column_name"], level.get("label_for_charts", level["sql_condition"]),
                   level.get("m_probability"), level.get("u_probability"))
