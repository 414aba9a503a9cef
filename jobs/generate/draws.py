"""Hash-based random draws and the SQL text the generator builds its columns from.

Why: every value of the synthetic nation depends only on the seed and the row's key (xxhash64 of seed, key
and a salt), never on partitioning, cores or execution order. Expressions are built as SQL text and handed
to Spark one stage at a time: building them operator by operator through py4j costs a JVM round trip each,
which made planning take longer than the work.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame


def double(x: float) -> str:
    """A double literal (bare 0.5 is a DECIMAL in Spark SQL)."""
    text = format(float(x), ".12f").rstrip("0").rstrip(".")
    return f"{text}D"


def clamp(x: str, lo: float, hi: float) -> str:
    return f"least(greatest({x}, {double(lo)}), {double(hi)})"


def case(pairs: list[tuple[str, str]], default: str | None = None) -> str:
    body = " ".join(f"WHEN {cond} THEN {value}" for cond, value in pairs)
    return f"CASE {body}" + (f" ELSE {default}" if default is not None else "") + " END"


def pick(values: tuple[str, ...], idx: str) -> str:
    return "element_at(array(" + ", ".join(f"'{v}'" for v in values) + f"), {idx} + 1)"


class Draws:
    """Uniform and normal draws from xxhash64(seed, key..., salt): reproducible on any partitioning."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def u(self, salt: str, *key: str) -> str:
        """Uniform on (0, 1): the top 53 bits of the hash."""
        h = f"xxhash64(CAST({self.seed} AS BIGINT), {', '.join(key)}, '{salt}')"
        return f"((CAST(shiftrightunsigned({h}, 11) AS DOUBLE) + 0.5D) / {double(1 << 53)})"

    def normal(self, salt: str, *key: str) -> str:
        """Standard normal by Box-Muller from the two 26-bit halves of one hash."""
        h = f"xxhash64(CAST({self.seed} AS BIGINT), {', '.join(key)}, '{salt}')"
        u1 = f"((CAST(shiftrightunsigned({h}, 38) AS DOUBLE) + 0.5D) / {double(1 << 26)})"
        u2 = f"((CAST(shiftrightunsigned({h}, 12) & {(1 << 26) - 1} AS DOUBLE) + 0.5D) / {double(1 << 26)})"
        return f"(sqrt(-2.0D * ln({u1})) * cos({double(2 * math.pi)} * {u2}))"

    def index(self, salt: str, n: str | int, *key: str) -> str:
        """Uniform integer in [0, n)."""
        return f"CAST(floor({self.u(salt, *key)} * ({n})) AS INT)"


def add_columns(df: DataFrame, columns: dict[str, str]) -> DataFrame:
    """Add (or replace) columns given as SQL text, in one projection."""
    kept = [f"`{c}`" for c in df.columns if c not in columns]
    return df.selectExpr(*kept, *[f"{sql} AS `{name}`" for name, sql in columns.items()])
