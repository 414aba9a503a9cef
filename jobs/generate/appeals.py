"""Synthetic appeals (usul, sanggah) filed in the two weeks after the survey, when the draft list is posted,
with their truth (`truth/appeals`: the defect each row carries and the reason code ingest must give it).

- about `appeal_share` x survey households appeals in all: four fifths about surveyed households (half
  objections by a neighbour with photo and GPS, half proposals by the household itself), one fifth
  proposals naming the NIK of the head of a registry family nobody surveyed;
- `appeal_invalid` of them carry one defect each, from disjoint intervals of one uniform draw; a
  `duplicate` is a second row with the same appeal id, filed a day earlier (the later one is kept).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.core import quarantine
from jobs.core.contract import APPEALS, SANGGAH, USUL, columns
from jobs.generate.draws import Draws, add_columns, double

FILING_START = dt.datetime(2025, 10, 1)  # the survey ends 2025-09-30 (world.SURVEY_START + SURVEY_DAYS)
FILING_DAYS = 14
# defect -> (what the row gets, the reason code ingest gives it)
DEFECTS = {
    "missing_subject": ({"household_id": "CAST(NULL AS STRING)", "head_nik": "CAST(NULL AS STRING)"},
                        quarantine.MISSING_SUBJECT),
    "unknown_village": ({"village_code": "'9999999999'"}, quarantine.UNKNOWN_VILLAGE),
    "bad_type": ({"appeal_type": "'KELUHAN'"}, quarantine.BAD_VALUE),
    "no_evidence": ({"appeal_type": f"'{SANGGAH}'", "filer_relation": "'NEIGHBOUR'", "has_photo": "false"},
                    quarantine.NO_EVIDENCE),
    "not_neighbour": ({"appeal_type": f"'{SANGGAH}'", "filer_relation": "'SELF'", "has_photo": "true",
                       "has_gps": "true"}, quarantine.FILER_NOT_NEIGHBOUR),
    "invalid_nik": ({"household_id": "CAST(NULL AS STRING)", "head_nik": "'12345'"}, quarantine.INVALID_NIK),
    "unknown_household": ({"household_id": "concat('HX', substr(appeal_id, 3))", "head_nik": "CAST(NULL AS STRING)"},
                          quarantine.UNKNOWN_HOUSEHOLD),
    "duplicate": ({}, quarantine.DUPLICATE_RECORD),
}


def appeals(survey_hh: DataFrame, people: DataFrame, r: Draws, share: float,
            invalid: float) -> tuple[DataFrame, DataFrame]:
    """(appeals, truth/appeals). `r`: the nation's Draws; `survey_hh` with hh_defect, `people` with listed."""
    filed = (f"timestamp_seconds({int(FILING_START.replace(tzinfo=dt.UTC).timestamp())}L + "
             f"{r.index('appeal_day', FILING_DAYS, 'appeal_id')} * 86400 + 32400 + "
             f"{r.index('appeal_second', 28800, 'appeal_id')})")
    about = survey_hh.where(f"hh_defect IS NULL AND {r.u('appeal', 'household_id')} < {double(share * 0.8)}")
    about = add_columns(about.select("household_id", "village_code"), {
        "appeal_id": f"concat('AP', substr(sha2(concat('{r.seed}', household_id), 256), 1, 12))",
        "head_nik": "CAST(NULL AS STRING)",
        "_objection": f"{r.u('appeal_kind', 'household_id')} < 0.5D",
    })
    unlisted = people.where("NOT listed AND relationship = 1 AND NOT is_dead")
    n_unlisted = max(unlisted.count(), 1)
    n_survey = survey_hh.count()
    p = min(1.0, share * 0.2 * n_survey / n_unlisted)
    drawn = unlisted.where(f"{r.u('appeal_family', 'nik')} < {double(p)}")
    missing = add_columns(drawn.select("nik", "village_code"), {
        "appeal_id": f"concat('AP', substr(sha2(concat('{r.seed}', nik), 256), 1, 12))",
        "household_id": "CAST(NULL AS STRING)",
        "head_nik": "nik",
        "_objection": "false",
    }).drop("nik")
    rows = add_columns(about.unionByName(missing), {
        "appeal_type": f"CASE WHEN _objection THEN '{SANGGAH}' ELSE '{USUL}' END",
        "filed_at": filed,
        "filer_relation": "CASE WHEN _objection THEN 'NEIGHBOUR' WHEN household_id IS NULL AND "
                          f"{r.u('appeal_filer', 'appeal_id')} < 0.3D THEN 'VILLAGE_OFFICIAL' ELSE 'SELF' END",
        "reason_category": "CASE WHEN _objection THEN 'INCLUSION' WHEN "
                           f"{r.u('appeal_category', 'appeal_id')} < 0.2D THEN 'DATA_ERROR' ELSE 'EXCLUSION' END",
        "has_photo": f"_objection OR {r.u('appeal_photo', 'appeal_id')} < 0.4D",
        "has_gps": f"_objection OR {r.u('appeal_gps', 'appeal_id')} < 0.4D",
        "_u": r.u("appeal_defect", "appeal_id"),
    })
    cut, case = 0.0, []
    for name in DEFECTS:
        lo, cut = cut, cut + invalid / len(DEFECTS)
        case.append(f"WHEN _u >= {double(lo)} AND _u < {double(cut)} THEN '{name}'")
    rows = add_columns(rows, {"defect": f"CASE {' '.join(case)} END"})
    for name, (changes, _) in DEFECTS.items():
        rows = add_columns(rows, {c: f"CASE WHEN defect = '{name}' THEN {v} ELSE {c} END" for c, v in changes.items()})
    copies = add_columns(rows.where("defect = 'duplicate'"), {"filed_at": "filed_at - INTERVAL 1 DAY"})
    wanted = list(columns(APPEALS, None))
    delivered = rows.select(*wanted).unionByName(copies.select(*wanted))
    codes = F.create_map(*[x for name, (_, code) in DEFECTS.items() for x in (F.lit(name), F.lit(code))])
    truth = rows.select("appeal_id", "appeal_type", "household_id", "head_nik", "defect",
                        codes[F.col("defect")].alias("reason_code"))
    return delivered, truth
