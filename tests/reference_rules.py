"""Plain-Python statements of rules whose Spark forms the tests hold to them: the national ranking and the
NIK's construction (the generator's side of jobs/core/nik.py). Test helpers: no production code uses them."""

from __future__ import annotations

import datetime as dt
import math


def reference_ranking(rows: list[tuple[str, float, int]], population: int, coverage_target: float) -> dict:
    """household_id -> (rank, cumulative person share, decile, covered), for rows (household_id, score, size)
    ranked by score, ties by household_id (jobs/policy/ranking.py)."""
    out, cum = {}, 0
    for rank, (hid, _score, size) in enumerate(sorted(rows, key=lambda r: (r[1], r[0])), start=1):
        cum += size
        share = cum / float(population)
        out[hid] = (rank, share, min(max(math.ceil(share * 10), 1), 10), share <= coverage_target)
    return out


def make_nik(district6: str, born: dt.date, sex: str, serial: int) -> str:
    """A NIK from its parts (`nik.make_nik`'s rule): the birth day plus 40 for a woman."""
    day = born.day + (40 if sex == "P" else 0)
    return f"{district6}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
