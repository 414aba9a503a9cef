"""Single-node baseline: the same work as ingest + score + publish, in DuckDB SQL on the same landing files.

This is a second statement of the pipeline's rules, kept only to time them on one node and to check our
dtks_households against it (read with `deltalake`). It restates, in SQL, these rules; a change to any of
them must be made here too, or the equality check (and the ratio) stops meaning anything:
- NIK format (jobs/core/nik.py `problem`, `birth_date`): missing/blank, not 16 digits, placeholder, unknown
  province (first two digits), bad birth date (day minus 40 for women, month, two-digit year to the latest
  century, not after --as-of), serial 0000; in that order.
- Validation (jobs/ingest/validation.py `registry`, `households`, `members`): the first rule a row breaks,
  in the same order: registry INVALID_NIK, MISSING_VALUE (birth_date, sex, village_code), sex L/P,
  UNKNOWN_VILLAGE; households MISSING_VALUE (key, village, interview times, questionnaire version),
  UNKNOWN_VILLAGE, UNKNOWN_QUESTIONNAIRE_VERSION, BAD_INTERVIEW_TIME, each questionnaire answer missing or
  out of range (conf/questionnaire.yaml codes, min, max); members MISSING_VALUE, member_no < 1, answers,
  UNKNOWN_HOUSEHOLD, HOUSEHOLD_REJECTED (one verdict per household_id: the accepted row, else the first
  rejection), BIRTH_IN_FUTURE; and DUPLICATE_RECORD for a key beyond the first (registry by NIK, latest
  updated_at; households by household_id, latest interview; members by household_id + member_no, lowest NIK).
- Current rosters (jobs/ingest/rematch.py `current_members`): accepted members of accepted households.
- Matching (jobs/ingest/matching.py `match`; on the raw NIK, which pairs as the keyed token does): a NIK
  listed twice counts in the most recent interview (ties: household_id, member_no), the others DUPLICATE; then
  NOT_FOUND, DECEASED (death on or before the interview date), MATCHED_WITH_DIFFERENCES (birth_date, sex),
  MATCHED; no usable NIK: MISSING_NIK / INVALID_NIK.
- Household features (jobs/ingest/features.py `features`, jobs/core/regions.py `region_columns`): counted
  members (not DUPLICATE, not DECEASED), age as Spark's months_between / 12 at the interview date, the counts,
  the head (relationship 1, else the oldest, then the lowest member_no), the logs, shares and dependency
  ratio with their floors, province/regency codes and is_urban from the village code, rankable = hh_size > 0.
- Scoring (models/compile.py `linear_expression`): the champion's intercept and terms, grouped and ordered
  as compiled, so the sums round alike; linear models only.
- Population P and ranking (jobs/core/population.py, jobs/policy/ranking.py `rank_nationally`): P = the configured
  official population, else living accepted registry persons; order by welfare_score, household_id;
  cum_population_share = running persons / P; decile = ceil(share x 10) within 1..10; within_coverage =
  share <= ranking.coverage_target.

Not restated: registry change events (update deliveries), unreadable-value rules (BAD_VALUE: only Parquet
whose types match the input contract is accepted, as `dtks generate` writes), quarantine detail text, NIK
tokens and the identity vault, silver_training, programme eligibility, the publish gates and the Delta
writes. The step timings say what is covered.

    pip install -e '.[bench]'
    python scripts/bench_duckdb.py --landing LANDING --lakehouse LAKEHOUSE \
        --tracking-uri sqlite:///PATH/mlflow.db --as-of 2026-11-28 [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# ------------------------------------------------------------------ SQL pieces, one per rule module

BLANK = r"^[ \t\n\r\f\x0b]*$"


def _q(value: Any) -> str:
    """A SQL literal: strings quoted, floats in exponent form (read as DOUBLE, exactly), ints plain."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.17e}"
    return "'" + str(value).replace("'", "''") + "'"


def _in_list(values) -> str:
    return "(" + ", ".join(_q(v) for v in values) + ")"


def nik_birth_date(col: str, as_of: dt.date) -> str:
    """jobs/core/nik.py birth_date: day (minus 40 for women), month, two-digit year to the latest century."""
    raw_day = f"TRY_CAST(substr({col}, 7, 2) AS INTEGER)"
    day = f"(CASE WHEN {raw_day} > 40 THEN {raw_day} - 40 ELSE {raw_day} END)"
    month = f"TRY_CAST(substr({col}, 9, 2) AS INTEGER)"
    yy = f"TRY_CAST(substr({col}, 11, 2) AS INTEGER)"
    year = f"(CASE WHEN {yy} + 2000 <= {as_of.year} THEN {yy} + 2000 ELSE {yy} + 1900 END)"
    last = f"day(last_day(make_date({year}, {month}, 1)))"
    valid = f"(regexp_full_match({col}, '[0-9]{{16}}') AND {month} BETWEEN 1 AND 12 AND {day} BETWEEN 1 AND {last})"
    born = f"(CASE WHEN {valid} THEN make_date({year}, {month}, {day}) END)"
    return f"(CASE WHEN {born} <= DATE '{as_of.isoformat()}' THEN {born} END)"


def nik_problem(col: str, provinces: list[str], as_of: dt.date) -> str:
    from jobs.core import nik

    return (
        f"(CASE WHEN {col} IS NULL OR regexp_full_match({col}, '{BLANK[1:-1]}') THEN '{nik.MISSING}'"
        f" WHEN NOT regexp_full_match({col}, '[0-9]{{16}}') THEN '{nik.NOT_16_DIGITS}'"
        f" WHEN {col} IN {_in_list(sorted(nik.PLACEHOLDERS))} THEN '{nik.PLACEHOLDER}'"
        f" WHEN substr({col}, 1, 2) NOT IN {_in_list(sorted(set(provinces)))} THEN '{nik.UNKNOWN_PROVINCE}'"
        f" WHEN {nik_birth_date(col, as_of)} IS NULL THEN '{nik.BAD_DATE}'"
        f" WHEN substr({col}, 13, 4) = '0000' THEN '{nik.SERIAL_ZERO}' END)"
    )


def _out_of_range(var) -> str:
    if var.codes is not None:
        return f'"{var.name}" NOT IN {_in_list(var.codes)}'
    parts = ["FALSE"]
    if var.min is not None:
        parts.append(f'"{var.name}" < {_q(float(var.min))}')
    if var.max is not None:
        parts.append(f'"{var.name}" > {_q(float(var.max))}')
    return "(" + " OR ".join(parts) + ")"


def _answers(variables) -> list[tuple[str, str]]:
    rules = []
    for var in variables:
        rules.append((f'"{var.name}" IS NULL', "MISSING_VALUE"))
        rules.append((_out_of_range(var), "OUT_OF_RANGE"))
    return rules


def _reason(rules: list[tuple[str, str]]) -> str:
    """The first rule a row breaks (a rule whose condition is null does not fire, as coalesce(.., false))."""
    return "(CASE " + " ".join(f"WHEN {cond} THEN '{code}'" for cond, code in rules) + " END)"


def _keep_latest(source: str, keys: str, order: str) -> str:
    return (
        f"SELECT * EXCLUDE (_reason), CASE WHEN _reason IS NULL AND row_number() OVER "
        f"(PARTITION BY {keys} ORDER BY _reason ASC NULLS FIRST, {order}) > 1 THEN 'DUPLICATE_RECORD' "
        f"ELSE _reason END AS _reason FROM {source}"
    )


def linear_sql(model) -> str:
    """models/compile.py linear_expression as SQL: same groups, same order, same arithmetic."""
    groups: dict[tuple, list] = defaultdict(list)
    for term, coef in zip(model.terms, model.coef, strict=True):
        indicators = tuple((c, lvl) for c, lvl in term.factors if lvl is not None)
        numerics = tuple(c for c, lvl in term.factors if lvl is None)
        groups[(tuple(c for c, _ in indicators), numerics)].append(
            (tuple(lvl for _, lvl in indicators), float(coef))
        )
    expr = _q(float(model.intercept))
    for (ind_cols, num_cols), entries in groups.items():
        factor = None
        for col in num_cols:
            value = f'CAST("{col}" AS DOUBLE)'
            factor = value if factor is None else f"({factor} * {value})"
        if not ind_cols:
            for _, coef in entries:
                expr = f"({expr} + ({_q(coef)} * {factor}))"
            continue
        whens = []
        for levels, coef in entries:
            conds = []
            for col, lvl in zip(ind_cols, levels, strict=True):
                if isinstance(lvl, bool):
                    conds.append(f'"{col}"' if lvl else f'(NOT "{col}")')
                else:
                    conds.append(f'("{col}" = {_q(lvl.item() if hasattr(lvl, "item") else lvl)})')
            whens.append(f"WHEN {' AND '.join(conds)} THEN {_q(coef)}")
        case = f"(CASE {' '.join(whens)} ELSE {_q(0.0)} END)"
        expr = f"({expr} + {case if factor is None else f'({case} * {factor})'})"
    return expr


def months_between(later: str, earlier: str) -> str:
    """Spark's months_between for dates: whole months when the days match or both are month ends,
    else month difference + day difference / 31, rounded to 8 decimals."""
    month_diff = f"((year({later}) - year({earlier})) * 12 + month({later}) - month({earlier}))"
    whole = f"(day({later}) = day({earlier}) OR ({later} = last_day({later}) AND {earlier} = last_day({earlier})))"
    frac = f"round({month_diff} + (day({later}) - day({earlier})) * 86400 / (31.0 * 86400), 8)"
    return f"(CASE WHEN {whole} THEN CAST({month_diff} AS DOUBLE) ELSE {frac} END)"


# ------------------------------------------------------------------ the baseline


def load_model(tracking_uri: str, model_name: str, version: str | None):
    import mlflow

    from models.pmt import LinearPMT
    from models.pyfunc import unwrap

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    uri = f"models:/{model_name}/{version}" if version else f"models:/{model_name}@champion"
    wrapper = unwrap(uri)
    if wrapper is None or not isinstance(wrapper.estimator, LinearPMT):
        raise SystemExit(f"{uri}: not a linear PMT; the baseline scores linear models only")
    return uri, wrapper.estimator


def contract_check(con, landing: Path, q) -> None:
    """The baseline needs Parquet whose types already match the contract (no values to mark as unreadable)."""
    from jobs.core import contract

    names = {"StringType()": "VARCHAR", "IntegerType()": "INTEGER", "DateType()": "DATE",
             "TimestampType()": "TIMESTAMP", "DoubleType()": "DOUBLE"}
    for source in contract.SOURCES:
        have = {r[0]: r[1] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{landing / source}/*.parquet')").fetchall()}
        for col, dtype in contract.columns(source, q).items():
            want = names[repr(dtype)]
            if have.get(col) != want:
                raise SystemExit(f"{landing / source}: column {col} is {have.get(col)}, the baseline needs {want}")


def baseline(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb

    from jobs.core import questionnaire, regions
    from runtime.config import load_config

    t_setup = time.perf_counter()
    config = load_config("local")
    q = questionnaire.load(config)
    ref = regions.load(config)
    provinces = sorted(ref.provinces["province_code"])
    villages_csv = regions.reference_dir(config) / "villages.csv"
    coverage = args.coverage if args.coverage is not None else config.ranking.coverage_target
    uri, model = load_model(args.tracking_uri, args.model_name, args.model_version)
    score_sql = linear_sql(model)
    as_of = args.as_of
    landing = Path(args.landing).resolve()
    src = {s: f"read_parquet('{landing / s}/*.parquet')" for s in
           ("registry", "survey_households", "survey_members")}
    setup_seconds = time.perf_counter() - t_setup

    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("SET preserve_insertion_order = false")
    contract_check(con, landing, q)
    timings: dict[str, float] = {}

    def step(name: str, *sql: str) -> None:
        t0 = time.perf_counter()
        for statement in sql:
            con.execute(statement)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0

    t_all = time.perf_counter()
    step(
        "validate",
        f"CREATE TEMP TABLE villages AS SELECT DISTINCT replace(code, '.', '') AS village_code "
        f"FROM read_csv('{villages_csv}', header = true, all_varchar = true)",
        # registry (validation.registry)
        "CREATE TEMP TABLE reg_checked AS " + _keep_latest(
            "(SELECT r.*, " + _reason([
                ("nik_problem IS NOT NULL", "INVALID_NIK"),
                ("birth_date IS NULL", "MISSING_VALUE"),
                ("sex IS NULL", "MISSING_VALUE"),
                ("village_code IS NULL", "MISSING_VALUE"),
                ("sex NOT IN ('L', 'P')", "OUT_OF_RANGE"),
                ("_ref_village IS NULL", "UNKNOWN_VILLAGE"),
            ]) + " AS _reason FROM (SELECT r.*, v.village_code AS _ref_village, "
            f"{nik_problem('r.nik', provinces, as_of)} AS nik_problem FROM {src['registry']} r "
            "LEFT JOIN villages v ON r.village_code = v.village_code) r)",
            "nik", "updated_at DESC NULLS LAST"),
        # survey households (validation.households)
        "CREATE TEMP TABLE hh_checked AS " + _keep_latest(
            "(SELECT h.*, " + _reason([
                ("household_id IS NULL", "MISSING_VALUE"),
                ("village_code IS NULL", "MISSING_VALUE"),
                ("interview_start IS NULL", "MISSING_VALUE"),
                ("interview_end IS NULL", "MISSING_VALUE"),
                ("questionnaire_version IS NULL", "MISSING_VALUE"),
                ("_ref_village IS NULL", "UNKNOWN_VILLAGE"),
                (f"questionnaire_version NOT IN {_in_list(q.versions)}", "UNKNOWN_QUESTIONNAIRE_VERSION"),
                ("interview_end < interview_start", "BAD_INTERVIEW_TIME"),
                *_answers(q.household),
            ]) + " AS _reason FROM (SELECT h.*, v.village_code AS _ref_village FROM "
            f"{src['survey_households']} h LEFT JOIN villages v ON h.village_code = v.village_code) h)",
            "household_id", "interview_start DESC"),
        # survey members (validation.members): linked to their household's verdict
        "CREATE TEMP TABLE mem_checked AS " + _keep_latest(
            "(SELECT m.*, " + _reason([
                ("household_id IS NULL", "MISSING_VALUE"),
                ("member_no IS NULL", "MISSING_VALUE"),
                ("birth_date IS NULL", "MISSING_VALUE"),
                ("member_no < 1", "OUT_OF_RANGE"),
                *_answers(q.member),
                ("_hh IS NULL", "UNKNOWN_HOUSEHOLD"),
                ("_hh_reason IS NOT NULL", "HOUSEHOLD_REJECTED"),
                ("birth_date > interview_date", "BIRTH_IN_FUTURE"),
            ]) + " AS _reason FROM (SELECT m.*, h._hh, h._hh_reason, h.interview_date, "
            f"{nik_problem('m.nik', provinces, as_of)} AS nik_problem FROM {src['survey_members']} m "
            # one verdict per household_id: the accepted row if any, else the first rejection
            "LEFT JOIN (SELECT _hh, _v._hh_reason, _v.interview_date FROM (SELECT household_id AS _hh, "
            "arg_min({'_hh_reason': _reason, 'interview_date': CAST(interview_start AS DATE)}, "
            "{'bad': _reason IS NOT NULL, 'reason': _reason, 'start': interview_start}) AS _v "
            "FROM hh_checked WHERE household_id IS NOT NULL GROUP BY household_id)) h "
            "ON m.household_id = h._hh) m)",
            "household_id, member_no", "nik ASC NULLS LAST"),
    )
    # current rosters: accepted members of accepted households (ingest._nest + current_members)
    step(
        "match",
        "CREATE TEMP TABLE cur AS SELECT m.household_id, m.member_no, "
        "CASE WHEN m.nik_problem IS NULL THEN m.nik END AS nik_key, m.nik_problem, m.birth_date, m.sex, "
        "m.relationship, m.education, m.employment, m.disability, m.pregnant, h.interview_start, "
        "CAST(h.interview_start AS DATE) AS interview_date "
        "FROM mem_checked m JOIN hh_checked h ON m.household_id = h.household_id "
        "WHERE m._reason IS NULL AND h._reason IS NULL",
        # matching.match: most recent interview wins a NIK listed twice; then the registry verdict
        "CREATE TEMP TABLE matched AS "
        "SELECT c.* EXCLUDE (_listing, _r_nik, _r_birth, _r_sex, _r_death), CASE "
        "WHEN _listing > 1 THEN 'DUPLICATE' WHEN _r_nik IS NULL THEN 'NOT_FOUND' "
        "WHEN _r_death IS NOT NULL AND _r_death <= interview_date THEN 'DECEASED' "
        "WHEN concat_ws(', ', CASE WHEN birth_date <> _r_birth THEN 'birth_date' END, "
        "CASE WHEN sex <> _r_sex THEN 'sex' END) <> '' THEN 'MATCHED_WITH_DIFFERENCES' "
        "ELSE 'MATCHED' END AS match_status FROM (SELECT v.*, row_number() OVER (PARTITION BY nik_key "
        "ORDER BY interview_start DESC, household_id ASC, member_no ASC) AS _listing, r.nik AS _r_nik, "
        "r.birth_date AS _r_birth, r.sex AS _r_sex, r.death_date AS _r_death FROM cur v "
        "LEFT JOIN (SELECT nik, birth_date, sex, death_date FROM reg_checked WHERE _reason IS NULL) r "
        "ON v.nik_key = r.nik WHERE v.nik_key IS NOT NULL) c "
        "UNION ALL SELECT *, CASE WHEN nik_problem = 'NIK_MISSING' THEN 'MISSING_NIK' ELSE 'INVALID_NIK' END "
        "FROM cur WHERE nik_key IS NULL",
    )
    age = f"CAST(floor({months_between('interview_date', 'birth_date')} / 12) AS INTEGER)"
    step(
        "features",
        # households.features: counted members (not DUPLICATE, not DECEASED)
        "CREATE TEMP TABLE agg AS SELECT household_id, count(*) AS hh_size, "
        "sum(CASE WHEN _age < 5 THEN 1 ELSE 0 END) AS n_children_u5, "
        "sum(CASE WHEN _age < 6 THEN 1 ELSE 0 END) AS n_children_u6, "
        "sum(CASE WHEN _age BETWEEN 6 AND 18 THEN 1 ELSE 0 END) AS n_school_age, "
        "sum(CASE WHEN _age >= 60 THEN 1 ELSE 0 END) AS n_elderly, "
        "sum(CASE WHEN _age < 15 THEN 1 ELSE 0 END) AS _young, "
        "sum(CASE WHEN disability > 0 THEN 1 ELSE 0 END) AS n_disabled, "
        "sum(CASE WHEN disability = 2 THEN 1 ELSE 0 END) AS n_severe_disabled, "
        "sum(CASE WHEN pregnant = 1 THEN 1 ELSE 0 END) AS n_pregnant, "
        "sum(CASE WHEN employment >= 3 THEN 1 ELSE 0 END) AS _formal, "
        "arg_max({'female': CAST(sex = 'P' AS INTEGER), 'age': _age, 'education': education}, "
        "{'head': CAST(relationship = 1 AS INTEGER), 'age': _age, 'neg_member_no': -member_no}) AS _head "
        f"FROM (SELECT *, {age} AS _age FROM matched WHERE match_status NOT IN ('DUPLICATE', 'DECEASED')) "
        "GROUP BY household_id",
        "CREATE TEMP TABLE features AS SELECT h.*, substr(h.village_code, 1, 2) AS province_code, "
        "substr(h.village_code, 1, 4) AS regency_code, substr(h.village_code, 7, 1) = '1' AS is_urban, "
        "coalesce(a.hh_size, 0) AS hh_size, "
        + ", ".join(f"coalesce(a.{c}, 0) AS {c}" for c in (
            "n_children_u5", "n_children_u6", "n_school_age", "n_elderly", "_young", "n_disabled",
            "n_severe_disabled", "n_pregnant", "_formal"))
        + ", a._head FROM (SELECT * EXCLUDE (_reason, _ref_village) FROM hh_checked WHERE _reason IS NULL) h "
        "LEFT JOIN agg a ON h.household_id = a.household_id",
        "CREATE TEMP TABLE hh_features AS SELECT *, ln(CAST(greatest(hh_size, 1) AS DOUBLE)) AS log_hh_size, "
        "floor_area / greatest(hh_size, 1) AS floor_area_per_capita, "
        "ln(greatest(floor_area / greatest(hh_size, 1), 0.5)) AS log_floor_area_per_capita, "
        "(_young + n_elderly) / greatest(hh_size - _young - n_elderly, 1) AS dependency_ratio, "
        "n_children_u5 / greatest(hh_size, 1) AS share_children_u5, "
        "n_elderly / greatest(hh_size, 1) AS share_elderly, "
        "_formal / greatest(hh_size, 1) AS share_working_formal, "
        "CAST(coalesce(_head.female, 0) AS INTEGER) AS head_female, "
        "CAST(coalesce(_head.age, 0) AS INTEGER) AS head_age, "
        "CAST(coalesce(_head.education, 0) AS INTEGER) AS head_education, "
        "hh_size > 0 AS rankable FROM features",
    )
    population = con.execute(
        "SELECT count(*) FROM reg_checked WHERE _reason IS NULL AND death_date IS NULL").fetchone()[0]
    if config.ranking.official_population:
        population = config.ranking.official_population
    step(
        "score_rank",
        f"CREATE TEMP TABLE scored AS SELECT household_id, province_code, regency_code, hh_size, "
        f"CAST({score_sql} AS DOUBLE) AS welfare_score FROM hh_features WHERE rankable",
        f"CREATE TEMP TABLE ranked AS SELECT *, cum_persons / CAST({int(population)} AS DOUBLE) "
        "AS cum_population_share FROM (SELECT *, row_number() OVER w AS national_rank, "
        "sum(hh_size) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum_persons "
        "FROM scored WINDOW w AS (ORDER BY welfare_score ASC, household_id ASC))",
        "CREATE TEMP TABLE ranked_out AS SELECT *, CAST(least(greatest(ceil(cum_population_share * 10), 1), 10) "
        f"AS INTEGER) AS decile, cum_population_share <= {_q(float(coverage))} AS within_coverage FROM ranked",
    )
    out = Path(args.out).resolve() if args.out else None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        step("write", f"COPY ranked_out TO '{out}' (FORMAT parquet)")
    work_seconds = time.perf_counter() - t_all

    counts = {
        "registry_accepted": con.execute("SELECT count(*) FROM reg_checked WHERE _reason IS NULL").fetchone()[0],
        "households_accepted": con.execute("SELECT count(*) FROM hh_checked WHERE _reason IS NULL").fetchone()[0],
        "members_accepted": con.execute("SELECT count(*) FROM mem_checked WHERE _reason IS NULL").fetchone()[0],
        "ranked": con.execute("SELECT count(*) FROM ranked_out").fetchone()[0],
        "population": population,
    }
    result: dict[str, Any] = {
        "model_uri": uri,
        "as_of": as_of.isoformat(),
        "threads": args.threads,
        "setup_seconds": setup_seconds,
        "work_seconds": work_seconds,
        "step_seconds": timings,
        "counts": counts,
        "match_status": dict(con.execute("SELECT match_status, count(*) FROM matched GROUP BY 1").fetchall()),
    }
    if args.lakehouse:
        result["comparison"] = compare(con, Path(args.lakehouse).resolve())
    return result


def compare(con, lakehouse: Path) -> dict[str, Any]:
    """Our dtks_households (current Delta version, via deltalake) against the baseline: same households, same rank,
    decile and coverage flag, welfare_score within 1e-9."""
    from deltalake import DeltaTable

    ours = DeltaTable(str(lakehouse / "dtks_households")).to_pyarrow_table(columns=[
        "household_id", "welfare_score", "national_rank", "decile", "cum_population_share", "within_coverage",
        "model_version"])
    con.register("ours_delta", ours)
    con.execute("CREATE TEMP TABLE ours AS SELECT * FROM ours_delta")
    row = con.execute(
        "SELECT count(*) FILTER (WHERE d.household_id IS NULL) AS only_ours, "
        "count(*) FILTER (WHERE o.household_id IS NULL) AS only_duckdb, "
        "count(*) FILTER (WHERE o.national_rank <> d.national_rank) AS rank_mismatch, "
        "count(*) FILTER (WHERE o.decile <> d.decile) AS decile_mismatch, "
        "count(*) FILTER (WHERE o.within_coverage <> d.within_coverage) AS coverage_mismatch, "
        "count(*) FILTER (WHERE abs(o.welfare_score - d.welfare_score) > 1e-9) AS score_mismatch, "
        "max(abs(o.welfare_score - d.welfare_score)) AS max_score_diff, "
        "max(abs(o.cum_population_share - d.cum_population_share)) AS max_share_diff, "
        "count(o.household_id) AS ours, count(d.household_id) AS duckdb "
        "FROM ours o FULL OUTER JOIN ranked_out d ON o.household_id = d.household_id"
    ).fetchone()
    names = ["only_ours", "only_duckdb", "rank_mismatch", "decile_mismatch", "coverage_mismatch",
             "score_mismatch", "max_score_diff", "max_share_diff", "ours", "duckdb"]
    out = dict(zip(names, row, strict=True))
    out["mismatches"] = sum(out[k] for k in names[:6])
    out["model_versions"] = [r[0] for r in con.execute("SELECT DISTINCT model_version FROM ours").fetchall()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True, help="landing folder written by `dtks generate` (Parquet)")
    parser.add_argument("--lakehouse", help="our lakehouse: compare with its dtks_households")
    parser.add_argument("--tracking-uri", required=True, help="MLflow tracking/registry URI of the champion")
    parser.add_argument("--model-name", default="dtks_pmt")
    parser.add_argument("--model-version", help="default: alias champion")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date(),
                        help="date NIK birth dates are checked against (use the one ingest used)")
    parser.add_argument("--coverage", type=float, help="default: config ranking.coverage_target")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", help="write the ranked households here (Parquet)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    result = baseline(args)
    text = json.dumps(result, indent=2, default=str)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    cmp = result.get("comparison")
    if cmp is not None and cmp["mismatches"]:
        print(f"baseline differs from dtks_households: {cmp['mismatches']} mismatches", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
