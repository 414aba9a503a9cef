"""How values and codes read on the report page: numbers and shares as text, the words for match statuses,
landing sources and quarantine reasons, and the map's colour bins. Plain text and colours only: the markup is
in jobs/report/templates/.
"""

from __future__ import annotations

import math

from jobs.core import contract, quarantine, verification

STATUS_LABELS = {
    contract.MATCHED: ("matched (padan)", "#1a9641"),
    contract.MATCHED_WITH_DIFFERENCES: ("matched with differences (padan, to check)", "#a6d96a"),
    contract.MATCHED_PROBABILISTIC: ("linked by name and birth date (no usable NIK)", "#66bd63"),
    contract.NOT_FOUND: ("not found (tidak padan)", "#d7191c"),
    contract.INVALID_NIK: ("invalid NIK", "#fdae61"),
    contract.MISSING_NIK: ("missing NIK", "#f46d43"),
    contract.DECEASED: ("deceased in the registry", "#777777"),
    contract.DUPLICATE: ("listed twice (duplicate)", "#bbbbbb"),
}
SOURCE_LABELS = {
    contract.REGISTRY: "registry person",
    contract.REGISTRY_CHANGES: "registry change",
    contract.SURVEY_HOUSEHOLDS: "survey household",
    contract.SURVEY_MEMBERS: "survey member",
    contract.TRAINING_HOUSEHOLDS: "training household",
    contract.TRAINING_MEMBERS: "training member",
    contract.APPEALS: "appeal",
}
REASON_LABELS = {**quarantine.LABELS, **verification.REASONS}  # the words for each code
# Map colours: upper bound of each bin (exclusive) and its fill.
COVERAGE_BINS = [(0.5, "#eff3ff"), (0.6, "#c6dbef"), (0.7, "#9ecae1"), (0.8, "#6baed6"), (0.9, "#3182bd"),
                 (math.inf, "#08519c")]
MATCH_BINS = [(0.80, "#d7191c"), (0.90, "#fdae61"), (0.95, "#ffffbf"), (0.98, "#a6d96a"), (math.inf, "#1a9641")]
NO_DATA = "#e4e4e4"
COVERAGE_COLOUR, MATCH_COLOUR = "#3182bd", "#1a9641"  # the bars beside coverage and match rates


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value, digits: int = 1) -> str:
    return "n/a" if missing(value) else f"{value * 100:.{digits}f} %"


def num(value) -> str:
    return "n/a" if missing(value) else f"{int(round(value)):,}"


def sort_value(value) -> str:
    """What a sortable cell carries in its data-v attribute: the raw value, empty when missing."""
    return "" if missing(value) else str(value)


def exact(value) -> str:
    """A share as a machine-readable attribute (data-value), every digit kept; empty when missing."""
    return "" if missing(value) else repr(float(value))


def when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)


def fill(value, bins) -> str:
    if missing(value):
        return NO_DATA
    return next(colour for bound, colour in bins if value < bound)


def legend(bins) -> list[tuple[str, str]]:
    """(colour, label) per bin: "< 50 %", "50–60 %", ..., "≥ 90 %"."""
    out, low = [], None
    for bound, colour in bins:
        if low is None:
            out.append((colour, f"< {bound * 100:.0f} %"))
        elif math.isinf(bound):
            out.append((colour, f"≥ {low * 100:.0f} %"))
        else:
            out.append((colour, f"{low * 100:.0f}–{bound * 100:.0f} %"))
        low = bound
    return out
