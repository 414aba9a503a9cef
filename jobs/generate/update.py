"""The next round's delivery for an existing synthetic nation (pemutakhiran, BRIEF §10).

From a landing zone (a generated nation, or the nation after earlier updates) and a share, it draws:

- re-surveyed households (that share of the survey), interviewed a quarter later, whose answers move
  so that about half really get poorer and half richer; their rosters lose members who died, list
  corrected NIKs and gain newborns;
- new households (a fifth of that share): registry families not surveyed before, with drawn answers;
- registry events for that share of persons: births, deaths (some registered late, before the
  household's first interview, so unchanged rosters are affected too), moves between villages and
  provinces, and NIK corrections;
- the truth of each (`truth/updates`).

All draws are hashes of (seed, round, key), so the same inputs give the same delivery. `apply` writes
the nation after the update (the full inputs a full round would read), for comparisons and for the
next round.
"""

from __future__ import annotations

import datetime as dt
import json

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.core import contract, nik, questionnaire
from jobs.core.questionnaire import Questionnaire
from jobs.generate.delivery import write_landing
from jobs.generate.draws import Draws, add_columns, clamp, double
from jobs.generate.names import given_name
from jobs.generate.outputs import HOUSEHOLD_HEAD_COLUMNS, MEMBER_COLUMNS, REGISTRY_COLUMNS
from jobs.generate.proxies import ASSET_MODEL, ORDERED_CUTS, PROXIES, proxies, proxy_draws
from runtime.config import DtksConfig
from runtime.errors import UserError

ROUND_DAYS = 91
FIRST_UPDATE = dt.datetime(2026, 1, 5)  # round 1's re-interviews start here (UTC); round k a quarter later each
UPDATE_DAYS = 50
NEW_SHARE = 0.2  # new households, as a share of the re-surveyed ones
APPEAL_RESURVEY = 0.5  # share of the households (and unsurveyed families) named by an appeal surveyed next round
# Registry events per person, as shares of the update share (they add up to 1: about `share` of persons).
DEATH_SHARE, MOVE_SHARE, CORRECTION_SHARE, BIRTH_SHARE = 0.25, 0.45, 0.10, 0.20
MOTHERS = 0.27  # about this share of the registry are women of 18-45, the mothers a birth is drawn for
CHANGE_COLUMNS = ("change", "previous_nik", *REGISTRY_COLUMNS)
TRUTH_COLUMNS = ("kind", "id", "change", "detail")


def round_start(round_no: int) -> dt.datetime:
    return FIRST_UPDATE + dt.timedelta(days=ROUND_DAYS * (round_no - 1))


def read_landing(spark: SparkSession, root: str, fmt: str, q: Questionnaire, source: str) -> DataFrame:
    """A landing folder with the contract's types (a generated nation has no unreadable values)."""
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", True)
    df = reader.load(contract.source_path(root, source))
    return df.select(*[F.col(c).cast(t).alias(c) for c, t in contract.columns(source, q).items()])


def _ts(d: dt.datetime) -> int:
    return int(d.replace(tzinfo=dt.UTC).timestamp())


def _interview(r: Draws, key: str, start_s: int) -> dict[str, str]:
    day = r.index("u_day", UPDATE_DAYS, key)
    return {"interview_start": f"timestamp_seconds({start_s}L + {day} * 86400 + 28800 + "
                               f"{r.index('u_minute', 9 * 3600, key)})"}


def registry_events(registry: DataFrame, villages: list[str], r: Draws, share: float, start: dt.datetime) -> DataFrame:
    """Deaths, moves, NIK corrections and births for about `share` of the living registry."""
    s0 = start.date()
    living = registry.where("death_date IS NULL")
    u = r.u("event", "nik")
    cut = [share * x for x in (DEATH_SHARE, DEATH_SHARE + MOVE_SHARE, DEATH_SHARE + MOVE_SHARE + CORRECTION_SHARE)]
    updated = f"timestamp_seconds({_ts(start) - 3 * 86400}L + {r.index('u_updated', 2 * 86400, 'nik')})"
    events = add_columns(living, {"_u": u, "_to": r.index("u_move", len(villages), "nik"),
                           "_back": r.index("u_death", 235, "nik")})
    events = events.where(f"_u < {double(cut[2])}")
    serial = "CAST(substr(nik, 13, 4) AS INT)"
    village_list = "array(" + ", ".join(f"'{v}'" for v in villages) + ")"
    events = add_columns(events, {
        "change": f"CASE WHEN _u < {double(cut[0])} THEN '{contract.DEATH}'"
                  f" WHEN _u < {double(cut[1])} THEN '{contract.MOVE}'"
                  f" ELSE '{contract.NIK_CORRECTION}' END",
    })
    events = events.where(f"change <> '{contract.NIK_CORRECTION}' OR {serial} < 4000")
    events = add_columns(events, {
        "previous_nik": f"CASE WHEN change = '{contract.NIK_CORRECTION}' THEN nik END",
        "nik": f"CASE WHEN change = '{contract.NIK_CORRECTION}' THEN concat(substr(nik, 1, 12),"
               f" CAST(5000 + {serial} AS STRING)) ELSE nik END",
        "village_code": f"CASE WHEN change = '{contract.MOVE}' THEN element_at({village_list}, _to + 1)"
                        " ELSE village_code END",
        # Some deaths are registered late: before the household's first interview, so its roster changes.
        "death_date": f"CASE WHEN change = '{contract.DEATH}' THEN greatest(date_add(birth_date, 1),"
                      f" date_sub(DATE'{s0.isoformat()}', 5 + _back)) END",
        "updated_at": updated,
    })
    age = f"floor(months_between(DATE'{s0.isoformat()}', birth_date) / 12)"
    mothers = living.where(f"sex = 'P' AND {age} BETWEEN 18 AND 45")
    mothers = mothers.where(f"{r.u('birth', 'nik')} < {double(min(1.0, share * BIRTH_SHARE / MOTHERS))}")
    babies = add_columns(mothers, {
        "previous_nik": "CAST(NULL AS STRING)",
        "mother_nik": "nik",
        "birth_date": f"date_sub(DATE'{s0.isoformat()}', 5 + {r.index('u_born', 85, 'nik')})",
        "sex": f"CASE WHEN {r.u('u_sex', 'nik')} < 0.5D THEN 'P' ELSE 'L' END",
        "relationship": "4",
        "death_date": "CAST(NULL AS DATE)",
        "updated_at": updated,
        "change": f"'{contract.BIRTH}'",
    })
    babies = add_columns(babies, {
        "full_name": f"concat_ws(' ', {given_name(r, 'mother_nik')}, element_at(split(full_name, ' '), -1))",
        "_district": "substr(village_code, 1, 6)",
    })
    order = Window.partitionBy("_district", "birth_date", "sex").orderBy("mother_nik")
    babies = babies.withColumn("_serial", 8000 + F.row_number().over(order))
    babies = babies.withColumn("nik", nik.make_nik(F.col("_district"), F.col("birth_date"), F.col("sex"),
                                                   F.col("_serial")))
    return (events.select(*CHANGE_COLUMNS, F.lit(None).cast("string").alias("mother_nik"))
            .unionByName(babies.select(*CHANGE_COLUMNS, "mother_nik")))


def _ordered_codes(q: Questionnaire) -> dict[str, int]:
    """Housing answers coded from best (1) to worst: the highest code of each."""
    out = {}
    for var in q.household:
        if var.name in ORDERED_CUTS and var.codes:
            out[var.name] = max(int(c) for c in var.codes)
    return out


def resurveyed(hh: DataFrame, r: Draws, share: float, start: dt.datetime, q: Questionnaire,
               appealed: DataFrame | None = None) -> DataFrame:
    """That share of the survey households, a quarter later, about half of them poorer and half richer; and
    half the households an appeal names (`appealed`: household_id), as the field works the queue."""
    key = "household_id"
    drawn = f"{r.u('resurvey', key)} < {double(share)}"
    if appealed is not None:
        hh = hh.join(appealed.select("household_id", F.lit(True).alias("_appealed")).distinct(), key, "left")
        drawn = f"({drawn}) OR (_appealed AND {r.u('resurvey_appeal', key)} < {double(APPEAL_RESURVEY)})"
    chosen = add_columns(hh.where(drawn), {
        "_richer": f"{r.u('direction', key)} >= 0.5D",
        "_minutes": "unix_timestamp(interview_end) - unix_timestamp(interview_start)",
        **_interview(r, key, _ts(start)),
    })
    moves = {}
    for name in ASSET_MODEL:
        hit = f"{r.u('asset_' + name, key)} < 0.35D"
        moves[name] = f"CASE WHEN {hit} THEN CASE WHEN _richer THEN 1 ELSE 0 END ELSE {name} END"
    for name, worst in _ordered_codes(q).items():
        hit = f"{r.u('house_' + name, key)} < 0.3D"
        moves[name] = (f"CASE WHEN {hit} THEN CASE WHEN _richer THEN greatest({name} - 1, 1)"
                       f" ELSE least({name} + 1, {worst}) END ELSE {name} END")
    moves["floor_area"] = "round(floor_area * CASE WHEN _richer THEN 1.1D ELSE 0.95D END, 1)"
    moves["interview_end"] = "timestamp_seconds(unix_timestamp(interview_start) + _minutes)"
    moves["questionnaire_version"] = f"'{q.versions[-1]}'"
    return add_columns(chosen, moves)


def new_households(registry: DataFrame, hh: DataFrame, members: DataFrame, r: Draws, share: float,
                   start: dt.datetime, version: str, proposed: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """Registry families not surveyed before, with a field team from their village and drawn answers; and
    half the families a proposal names by their head's NIK (`proposed`: nik)."""
    living = registry.where("death_date IS NULL")
    listed = members.where("nik IS NOT NULL").select("nik")
    families = living.join(listed, "nik", "left_anti").select("kk_number").distinct()
    # Whole families only: none of their members listed in any survey household.
    families = families.join(living.join(listed, "nik").select("kk_number"), "kk_number", "left_anti")
    n_survey = hh.count()
    candidates = families.count()
    p = min(1.0, NEW_SHARE * share * n_survey / max(candidates, 1))
    chosen = families.where(f"{r.u('new', 'kk_number')} < {double(p)}")
    if proposed is not None:
        named = living.join(proposed, "nik", "left_semi").select("kk_number").join(families, "kk_number", "left_semi")
        chosen = chosen.unionByName(named.where(f"{r.u('new_appeal', 'kk_number')} < {double(APPEAL_RESURVEY)}"))
        chosen = chosen.distinct()
    people = living.join(chosen, "kk_number")
    head = Window.partitionBy("kk_number").orderBy("relationship", "birth_date", "nik")
    people = people.withColumn("member_no", F.row_number().over(head))
    heads = people.where("member_no = 1").select("kk_number", "village_code")
    teams = hh.groupBy("village_code").agg(
        F.min_by(F.struct("enumerator_id", "supervisor_id", "coordinator_id"), "household_id").alias("_team"))
    s0 = start.date().isoformat()
    base = heads.join(teams, "village_code").join(
        people.groupBy("kk_number").agg(F.count(F.lit(1)).alias("_size")), "kk_number")
    base = add_columns(base, {
        "household_id": f"concat('HN', sha2(concat('{r.seed}', kk_number), 256))",
        "is_urban": "substr(village_code, 7, 1) = '1'",
        "_wealth": f"-0.3D + {r.normal('new_wealth', 'kk_number')}",
    })
    base = base.withColumn("household_id", F.substring("household_id", 1, 14))
    base = add_columns(base, {**proxy_draws(r, ["household_id"], "d_"), **_interview(r, "household_id", _ts(start))})
    base = add_columns(base, proxies("d_", "_wealth", "is_urban", "_size"))
    base = add_columns(base, {
        "enumerator_id": "_team.enumerator_id", "supervisor_id": "_team.supervisor_id",
        "coordinator_id": "_team.coordinator_id", "questionnaire_version": f"'{version}'",
        "interview_end": f"timestamp_seconds(unix_timestamp(interview_start) + 1800 + "
                         f"{r.index('new_minutes', 3600, 'household_id')})",
    })
    age = f"floor(months_between(DATE'{s0}', birth_date) / 12)"
    k = ("household_id", "member_no")
    roster = people.join(base.select("kk_number", "household_id", "_wealth"), "kk_number")
    roster = add_columns(roster, {"_age": age, "_u": r.u("new_member", *k)})
    roster = add_columns(roster, {
        "in_school": "CAST(_age BETWEEN 7 AND 18 AND _u < 0.9D AS INT)",
        "education": "CAST(CASE WHEN _age < 7 THEN 0 WHEN _age <= 12 THEN 1 WHEN _age <= 15 THEN 2 ELSE "
                     + clamp(f"round(1.6D + 0.6D * _wealth + {r.normal('new_edu', *k)})", 0, 4) + " END AS INT)",
        "employment": f"CAST(CASE WHEN _age >= 15 AND _age < 65 AND {r.u('new_work', *k)} < 0.65D THEN"
                      f" 1 + {r.index('new_sector', 4, *k)} ELSE 0 END AS INT)",
        "disability": f"CASE WHEN {r.u('new_dis', *k)} < 0.03D THEN 1 ELSE 0 END",
        "chronic_illness": f"CAST({r.u('new_chronic', *k)} < 0.05D AS INT)",
        "pregnant": f"CAST(sex = 'P' AND _age BETWEEN 15 AND 45 AND {r.u('new_preg', *k)} < 0.05D AS INT)",
    })
    return base.select(*HOUSEHOLD_HEAD_COLUMNS, *PROXIES), roster.select(*MEMBER_COLUMNS)


def build(spark: SparkSession, root: str, fmt: str, q: Questionnaire, share: float, seed: int, round_no: int,
          registry_form: str) -> tuple[dict[str, DataFrame], dict[str, list[str]]]:
    """The update delivery's folders (and `truth/updates`) as DataFrames, with their sort keys."""
    start = round_start(round_no)
    r = Draws(seed * 1000 + round_no)
    registry = read_landing(spark, root, fmt, q, contract.REGISTRY)
    hh = read_landing(spark, root, fmt, q, contract.SURVEY_HOUSEHOLDS)
    members = read_landing(spark, root, fmt, q, contract.SURVEY_MEMBERS)
    # The registry's populated villages: bounded by the region reference (83,762), not by the nation.
    villages = sorted(row[0] for row in registry.select("village_code").distinct().collect())
    events = registry_events(registry, villages, r, share, start)
    appeals = (read_landing(spark, root, fmt, q, contract.APPEALS)
               if contract.path_exists(spark, contract.source_path(root, contract.APPEALS)) else None)
    again = resurveyed(hh, r, share, start, q, None if appeals is None else appeals.where("household_id IS NOT NULL"))
    # Re-surveyed rosters: the dead are no longer listed, corrected NIKs are, and so are newborns.
    roster = members.join(again.select("household_id"), "household_id", "left_semi")
    dead = registry.where("death_date IS NOT NULL").select("nik").unionByName(
        events.where(f"change = '{contract.DEATH}'").select("nik"))
    roster = roster.join(dead, "nik", "left_anti")
    fixes = events.where(f"change = '{contract.NIK_CORRECTION}'").select(
        F.col("previous_nik").alias("nik"), F.col("nik").alias("_new_nik"))
    roster = roster.join(fixes, "nik", "left").withColumn("nik", F.coalesce("_new_nik", "nik")).drop("_new_nik")
    births = events.where(f"change = '{contract.BIRTH}'")
    newborn = births.join(roster.select(F.col("nik").alias("mother_nik"), "household_id"), "mother_nik")
    last = roster.groupBy("household_id").agg(F.max("member_no").alias("_last"))
    order = Window.partitionBy("household_id").orderBy("nik")
    newborn = newborn.join(last, "household_id").select(
        "household_id", (F.col("_last") + F.row_number().over(order)).cast("int").alias("member_no"), "nik",
        "full_name", "birth_date", "sex", F.lit(4).alias("relationship"), *[F.lit(0).alias(c) for c in (
            "education", "employment", "disability", "chronic_illness", "pregnant", "in_school")])
    roster = roster.select(*MEMBER_COLUMNS).unionByName(newborn.select(*MEMBER_COLUMNS))
    fresh_hh, fresh_members = new_households(
        registry, hh, members, r, share, start, q.versions[-1],
        None if appeals is None else appeals.where("head_nik IS NOT NULL").select(F.col("head_nik").alias("nik")))
    survey_hh = again.select(*HOUSEHOLD_HEAD_COLUMNS, *PROXIES).unionByName(fresh_hh)
    survey_members = roster.unionByName(fresh_members)
    truth = again.select(F.lit("household").alias("kind"), F.col("household_id").alias("id"),
                         F.when(F.col("_richer"), "RICHER").otherwise("POORER").alias("change"),
                         F.lit(None).cast("string").alias("detail"))
    truth = truth.unionByName(fresh_hh.select(F.lit("household").alias("kind"), F.col("household_id").alias("id"),
                                              F.lit("NEW").alias("change"), F.lit(None).cast("string").alias("detail")))
    truth = truth.unionByName(events.select(F.lit("person").alias("kind"), F.col("nik").alias("id"), "change",
                                            F.col("previous_nik").alias("detail")))
    frames = {contract.SURVEY_HOUSEHOLDS: survey_hh, contract.SURVEY_MEMBERS: survey_members, "truth/updates": truth}
    keys = {contract.SURVEY_HOUSEHOLDS: ["household_id"], contract.SURVEY_MEMBERS: ["household_id", "member_no"],
            "truth/updates": ["kind", "id"]}
    if registry_form == "full":
        frames[contract.REGISTRY] = updated_registry(registry, events)
        keys[contract.REGISTRY] = ["nik"]
    else:
        frames[contract.REGISTRY_CHANGES] = events.select(*CHANGE_COLUMNS)
        keys[contract.REGISTRY_CHANGES] = ["nik"]
    return frames, keys


def updated_registry(registry: DataFrame, events: DataFrame) -> DataFrame:
    """The whole registry after the events: each event's record replaces the person's (a correction also
    removes the record under the previous NIK)."""
    gone = events.select("nik").unionByName(events.where("previous_nik IS NOT NULL").select(
        F.col("previous_nik").alias("nik")))
    return registry.join(gone, "nik", "left_anti").unionByName(events.select(*REGISTRY_COLUMNS))


def apply(spark: SparkSession, root: str, update: str, fmt: str, q: Questionnaire) -> dict[str, DataFrame]:
    """The nation after an update: the inputs a full round on the updated data reads."""
    frames = {}
    registry = read_landing(spark, root, fmt, q, contract.REGISTRY)
    if contract.path_exists(spark, contract.source_path(update, contract.REGISTRY)):
        frames[contract.REGISTRY] = read_landing(spark, update, fmt, q, contract.REGISTRY)
    else:
        frames[contract.REGISTRY] = updated_registry(
            registry, read_landing(spark, update, fmt, q, contract.REGISTRY_CHANGES))
    new_hh = read_landing(spark, update, fmt, q, contract.SURVEY_HOUSEHOLDS)
    ids = new_hh.select("household_id")
    for source, fresh in ((contract.SURVEY_HOUSEHOLDS, new_hh),
                          (contract.SURVEY_MEMBERS, read_landing(spark, update, fmt, q, contract.SURVEY_MEMBERS))):
        old = read_landing(spark, root, fmt, q, source)
        frames[source] = old.join(ids, "household_id", "left_anti").unionByName(fresh)
    for source in contract.TRAINING:
        frames[source] = read_landing(spark, root, fmt, q, source)
    if contract.path_exists(spark, contract.source_path(root, contract.APPEALS)):
        frames[contract.APPEALS] = read_landing(spark, root, fmt, q, contract.APPEALS)
    return frames


def deliver(spark: SparkSession, config: DtksConfig, base: str, out: str, registry_form: str, merged: str | None,
            run_id: str) -> dict:
    """Write the next round's delivery for the nation in `base` into `out` (in the nation's format, from its
    seed) and, with `merged`, the nation after it there; the delivery's manifest."""
    try:
        previous = json.loads(open(f"{base}/manifest.json").read())
    except OSError as exc:
        raise UserError(f"--update-of {base}: no manifest.json of a generated nation there") from exc
    if out.rstrip("/") == base.rstrip("/"):
        raise UserError(f"--update-of {base}: give --out, a folder for the update's delivery other than "
                        "the nation's own")
    fmt = previous["parameters"].get("format", config.landing.format)
    seed = previous["seed"]
    round_no = int(previous.get("round", 0)) + 1
    share = config.generate.update_share
    q = questionnaire.load(config)
    frames, keys = build(spark, base, fmt, q, share, seed, round_no, registry_form)
    files = previous["parameters"].get("files_per_folder", 2)
    parameters = {"update_of": base, "share": share, "registry_form": registry_form,
                  "format": fmt, "seed": seed, "files_per_folder": max(1, files // 4)}

    def describe(row_counts: dict[str, int], observed: dict) -> dict:
        return {"generator": "dtks generate --update-of", "seed": seed, "round": round_no, "parameters": parameters,
                "row_counts": row_counts, "changes": {k: int(v) for k, v in observed["truth/updates"].get.items()
                                                      if k != "rows"}}

    manifest = write_landing(spark, frames, keys, parameters["files_per_folder"], out, fmt, run_id, describe)
    if merged:
        after = apply(spark, base, out, fmt, q)
        after_keys = {s: ["nik"] if s == "registry" else ["appeal_id", "filed_at"] if s == contract.APPEALS
                      else ["household_id"] + (["member_no"] if "members" in s else []) for s in after}
        full = {"generator": "dtks generate --update-of --merged", "seed": seed, "round": round_no,
                "parameters": previous["parameters"] | {"merged_from": [base, out]}}
        write_landing(spark, after, after_keys, files, merged, fmt, run_id,
                      lambda counts, _: full | {"row_counts": counts})
    return manifest
