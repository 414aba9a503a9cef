"""The table catalog (runtime/tables.py) is the one list of tables: key rotation, the versions a publication
pins, the gold tables and docs/CONTRACTS.md's catalog table are derived from it or checked against it, so a
new table cannot be missing from any of them. The stored tables' token columns are checked against the
catalog on the shared nation, in tests/test_rotate_key.py."""

from __future__ import annotations

import re
from pathlib import Path

from jobs.lookup.export import region_slice
from jobs.rotate_key import rotation
from runtime import tables

CONTRACTS = Path(__file__).resolve().parents[1] / "docs" / "CONTRACTS.md"
TOKEN = re.compile(r"^[a-z][a-z0-9_]*_token$")


def test_token_columns_are_declared_as_tokens():
    """A token column is named `*_token` (in an array of structs: `array.field_token`); the one column that
    is not, quarantine's record_key, holds tokens only for some rows and says so by its token rule."""
    for t in tables.CATALOG.values():
        assert len(set(t.tokens)) == len(t.tokens), t.name
        for column in t.tokens:
            *array, name = column.split(".")
            assert len(array) <= 1, (t.name, column)  # one level: an array column's struct field
            assert TOKEN.match(name) or t.token_rule in rotation.SOME_TOKENS, (t.name, column)
        # a column named like a token among its keys is declared
        assert {k for k in t.keys if TOKEN.match(k)} <= set(t.tokens), t.name


def test_rotation_rewrites_every_table_with_tokens_in_dependency_order():
    plan = [t.name for t in rotation.order()]
    with_tokens = {t.name for t in tables.CATALOG.values() if t.tokens or t.carries}
    assert set(plan) == with_tokens and len(plan) == len(with_tokens)  # none skipped, none twice
    vault = tables.table(plan[0])
    assert vault.name == tables.IDENTITY_VAULT and vault.token_rule == tables.VAULT_TOKENS and len(vault.tokens) == 1
    assert all(tables.table(n).token_rule != tables.VAULT_TOKENS for n in plan[1:])
    # A rule that keeps some values for every token rule but the two rotation applies itself.
    assert set(tables.TOKEN_RULES) == {tables.VAULT_TOKENS, tables.ALL_TOKENS, *rotation.SOME_TOKENS}
    # A carried row_hash follows a table whose own hash rotation recomputes, rotated before it.
    for n in plan:
        t = tables.table(n)
        if t.carries:
            source = tables.table(t.carries)
            assert source.hashed and source.tokens, n
            assert plan.index(source.name) < plan.index(n), n
            assert set(source.keys) <= set(t.keys), n
    # The tables a publication pins come after the rest: killed in between, the publication is as it was.
    pinned = [tables.table(n).published for n in plan]
    assert pinned == sorted(pinned)


def test_published_and_gold_are_the_catalogs():
    assert tables.PUBLISHED == tuple(n for n, t in tables.CATALOG.items() if t.published)
    assert tables.GOLD == tuple(n for n, t in tables.CATALOG.items() if t.gold)
    assert set(tables.GOLD) <= set(tables.PUBLISHED)
    assert {tables.DTKS_HOUSEHOLDS, tables.DTKS_MEMBERS, tables.PROGRAM_ELIGIBILITY} == set(tables.GOLD)


def test_export_slices_every_gold_table(spark):
    """`dtks export` hands over a slice of every gold table (on empty frames: only the names matter)."""
    frame = spark.createDataFrame([], "household_id string, province_code string, regency_code string")
    assert set(region_slice(frame, frame, frame, "11")) == set(tables.GOLD)


def catalog_rows() -> dict[str, dict[str, str]]:
    """docs/CONTRACTS.md's catalog table: each table named in a row, with that row's cells by header."""
    text = CONTRACTS.read_text()
    section = text[text.index("## Table catalog and layout"):]
    all_lines = section.splitlines()
    start = next(i for i, line in enumerate(all_lines) if line.startswith("| table |"))
    end = next((i for i in range(start, len(all_lines)) if not all_lines[i].startswith("|")), len(all_lines))
    lines = all_lines[start:end]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows: dict[str, dict[str, str]] = {}
    for line in lines[2:]:
        cells = dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
        for name in re.findall(r"`([a-z_]+)`", cells["table"]):
            assert name not in rows, f"{name} has two rows in docs/CONTRACTS.md"
            rows[name] = cells
    return rows


def names(cell: str) -> tuple[str, ...]:
    """A cell's list of column names, `-` or `(default)` for none; the words after a name are a comment."""
    if cell in ("-", "(default)"):
        return ()
    return tuple(re.match(r"`?([a-z_.]+)`?", part.strip()).group(1) for part in cell.split(","))


def test_contracts_catalog_table_is_the_catalog():
    rows = catalog_rows()
    assert set(rows) == set(tables.CATALOG), "docs/CONTRACTS.md's catalog table and runtime/tables.py CATALOG"
    for name, t in tables.CATALOG.items():
        row = rows[name]
        assert row["mode"] == f"`{t.write}`", name
        assert names(row["partitioned by"]) == t.partition_by, name
        stats = t.properties.get("delta.dataSkippingStatsColumns")
        assert names(row["file statistics on"]) == (tuple(stats.split(",")) if stats else ()), name
        assert names(row["token columns"]) == t.tokens, name
        assert row["publication"] == ("gold" if t.gold else "pinned" if t.published else "-"), name
