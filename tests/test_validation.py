"""Ingest's row validation on literal rows (jobs/ingest/validation.py): each rule's reason code and detail.

The frames are what jobs/ingest/checking.py hands over: each source's contract columns in their contract types
(jobs/core/contract.py, as landing.read_source types them) and `_bad_columns` (the columns whose raw value was
unreadable), the appeals' `head_nik` renamed `nik`; `villages` is the region reference's village codes.
"""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from jobs.core import contract, questionnaire
from jobs.ingest import validation
from jobs.ingest.landing import BAD_COLUMNS, MALFORMED
from tests.conftest import make_config

AS_OF = dt.date(2026, 6, 30)
PROVINCES = ["11", "32"]
V_BDG, V_ACEH = "3273011001", "1101012001"  # the two villages of the reference
HEAD_NIK = "3273010403800001"  # issued in 327301, a man born 1980-03-04, serial 1: valid
WIFE_NIK = "3273014907840002"  # a woman born 1984-07-09 (day + 40): valid
ANSWERS = {
    "floor_area": 36.0, "floor_material": 4, "wall_material": 1, "roof_material": 2, "water_source": 3,
    "sanitation": 1, "lighting": 2, "cooking_fuel": 2, "tenure": 1, "refrigerator": 0, "motorcycle": 1, "car": 0,
    "air_conditioner": 0, "gold": 0, "land": 0, "livestock": 0, "computer": 0,
}
MEMBER = {"relationship": 1, "sex": "L", "education": 2, "employment": 1, "disability": 0, "chronic_illness": 0,
          "pregnant": 0, "in_school": 0}
START = dt.datetime(2026, 3, 1, 9, 0)
VERDICT = "_reason string, _detail string"


@pytest.fixture(scope="module")
def q(tmp_path_factory):
    """conf/questionnaire.yaml, loaded as ingest loads it."""
    return questionnaire.load(make_config(tmp_path_factory.mktemp("questionnaire")))


@pytest.fixture(scope="module")
def villages(spark):
    return spark.createDataFrame([(V_BDG,), (V_ACEH,)], "village_code string")


def _frame(spark, columns: dict, base: dict, rows: list[dict]):
    """Rows in the contract's columns and types plus `_bad_columns`: each row is `base` with its changes."""
    ddl = ", ".join(f"{name} {dtype.simpleString()}" for name, dtype in columns.items())
    names = [*columns, BAD_COLUMNS]
    return spark.createDataFrame([tuple((base | {BAD_COLUMNS: []} | r)[n] for n in names) for r in rows],
                                 f"{ddl}, {BAD_COLUMNS} array<string>")


def _households(spark, q, rows: list[dict]):
    base = {"household_id": "H", "village_code": V_BDG, "kk_number": None, "enumerator_id": "E1",
            "supervisor_id": "S1", "coordinator_id": "C1", "interview_start": START,
            "interview_end": START + dt.timedelta(minutes=45), "questionnaire_version": "VV2025.1"} | ANSWERS
    return _frame(spark, contract.columns(contract.SURVEY_HOUSEHOLDS, q), base, rows)


def _members(spark, q, rows: list[dict]):
    base = {"household_id": "HA", "member_no": 1, "nik": HEAD_NIK, "full_name": "Budi",
            "birth_date": dt.date(1980, 3, 4)} | MEMBER
    return _frame(spark, contract.columns(contract.SURVEY_MEMBERS, q), base, rows)


def _nik(serial: int) -> str:
    """A valid NIK (327301, a man born 1980-03-04) of its own serial."""
    return f"327301040380{serial:04d}"


def _registry(spark, q, rows: list[dict], changes: bool = False):
    base = {"nik": _nik(1), "kk_number": "3273010101200001", "full_name": "Budi", "birth_date": dt.date(1980, 3, 4),
            "sex": "L", "village_code": V_BDG, "relationship": 1, "death_date": None,
            "updated_at": dt.datetime(2026, 1, 1), "change": "MOVE", "previous_nik": None}
    source = contract.REGISTRY_CHANGES if changes else contract.REGISTRY
    return _frame(spark, contract.columns(source, q), base, rows)


def _appeals(spark, q, rows: list[dict]):
    base = {"appeal_id": "A", "appeal_type": "USUL", "filed_at": dt.datetime(2026, 6, 1, 10, 0),
            "village_code": V_BDG, "household_id": "HA", "nik": None, "filer_relation": "SELF",
            "reason_category": "INCLUSION", "has_photo": False, "has_gps": False}
    columns = {("nik" if c == "head_nik" else c): t for c, t in contract.columns(contract.APPEALS, q).items()}
    return _frame(spark, columns, base, rows)


def _expect(spark, keys: str, rows: list[tuple]):
    return spark.createDataFrame(rows, f"{keys}, {VERDICT}")


# ---------------------------------------------------------------- households


def test_households_one_row_per_reason_code(spark, q, villages):
    """households: a clean row passes; each rule gives its reason code and detail (bad values, missing values,
    unknown village naming its code, unknown questionnaire version, interview ending before it starts, missing
    answer, answers out of range or codes; the range's ends and a zero-length interview pass)."""
    late = START - dt.timedelta(minutes=1)
    cases = [
        ({"household_id": "OK"}, None, None),
        ({"household_id": "OK_V2", "questionnaire_version": "VV2025.2"}, None, None),
        ({"household_id": "OK_MIN", "floor_area": 4.0}, None, None),
        ({"household_id": "OK_MAX", "floor_area": 2000.0}, None, None),
        ({"household_id": "OK_ZERO", "interview_end": START}, None, None),
        ({"household_id": "MALFORMED", BAD_COLUMNS: [MALFORMED]}, "BAD_VALUE",
         "malformed CSV line: more or fewer fields than the header"),
        ({"household_id": "UNREADABLE", "floor_area": None, "car": None, BAD_COLUMNS: ["floor_area", "car"]},
         "BAD_VALUE", "unreadable value in floor_area, car"),
        ({"household_id": None}, "MISSING_VALUE", "household_id is missing"),
        ({"household_id": "NO_VILLAGE", "village_code": None}, "MISSING_VALUE", "village_code is missing"),
        ({"household_id": "NO_END", "interview_end": None}, "MISSING_VALUE", "interview_end is missing"),
        ({"household_id": "NO_VERSION", "questionnaire_version": None}, "MISSING_VALUE",
         "questionnaire_version is missing"),
        ({"household_id": "VILLAGE", "village_code": "9999999999"}, "UNKNOWN_VILLAGE",
         "village_code 9999999999 not in the region reference"),
        ({"household_id": "VERSION", "questionnaire_version": "VV2024.9"}, "UNKNOWN_QUESTIONNAIRE_VERSION",
         "questionnaire_version=VV2024.9"),
        ({"household_id": "TIME", "interview_end": late}, "BAD_INTERVIEW_TIME", "interview ends before it starts"),
        ({"household_id": "NO_ANSWER", "tenure": None}, "MISSING_VALUE", "tenure is missing"),
        ({"household_id": "SMALL", "floor_area": 3.5}, "OUT_OF_RANGE", "floor_area=3.5"),
        ({"household_id": "LARGE", "floor_area": 2000.5}, "OUT_OF_RANGE", "floor_area=2000.5"),
        ({"household_id": "CODE", "lighting": 5}, "OUT_OF_RANGE", "lighting=5"),
    ]
    got = validation.households(_households(spark, q, [c[0] for c in cases]), q, villages)
    assert_df_equality(got.select("household_id", "_reason", "_detail"),
                       _expect(spark, "household_id string", [(c[0]["household_id"], *c[1:]) for c in cases]),
                       ignore_row_order=True, ignore_nullable=True)


def test_households_first_broken_rule_wins_and_columns_pass_through(spark, q, villages):
    """households: a row breaking several rules gets the first one's code only; the input's columns come out
    unchanged, with `_reason` and `_detail` after them."""
    rows = [
        {"household_id": "A", "village_code": "9999999999", "questionnaire_version": "X", "lighting": 5},
        {"household_id": "B", "questionnaire_version": "X", "interview_end": START - dt.timedelta(hours=1)},
        {"household_id": "C", "interview_end": START - dt.timedelta(hours=1), "lighting": None, "car": 7},
        {"household_id": "D", "lighting": None, "car": 7},
    ]
    df = _households(spark, q, rows)
    got = validation.households(df, q, villages)
    assert got.columns == [*df.columns, "_reason", "_detail", "_primary"]
    assert_df_equality(got.select("household_id", "_reason", "_detail"), _expect(spark, "household_id string", [
        ("A", "UNKNOWN_VILLAGE", "village_code 9999999999 not in the region reference"),
        ("B", "UNKNOWN_QUESTIONNAIRE_VERSION", "questionnaire_version=X"),
        ("C", "BAD_INTERVIEW_TIME", "interview ends before it starts"),
        ("D", "MISSING_VALUE", "lighting is missing"),  # lighting comes before car in the questionnaire
    ]), ignore_row_order=True, ignore_nullable=True)


def test_households_duplicates_keep_the_latest_accepted_interview(spark, q, villages):
    """households: of the accepted rows sharing a household_id the latest interview is kept, the others become
    DUPLICATE_RECORD; an accepted row is kept over a later rejected one, and rejected rows keep their own code.
    `_primary` marks the row that speaks for its household_id: the kept row, else the first rejection by code,
    then the latest interview."""
    day = dt.timedelta(days=1)
    rows = [
        {"household_id": "TWICE", "interview_start": START, "interview_end": START + day / 24},
        {"household_id": "TWICE", "interview_start": START + 3 * day, "interview_end": START + 3 * day + day / 24},
        {"household_id": "THRICE", "interview_start": START, "interview_end": START + day / 24},
        {"household_id": "THRICE", "interview_start": START + 2 * day, "interview_end": START + 2 * day + day / 24},
        {"household_id": "THRICE", "interview_start": START + day, "interview_end": START + day + day / 24},
        {"household_id": "LATER_BAD", "interview_start": START, "interview_end": START + day / 24},
        {"household_id": "LATER_BAD", "interview_start": START + day, "interview_end": START + day + day / 24,
         "lighting": 5},
        {"household_id": "BOTH_BAD", "interview_start": START, "interview_end": START + day / 24, "lighting": 5},
        {"household_id": "BOTH_BAD", "interview_start": START + day, "interview_end": START + day + day / 24,
         "tenure": 9},
    ]
    got = validation.households(_households(spark, q, rows), q, villages)
    dup = ("DUPLICATE_RECORD", "key listed more than once; latest kept")
    assert_df_equality(
        got.select("household_id", "interview_start", "_reason", "_detail", "_primary"),
        spark.createDataFrame([
            ("TWICE", START, *dup, False), ("TWICE", START + 3 * day, None, None, True),
            ("THRICE", START, *dup, False), ("THRICE", START + day, *dup, False),
            ("THRICE", START + 2 * day, None, None, True),
            ("LATER_BAD", START, None, None, True), ("LATER_BAD", START + day, "OUT_OF_RANGE", "lighting=5", False),
            ("BOTH_BAD", START, "OUT_OF_RANGE", "lighting=5", False),
            ("BOTH_BAD", START + day, "OUT_OF_RANGE", "tenure=9", True),
        ], f"household_id string, interview_start timestamp, {VERDICT}, _primary boolean"),
        ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- members


def test_members_one_row_per_reason_code(spark, q):
    """members: a clean row passes with its household's interview date; a bad or missing NIK is a nik_problem,
    not a rejection; each rule gives its code and detail (bad value, missing values, member_no below 1, answers
    out of codes, unknown household, household rejected naming its code, birth after the interview; a birth on
    the interview day passes). A household's verdict is its row marked `_primary` (households() marks it)."""
    verdicts = spark.createDataFrame([
        ("HA", START, None, True, "3273011001"),
        # HX: its village is not in the reference, but its first digits still name a province.
        ("HX", dt.datetime(2026, 3, 3, 9, 0), "UNKNOWN_VILLAGE", True, "3299999999"),
        # HD: an accepted row and a rejected duplicate: the accepted one is the verdict.
        ("HD", dt.datetime(2026, 3, 2, 9, 0), "DUPLICATE_RECORD", False, "3273011001"),
        ("HD", dt.datetime(2026, 3, 4, 9, 0), None, True, "1101012001"),
        # HE: rejected twice: the first code (by name) is the verdict; its village names no province.
        ("HE", dt.datetime(2026, 3, 5, 9, 0), "OUT_OF_RANGE", False, "3273011001"),
        ("HE", dt.datetime(2026, 3, 6, 9, 0), "BAD_INTERVIEW_TIME", True, "9999999999"),
        (None, START, "MISSING_VALUE", True, "3273011001"),
    ], "household_id string, interview_start timestamp, _reason string, _primary boolean, village_code string")
    interview = dt.date(2026, 3, 1)
    cases = [
        ({"member_no": 1}, None, interview, None, None),
        ({"member_no": 2, "nik": "12345"}, "NIK_NOT_16_DIGITS", interview, None, None),
        ({"member_no": 3, "nik": None}, "NIK_MISSING", interview, None, None),
        ({"member_no": 4, "nik": WIFE_NIK, "sex": "P", "relationship": 3}, None, interview, None, None),
        ({"member_no": 5, "birth_date": dt.date(2026, 3, 1)}, None, interview, None, None),
        ({"member_no": 6, "birth_date": None, BAD_COLUMNS: ["birth_date"]}, None, interview, "BAD_VALUE",
         "unreadable value in birth_date"),
        ({"member_no": None}, None, interview, "MISSING_VALUE", "member_no is missing"),
        ({"member_no": 7, "birth_date": None}, None, interview, "MISSING_VALUE", "birth_date is missing"),
        ({"member_no": 0}, None, interview, "OUT_OF_RANGE", "member_no=0"),
        ({"member_no": 8, "education": None}, None, interview, "MISSING_VALUE", "education is missing"),
        ({"member_no": 9, "sex": "X"}, None, interview, "OUT_OF_RANGE", "sex=X"),
        ({"member_no": 10, "relationship": 12}, None, interview, "OUT_OF_RANGE", "relationship=12"),
        ({"member_no": 11, "birth_date": dt.date(2026, 3, 2)}, None, interview, "BIRTH_IN_FUTURE",
         "birth_date after the interview"),
        ({"household_id": "HZ"}, None, None, "UNKNOWN_HOUSEHOLD", "household_id not among the survey households"),
        ({"household_id": "HX"}, None, dt.date(2026, 3, 3), "HOUSEHOLD_REJECTED",
         "household quarantined: UNKNOWN_VILLAGE"),
        ({"household_id": "HE"}, None, dt.date(2026, 3, 6), "HOUSEHOLD_REJECTED",
         "household quarantined: BAD_INTERVIEW_TIME"),
        ({"household_id": "HD"}, None, dt.date(2026, 3, 4), None, None),
        ({"household_id": None}, None, None, "MISSING_VALUE", "household_id is missing"),
    ]
    df = _members(spark, q, [c[0] for c in cases])
    got = validation.members(df, q, verdicts, PROVINCES, AS_OF)
    assert got.columns == [*df.columns, "interview_date", "_province", "nik_problem", "_reason", "_detail"]
    expected = [(c[0].get("household_id", "HA"), c[0].get("member_no", 1), *c[1:]) for c in cases]
    assert_df_equality(
        got.select("household_id", "member_no", "nik_problem", "interview_date", "_reason", "_detail"),
        _expect(spark, "household_id string, member_no int, nik_problem string, interview_date date", expected),
        ignore_row_order=True, ignore_nullable=True)
    # A member is placed where its household's row says it is (null: no household row, or no province named).
    assert_df_equality(got.select("household_id", "_province").distinct(), spark.createDataFrame(
        [("HA", "32"), ("HX", "32"), ("HD", "11"), ("HE", None), ("HZ", None), (None, None)],
        "household_id string, _province string"), ignore_row_order=True, ignore_nullable=True)


def test_members_duplicates_keep_the_accepted_row_with_the_lowest_nik(spark, q):
    """members: of the accepted rows sharing (household_id, member_no) the one with the lowest NIK is kept (a
    missing NIK last); the others become DUPLICATE_RECORD; an accepted row is kept over a rejected one."""
    verdicts = spark.createDataFrame([("HA", START, None, True, "3273011001")],
                                     "household_id string, interview_start timestamp, _reason string, "
                                     "_primary boolean, village_code string")
    rows = [
        {"member_no": 1, "nik": WIFE_NIK}, {"member_no": 1, "nik": HEAD_NIK},
        {"member_no": 2, "nik": None}, {"member_no": 2, "nik": WIFE_NIK},
        {"member_no": 3, "nik": HEAD_NIK, "sex": "X"}, {"member_no": 3, "nik": WIFE_NIK},
    ]
    got = validation.members(_members(spark, q, rows), q, verdicts, PROVINCES, AS_OF)
    dup = ("DUPLICATE_RECORD", "key listed more than once; latest kept")
    assert_df_equality(got.select("member_no", "nik", "_reason", "_detail"),
                       _expect(spark, "member_no int, nik string", [
                           (1, WIFE_NIK, *dup), (1, HEAD_NIK, None, None),
                           (2, None, *dup), (2, WIFE_NIK, None, None),
                           (3, HEAD_NIK, "OUT_OF_RANGE", "sex=X"), (3, WIFE_NIK, None, None),
                       ]), ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- registry


def test_registry_one_row_per_reason_code(spark, q, villages):
    """registry: a clean row passes (a NIK issued in another province than the address too); each rule gives its
    code and detail (bad value, invalid NIK naming the NIK rule, missing values, sex out of codes, unknown
    village)."""
    cases = [
        ({"nik": _nik(1)}, None, None, None),
        ({"nik": "1101014505550001", "sex": "P"}, None, None, None),  # issued in Aceh, living in Bandung
        ({"nik": _nik(2), "updated_at": None, BAD_COLUMNS: ["updated_at"]}, None, "BAD_VALUE",
         "unreadable value in updated_at"),
        ({"nik": "12345"}, "NIK_NOT_16_DIGITS", "INVALID_NIK", "NIK_NOT_16_DIGITS"),
        ({"nik": "1111111111111111"}, "NIK_PLACEHOLDER", "INVALID_NIK", "NIK_PLACEHOLDER"),
        ({"nik": "9973010403800001"}, "NIK_UNKNOWN_PROVINCE", "INVALID_NIK", "NIK_UNKNOWN_PROVINCE"),
        ({"nik": None}, "NIK_MISSING", "INVALID_NIK", "NIK_MISSING"),
        ({"nik": _nik(3), "birth_date": None}, None, "MISSING_VALUE", "birth_date is missing"),
        ({"nik": _nik(4), "sex": None}, None, "MISSING_VALUE", "sex is missing"),
        ({"nik": _nik(5), "village_code": None}, None, "MISSING_VALUE", "village_code is missing"),
        ({"nik": _nik(6), "sex": "X"}, None, "OUT_OF_RANGE", "sex=X"),
        ({"nik": _nik(7), "village_code": "9999999999"}, None, "UNKNOWN_VILLAGE",
         "village_code not in the region reference"),
    ]
    df = _registry(spark, q, [c[0] for c in cases])
    got = validation.registry(df, PROVINCES, villages, AS_OF)
    assert got.columns == [*df.columns, "nik_problem", "_reason", "_detail"]
    assert_df_equality(got.select("nik", "nik_problem", "_reason", "_detail"),
                       _expect(spark, "nik string, nik_problem string", [(c[0]["nik"], *c[1:]) for c in cases]),
                       ignore_row_order=True, ignore_nullable=True)


def test_registry_duplicates_keep_the_latest_update(spark, q, villages):
    """registry: of the accepted rows of one NIK the latest `updated_at` is kept (a missing one last), the others
    become DUPLICATE_RECORD."""
    jan, feb = dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)
    rows = [{"nik": _nik(20), "updated_at": jan}, {"nik": _nik(20), "updated_at": feb},
            {"nik": _nik(21), "updated_at": None}, {"nik": _nik(21), "updated_at": jan}]
    got = validation.registry(_registry(spark, q, rows), PROVINCES, villages, AS_OF)
    dup = ("DUPLICATE_RECORD", "key listed more than once; latest kept")
    assert_df_equality(
        got.select("nik", "updated_at", "_reason", "_detail"),
        _expect(spark, "nik string, updated_at timestamp", [
            (_nik(20), jan, *dup), (_nik(20), feb, None, None), (_nik(21), None, *dup), (_nik(21), jan, None, None),
        ]), ignore_row_order=True, ignore_nullable=True)


def test_registry_changes_need_a_known_change_and_a_valid_previous_nik(spark, q, villages):
    """registry(changes=True): each event needs a known `change`; a NIK correction a valid `previous_nik` other
    than the NIK (checked only for corrections); the person's own NIK is checked first."""
    cases = [
        ({"nik": _nik(30)}, None, None),
        ({"nik": _nik(31), "change": None}, "MISSING_VALUE", "change is missing"),
        ({"nik": _nik(32), "change": "MARRIAGE"}, "BAD_VALUE", "change=MARRIAGE"),
        ({"nik": _nik(33), "change": "NIK_CORRECTION"}, "MISSING_VALUE", "previous_nik is missing"),
        ({"nik": _nik(34), "change": "NIK_CORRECTION", "previous_nik": "12345"}, "INVALID_NIK",
         "previous_nik: NIK_NOT_16_DIGITS"),
        ({"nik": _nik(35), "change": "NIK_CORRECTION", "previous_nik": _nik(35)}, "BAD_VALUE",
         "previous_nik equals nik"),
        ({"nik": _nik(36), "change": "NIK_CORRECTION", "previous_nik": _nik(136)}, None, None),
        ({"nik": _nik(37), "change": "MOVE", "previous_nik": "junk"}, None, None),
        ({"nik": "12345", "change": "MARRIAGE"}, "INVALID_NIK", "NIK_NOT_16_DIGITS"),
        ({"nik": _nik(38), "change": "DEATH", "sex": "X"}, "OUT_OF_RANGE", "sex=X"),
    ]
    df = _registry(spark, q, [c[0] for c in cases], changes=True)
    got = validation.registry(df, PROVINCES, villages, AS_OF, changes=True)
    assert_df_equality(got.select("nik", "_reason", "_detail"),
                       _expect(spark, "nik string", [(c[0]["nik"], *c[1:]) for c in cases]),
                       ignore_row_order=True, ignore_nullable=True)


# ---------------------------------------------------------------- appeals


def test_appeals_one_row_per_reason_code(spark, q, villages):
    """appeals: clean proposals (about a surveyed household; about the head's NIK only) and a clean objection pass;
    each rule gives its code and detail (bad value, missing value, codes outside the contract's lists, filed
    after the as-of date (its last day passes), unknown village, no subject, invalid head NIK, unknown household,
    another village than the household's, an objection not by a neighbour or without photo and GPS)."""
    known = spark.createDataFrame([("HA", V_BDG), ("HB", V_ACEH)], "household_id string, _hh_village string")
    objection = {"appeal_type": "SANGGAH", "filer_relation": "NEIGHBOUR", "reason_category": "EXCLUSION",
                 "has_photo": True, "has_gps": True}
    cases = [
        ({"appeal_id": "OK"}, None, None, None),
        ({"appeal_id": "OK_HEAD", "household_id": None, "nik": HEAD_NIK}, None, None, None),
        ({"appeal_id": "OK_BOTH", "nik": HEAD_NIK, "filer_relation": "VILLAGE_OFFICIAL"}, None, None, None),
        ({"appeal_id": "OK_OBJECTION"} | objection, None, None, None),
        ({"appeal_id": "OK_LAST_DAY", "filed_at": dt.datetime(2026, 6, 30, 23, 59)}, None, None, None),
        ({"appeal_id": "UNREADABLE", "filed_at": None, BAD_COLUMNS: ["filed_at"]}, None, "BAD_VALUE",
         "unreadable value in filed_at"),
        ({"appeal_id": None}, None, "MISSING_VALUE", "appeal_id is missing"),
        ({"appeal_id": "NO_GPS", "has_gps": None}, None, "MISSING_VALUE", "has_gps is missing"),
        ({"appeal_id": "TYPE", "appeal_type": "BANDING"}, None, "BAD_VALUE", "appeal_type=BANDING"),
        ({"appeal_id": "FILER", "filer_relation": "FRIEND"}, None, "BAD_VALUE", "filer_relation=FRIEND"),
        ({"appeal_id": "CATEGORY", "reason_category": "OTHER"}, None, "BAD_VALUE", "reason_category=OTHER"),
        ({"appeal_id": "FUTURE", "filed_at": dt.datetime(2026, 7, 1, 8, 0)}, None, "OUT_OF_RANGE",
         "filed_at after the as-of date: 2026-07-01 08:00:00"),
        ({"appeal_id": "VILLAGE", "village_code": "9999999999"}, None, "UNKNOWN_VILLAGE",
         "village_code 9999999999 not in the region reference"),
        ({"appeal_id": "NO_SUBJECT", "household_id": None}, None, "MISSING_SUBJECT",
         "neither household_id nor head_nik given"),
        ({"appeal_id": "BAD_NIK", "household_id": None, "nik": "12345"}, "NIK_NOT_16_DIGITS", "INVALID_NIK",
         "head_nik: NIK_NOT_16_DIGITS"),
        ({"appeal_id": "UNKNOWN_HH", "household_id": "HZ"}, None, "UNKNOWN_HOUSEHOLD",
         "household_id not among the survey households"),
        ({"appeal_id": "MISMATCH", "household_id": "HB"}, None, "VILLAGE_MISMATCH",
         "household is in village 1101012001"),
        ({"appeal_id": "NOT_NEIGHBOUR"} | objection | {"filer_relation": "SELF"}, None, "FILER_NOT_NEIGHBOUR",
         "objection filed by SELF"),
        ({"appeal_id": "NO_EVIDENCE"} | objection | {"has_gps": False}, None, "NO_EVIDENCE",
         "objection without photo and GPS"),
    ]
    df = _appeals(spark, q, [c[0] for c in cases])
    got = validation.appeals(df, PROVINCES, villages, known, AS_OF)
    assert got.columns == [*df.columns, "nik_problem", "_reason", "_detail"]
    assert_df_equality(got.select("appeal_id", "nik_problem", "_reason", "_detail"),
                       _expect(spark, "appeal_id string, nik_problem string",
                               [(c[0]["appeal_id"], *c[1:]) for c in cases]),
                       ignore_row_order=True, ignore_nullable=True)


def test_appeals_duplicates_keep_the_latest_filing(spark, q, villages):
    """appeals: of the accepted rows of one appeal_id the latest filing is kept, the others DUPLICATE_RECORD."""
    known = spark.createDataFrame([("HA", V_BDG)], "household_id string, _hh_village string")
    first, second = dt.datetime(2026, 6, 1, 10, 0), dt.datetime(2026, 6, 10, 10, 0)
    rows = [{"appeal_id": "A1", "filed_at": first}, {"appeal_id": "A1", "filed_at": second}]
    got = validation.appeals(_appeals(spark, q, rows), PROVINCES, villages, known, AS_OF)
    assert_df_equality(got.select("appeal_id", "filed_at", "_reason", "_detail"),
                       _expect(spark, "appeal_id string, filed_at timestamp", [
                           ("A1", first, "DUPLICATE_RECORD", "key listed more than once; latest kept"),
                           ("A1", second, None, None)]),
                       ignore_row_order=True, ignore_nullable=True)


def test_every_quarantine_code_has_its_words_once():
    """jobs/core/quarantine.py: LABELS gives each reason code (a name that is its own value) the words the report
    shows, and names no other."""
    from jobs.core import quarantine

    codes = {value for name, value in vars(quarantine).items() if name.isupper() and value == name}
    assert set(quarantine.LABELS) == codes and all(quarantine.LABELS.values())
