"""The quarantine's reason codes, with the words the report shows for them (`LABELS`, the one list of the
codes): ingest's row validation gives them (jobs/ingest/validation.py), the generator's truth expects them of
the defects it injects, and the report counts them.

A row in `quarantine` carries the first rule it breaks as one of these codes, and a detail in words.
"""

from __future__ import annotations

BAD_VALUE = "BAD_VALUE"
MISSING_VALUE = "MISSING_VALUE"
OUT_OF_RANGE = "OUT_OF_RANGE"
UNKNOWN_VILLAGE = "UNKNOWN_VILLAGE"
UNKNOWN_QUESTIONNAIRE_VERSION = "UNKNOWN_QUESTIONNAIRE_VERSION"
BAD_INTERVIEW_TIME = "BAD_INTERVIEW_TIME"
BIRTH_IN_FUTURE = "BIRTH_IN_FUTURE"
DUPLICATE_RECORD = "DUPLICATE_RECORD"
UNKNOWN_HOUSEHOLD = "UNKNOWN_HOUSEHOLD"
HOUSEHOLD_REJECTED = "HOUSEHOLD_REJECTED"
INVALID_NIK = "INVALID_NIK"
MISSING_SUBJECT = "MISSING_SUBJECT"  # an appeal names neither a household nor a head's NIK
VILLAGE_MISMATCH = "VILLAGE_MISMATCH"  # an appeal filed in another village than its household's
NO_EVIDENCE = "NO_EVIDENCE"  # an objection without photo and GPS
FILER_NOT_NEIGHBOUR = "FILER_NOT_NEIGHBOUR"  # an objection not filed by a neighbour
UNKNOWN_PAIR = "UNKNOWN_PAIR"  # a linkage decision on a pair never sent for review
LABELS = {
    BAD_VALUE: "unreadable value",
    MISSING_VALUE: "required value missing",
    OUT_OF_RANGE: "value out of range",
    UNKNOWN_VILLAGE: "village code not in the region reference",
    UNKNOWN_QUESTIONNAIRE_VERSION: "unknown questionnaire version",
    BAD_INTERVIEW_TIME: "interview ends before it starts",
    BIRTH_IN_FUTURE: "birth date after the interview",
    DUPLICATE_RECORD: "record delivered twice (latest kept)",
    UNKNOWN_HOUSEHOLD: "member of no survey household",
    HOUSEHOLD_REJECTED: "member of a quarantined household",
    INVALID_NIK: "invalid NIK",
    MISSING_SUBJECT: "appeal names no household and no NIK",
    VILLAGE_MISMATCH: "appeal filed in another village than its household's",
    NO_EVIDENCE: "objection without photo and GPS",
    FILER_NOT_NEIGHBOUR: "objection not filed by a neighbour",
    UNKNOWN_PAIR: "linkage decision on a pair never sent for review",
}
# A household's UNKNOWN_VILLAGE detail names its village code between these (for the operator: the row's
# province travels as the quarantine's province_code column, never parsed back from this text).
VILLAGE_DETAIL = ("village_code ", " not in the region reference")
