"""A registered model's version behind an alias, read from a SQLite MLflow store without importing MLflow.

Why: `dtks status` shows the champion, and importing MLflow then opening its store through SQLAlchemy takes
2-3 s, most of a lookup that must answer within seconds (docs/BENCHMARKS.md, lookups). The tables read here
are MLflow's own (registered_model_aliases, model_versions, model_version_tags, latest_metrics), as the
pinned MLflow lays them out; a store without them raises sqlite3.Error, and the caller asks MLflow instead.
tests/test_registry_reads.py checks that both answer the same.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

CHAMPION = "champion"  # the alias of the version that scores (models/registry.py)


@dataclass(frozen=True)
class AliasedVersion:
    """What `MlflowClient.get_model_version_by_alias` and `get_run` say of the version: its number, its tags,
    and its run's latest metrics (NaN where MLflow logged one)."""

    version: str
    tags: dict[str, str]
    metrics: dict[str, float]


def aliased_version(db: Path, name: str, alias: str) -> AliasedVersion | None:
    """The version of registered model `name` that `alias` points to in the SQLite store `db` (opened
    read-only), or None when the alias points nowhere."""
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT v.version, v.run_id FROM registered_model_aliases a JOIN model_versions v "
            "ON v.name = a.name AND v.version = a.version WHERE a.name = ? AND a.alias = ?", (name, alias)).fetchone()
        if row is None:
            return None
        version, run_id = row
        tags = dict(con.execute("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                                (name, version)).fetchall())
        metrics = {key: math.nan if is_nan else value for key, value, is_nan in con.execute(
            "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?", (run_id,))} if run_id else {}
    finally:
        con.close()
    return AliasedVersion(str(version), tags, metrics)
