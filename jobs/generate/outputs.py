"""The landing tables as the generator writes them: the survey as reported (defects applied), the registry,
the consumption-module training sample, and the truth of households and defects.

Why: the views of the drawn households and persons that docs/CONTRACTS.md describes, in contract column order.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F  # noqa: N812

from jobs.generate.defects import ABSENT, CURBSTONING, DUPLICATE
from jobs.generate.draws import Draws, double
from jobs.generate.proxies import PROXIES
from jobs.generate.world import MISSING_KK_SHARE

MEMBER_COLUMNS = (
    "household_id", "member_no", "nik", "full_name", "birth_date", "sex", "relationship", "education",
    "employment", "disability", "chronic_illness", "pregnant", "in_school",
)
HOUSEHOLD_HEAD_COLUMNS = (
    "household_id", "village_code", "kk_number", "enumerator_id", "supervisor_id", "coordinator_id",
    "interview_start", "interview_end", "questionnaire_version",
)
REGISTRY_COLUMNS = (
    "nik", "kk_number", "full_name", "birth_date", "sex", "village_code", "relationship", "death_date",
    "updated_at",
)


def survey_households(hh: DataFrame, seed: int) -> DataFrame:
    """Listed households as reported, with household defects applied; keeps hh_idx and hh_defect."""
    r = Draws(seed)
    fake = r.index("fake_village", 1000, "hh_idx")
    fake_village = f"concat(district_code, '9', lpad(CAST({fake} AS STRING), 3, '0'))"
    minutes = "CASE WHEN hh_defect = 'short_interview' THEN short_minutes ELSE interview_minutes END"
    answers = []
    for name in PROXIES:
        template = f"tpl_{name}"
        if name == "floor_area":  # a curbstoner's copied answers: floor area within 2 %
            template = f"round(tpl_floor_area * (0.99D + 0.02D * {r.u('tpl_area', 'hh_idx')}), 1)"
        reported = f"CASE WHEN hh_defect = '{CURBSTONING}' THEN {template} ELSE {name} END"
        if name == "floor_area":
            reported = f"CASE WHEN hh_defect = 'negative_floor_area' THEN -floor_area ELSE {reported} END"
        answers.append(f"{reported} AS {name}")
    no_kk = f"{r.u('kk_missing', 'hh_idx')} < {double(MISSING_KK_SHARE)}"
    kk = f"CASE WHEN {no_kk} THEN CAST(NULL AS STRING) ELSE kk_number END"
    return hh.filter("listed").selectExpr(
        "hh_idx", "hh_defect", "roster_size", "dup_member_no", "village_code AS true_village_code", "household_id",
        f"CASE WHEN hh_defect = 'unknown_village' THEN {fake_village} ELSE village_code END AS village_code",
        f"{kk} AS kk_number", "enumerator_id", "supervisor_id", "coordinator_id",
        "timestamp_seconds(interview_start_s) AS interview_start",
        f"timestamp_seconds(interview_start_s + CAST(round(({minutes}) * 60) AS BIGINT)) AS interview_end",
        "questionnaire_version", *answers,
    )


def survey_members(people: DataFrame, survey_hh: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Roster rows as reported (with defects) and the duplicate listings' truth rows."""
    rows = people.filter("listed AND (NOT is_dead OR deceased_listed)").selectExpr(
        "household_id", "member_no", "reported_nik AS nik", "reported_name AS full_name",
        "reported_birth_date AS birth_date", "reported_sex AS sex", "relationship", "education", "employment",
        "disability", "chronic_illness", "pregnant", "in_school", "member_defect AS defect",
        f"CASE WHEN coalesce(member_defect, '') != '{ABSENT}' THEN nik END AS registry_nik",
    )
    # Duplicates: the source member also appears in the partner household (hh_idx xor 1, same village).
    source = people.filter("listed AND member_no = dup_member_no")
    partner = survey_hh.selectExpr(
        "hh_idx AS p_idx", "true_village_code AS p_village", "household_id AS p_household_id",
        "roster_size AS p_roster", "interview_start AS p_start")
    own = survey_hh.selectExpr("hh_idx AS o_idx", "interview_start AS o_start")
    pairs = (
        source.join(partner, (F.col("p_idx") == F.expr("hh_idx ^ 1")) & (F.col("p_village") == F.col("village_code")))
        .join(own, F.col("o_idx") == F.col("hh_idx"))
    )
    extra = pairs.selectExpr(
        "p_household_id AS household_id", "CAST(p_roster + 1 AS INT) AS member_no", "nik", "full_name",
        "birth_date", "sex", "9 AS relationship", "education", "employment", "disability", "chronic_illness",
        "pregnant", "in_school", "CAST(NULL AS STRING) AS defect", "nik AS registry_nik",
    )
    truth = pairs.selectExpr(  # the older listing is the one the pipeline must flag
        "'survey_members' AS source",
        "CASE WHEN o_start < p_start THEN household_id ELSE p_household_id END AS household_id",
        "CAST(CASE WHEN o_start < p_start THEN member_no ELSE p_roster + 1 END AS INT) AS member_no",
        f"'{DUPLICATE}' AS defect",
    )
    return rows.unionByName(extra), truth


def registry(people: DataFrame) -> DataFrame:
    """Everyone drawn, but the survey members the registry does not hold (`person_not_in_registry`)."""
    return people.where(f"coalesce(member_defect, '') != '{ABSENT}'").select(*REGISTRY_COLUMNS)


def training(hh: DataFrame, people: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The consumption-module sample: true answers, own ids ('T...'), weight = 1 / inclusion probability."""
    households_df = hh.filter("in_training").selectExpr(
        "training_id AS household_id", "village_code", "kk_number", "enumerator_id", "supervisor_id",
        "coordinator_id", "timestamp_seconds(training_start_s) AS interview_start",
        "timestamp_seconds(training_start_s + CAST(round(training_minutes * 60) AS BIGINT)) AS interview_end",
        "training_version AS questionnaire_version", *PROXIES, "consumption_per_capita",
        "1.0D / train_pi AS weight",
    )
    members = people.filter("in_training AND NOT is_dead").selectExpr(
        "training_id AS household_id", *MEMBER_COLUMNS[1:])
    return households_df, members


def truth_households(hh: DataFrame) -> DataFrame:
    return hh.filter("listed").select(
        "household_id", "consumption_per_capita", "log_consumption_per_capita", "oracle_log_consumption")


def truth_members(members: DataFrame) -> DataFrame:
    """Each survey member row's registry NIK (null for a person the registry does not hold): what linkage
    is measured against."""
    return members.select("household_id", "member_no", "registry_nik")


def truth_defects(survey_hh: DataFrame, members: DataFrame, duplicates: DataFrame) -> DataFrame:
    hh_rows = survey_hh.filter("hh_defect IS NOT NULL").selectExpr(
        "'survey_households' AS source", "household_id", "CAST(NULL AS INT) AS member_no", "hh_defect AS defect")
    member_rows = members.filter("defect IS NOT NULL").selectExpr(
        "'survey_members' AS source", "household_id", "member_no", "defect")
    return hh_rows.unionByName(member_rows).unionByName(duplicates)
