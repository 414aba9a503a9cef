"""SQL text for expressions built in bulk (rule chains, typing projections, NIK rules).

Why text: every function applied to a Column built in Python is a py4j round trip, and a validated source's
rules came to thousands of them (most of a small source's checking time); one expression string is one round
trip, parsed by Spark into the same expression tree."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable


def ident(name: str) -> str:
    """A column name as a SQL identifier, whatever it holds (a delivery's extra columns are any text)."""
    return "`" + name.replace("`", "``") + "`"


def text(value: str) -> str:
    """A SQL string literal of exactly `value` (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: str | bool | int | float | dt.date | None) -> str:
    """A SQL literal of a Python value: text, boolean, integer, double, date or NULL."""
    if value is None:
        return "NULL"
    if hasattr(value, "item") and not isinstance(value, str | dt.date):  # a NumPy scalar
        value = value.item()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value!r}D" if math.isfinite(value) else f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    return text(value)


def one_of(values: Iterable[str | bool | int | float | dt.date | None]) -> str:
    """The list of an IN test: `x IN {one_of(values)}`."""
    return "(" + ", ".join(literal(v) for v in values) + ")"
