"""The defects injected into the survey, and where each is drawn: which household or roster row carries
which defect, and the reported values that carry it.

Why: `truth/defects` records exactly these, so the pipeline's quarantine and flags can be checked against a
known answer; the rates come from `generate.defects` in the config.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from jobs.core import nik
from jobs.generate.draws import Draws, add_columns, case, double, pick
from jobs.generate.names import reported_name
from jobs.generate.world import REFERENCE_DATE
from runtime.config import DefectRates, ReportingErrors

DEATH_SHARE = 0.009  # approximate share of survey-household persons who died (calibrates deceased_listed)
MEMBERS_PER_HOUSEHOLD = 3.9  # approximate living members per household (calibrates duplicate_person)

# A member the registry does not hold: never a head (a KK's head is registered) nor a training sample person.
ABSENT = "person_not_in_registry"
MEMBER_DEFECTS = (  # drawn per survey member row from disjoint intervals of one uniform
    "nik_missing", "nik_malformed", "nik_placeholder", "nik_not_in_registry", ABSENT,
    "birth_date_sex_mismatch", "future_birth_date",
)
DUPLICATE = "duplicate_person"  # recorded on the older of the two listings
DECEASED = "deceased_listed"
# A registered member without another defect whose birth date was written wrong (generate.reporting_errors):
# found by NIK with a different birth date.
BIRTH_MISREPORTED = "birth_date_misreported"
HOUSEHOLD_DEFECTS = ("unknown_village", "negative_floor_area", "short_interview")
CURBSTONING = "curbstoning"
DEFECTS = (*MEMBER_DEFECTS, BIRTH_MISREPORTED, DUPLICATE, DECEASED, *HOUSEHOLD_DEFECTS, CURBSTONING)


def household_defects(r: Draws, rates: DefectRates) -> dict[str, str]:
    """Household defects from disjoint intervals; a curbstoner's households get only `curbstoning`."""
    u = "u_hh_defect"
    pairs = [("curbstoner", f"'{CURBSTONING}'")]
    lo = 0.0
    for name in HOUSEHOLD_DEFECTS:
        hi = lo + getattr(rates, name)
        pairs.append((f"{u} >= {double(lo)} AND {u} < {double(hi)}", f"'{name}'"))
        lo = hi
    p_dead = min(1.0, rates.deceased_listed / DEATH_SHARE)
    return {
        "hh_defect": f"CASE WHEN listed THEN {case(pairs)} END",
        # Deceased listed: the household's dead member appears on the roster.
        "deceased_listed": f"listed AND dead_last AND {r.u('dlist', 'hh_idx')} < {double(p_dead)}",
    }


def member_defects(p: DataFrame, r: Draws, rates: DefectRates, errors: ReportingErrors) -> DataFrame:
    """Which survey member row gets which defect, and the reported values that carry it: NIK, sex, birth
    date and name as the enumerator wrote them (`reported_*`)."""
    k = ("hh_idx", "member_no")
    p = add_columns(p, {"u_member_defect": r.u("member_defect", *k), "u_value": r.u("defect_value", *k)})
    u = "u_member_defect"
    eligible = "listed AND NOT is_dead AND NOT coalesce(member_no = dup_member_no, false)"
    pairs = []
    lo = 0.0
    for name in MEMBER_DEFECTS:
        hi = lo + getattr(rates, name)
        only = " AND member_no > 1 AND NOT in_training" if name == ABSENT else ""
        pairs.append((f"{eligible}{only} AND {u} >= {double(lo)} AND {u} < {double(hi)}", f"'{name}'"))
        lo = hi
    pairs.append(("listed AND is_dead AND deceased_listed", f"'{DECEASED}'"))
    p = add_columns(p, {"member_defect": case(pairs)})
    malformed = case([("u_value < 1.0D / 3", "substr(nik, 1, 15)"),
                       ("u_value < 2.0D / 3", "concat(substr(nik, 1, 7), 'O', substr(nik, 9, 8))")],
                      "concat(nik, '0')")
    # One or two digits wrong, in the serial's leading two (always 0 in a registered NIK: serials are small),
    # the first 1-4 (update rounds give NIK corrections 5000 + serial and newborns 8000+): a well-formed NIK the
    # registry does not hold, now or after an update.
    first = f"CAST(1 + {r.index('digit1', 4, *k)} AS STRING)"
    second = f"CASE WHEN u_value < 0.5D THEN CAST(1 + {r.index('digit2', 7, *k)} AS STRING) ELSE substr(nik, 14, 1) END"
    wrong_digits = f"concat(substr(nik, 1, 12), {first}, {second}, substr(nik, 15, 2))"
    placeholders = tuple(sorted(nik.PLACEHOLDERS))
    flip = "(member_defect = 'birth_date_sex_mismatch' AND u_value < 0.5D AND pregnant = 0)"
    shift = f"(member_defect = 'birth_date_sex_mismatch' AND NOT {flip})"
    interview_date = "to_date(timestamp_seconds(interview_start_s))"
    # Birth dates written wrong, on registered members whose birth date carries no other defect; never after
    # the reference date (so never after an interview).
    registered = (f"{eligible} AND coalesce(member_defect NOT IN ('{ABSENT}', 'birth_date_sex_mismatch',"
                  f" 'future_birth_date'), true)")
    swapped = "CASE WHEN day(birth_date) <= 12 THEN make_date(year(birth_date), day(birth_date), month(birth_date)) END"
    reference = f"DATE'{REFERENCE_DATE.isoformat()}'"
    swap = (f"{registered} AND {r.u('bd_swap', *k)} < {double(errors.birth_day_month_swapped)}"
            f" AND day(birth_date) <= 12 AND day(birth_date) != month(birth_date) AND {swapped} <= {reference}")
    later = "add_months(_bd1, 12)"
    year_off = f"{registered} AND {r.u('bd_year', *k)} < {double(errors.birth_year_off_by_one)}"
    p = add_columns(p, {
        "reported_nik": case([
            ("member_defect = 'nik_missing'", "CAST(NULL AS STRING)"),
            ("member_defect = 'nik_malformed'", malformed),
            ("member_defect = 'nik_placeholder'", pick(placeholders, r.index("placeholder", len(placeholders), *k))),
            ("member_defect = 'nik_not_in_registry'", wrong_digits),
        ], "nik"),
        "_bd1": f"CASE WHEN {swap} THEN {swapped} ELSE birth_date END",
        "reported_sex": f"CASE WHEN {flip} THEN (CASE WHEN sex = 'L' THEN 'P' ELSE 'L' END) ELSE sex END",
        **reported_name(r, k, errors),
    })
    p = add_columns(p, {
        "reported_birth_date": case([
            (shift, f"date_sub(birth_date, 30 + {r.index('shift', 1000, *k)})"),
            ("member_defect = 'future_birth_date'", f"date_add({interview_date}, 30 + {r.index('future', 365, *k)})"),
            (year_off, f"CASE WHEN {later} > {reference} OR {r.u('bd_year_sign', *k)} < 0.5D"
                       f" THEN add_months(_bd1, -12) ELSE {later} END"),
        ], "_bd1"),
    })
    p = add_columns(p, {"member_defect": f"coalesce(member_defect, CASE WHEN listed AND reported_birth_date !="
                                         f" birth_date THEN '{BIRTH_MISREPORTED}' END)"})
    return p.drop("u_value", "u_member_defect", "_bd1", "_n1", "_n2", "_n3")
