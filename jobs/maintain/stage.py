"""`dtks maintain`: keep a year of quarterly rounds from slowing reads or growing storage without bound.

Update rounds MERGE small change sets with deletion vectors: each leaves a few small files and
deletion vectors behind. For every table of the catalog, this compacts small files (OPTIMIZE, up to
maintenance.target_file_mb), rewrites the files that still carry deletion vectors (REORG ... APPLY
(PURGE)), and removes files no table version within maintenance.vacuum_retain_hours uses (VACUUM), except
the files of the versions the latest publication pins (`vacuum_hours`): its readers read those.
Each table's files, bytes and deletion vectors before and after go to pipeline_runs.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from runtime import tables
from runtime.config import DtksConfig
from runtime.runs import StageResult
from runtime.stage import StageContext, main_for

NAME = "maintain"
HELP = "compact small files, purge deletion vectors and vacuum every table (retention from config)"
log = logging.getLogger(__name__)
DELTA_MINIMUM_RETENTION_HOURS = 168  # Delta's own check; a shorter retention is a deliberate config choice


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-vacuum", action="store_true", help="compact and purge only; keep every old file")


def layout(spark: SparkSession, path: str) -> dict[str, int]:
    """Files and bytes of a table's current version, and whether it supports deletion vectors (1 or 0), from the
    Delta log, no scan."""
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()
    return {"files": int(detail.numFiles), "bytes": int(detail.sizeInBytes),
            "supports_deletion_vectors": int("deletionVectors" in (detail.tableFeatures or ()))}


def _removed_dvs(result) -> int:
    metrics = result.first().metrics.asDict() if result is not None else {}
    return int(metrics.get("numDeletionVectorsRemoved") or 0)


def vacuum_hours(configured: float, pinned_age_hours: float | None) -> float:
    """The retention a table is vacuumed with: the configured one, but never so short that the files of the
    version the latest publication pins go. Status, diff, explain, export, the report, the next publish and
    the programmes read that version; maintain's own compaction makes its files unused at once, so a
    retention shorter than the version's age would delete them. Hours rounded up, plus one."""
    if pinned_age_hours is None:
        return configured
    return max(configured, float(math.ceil(pinned_age_hours) + 1))


def maintain_table(spark: SparkSession, config: DtksConfig, name: str, retain_hours: float | None,
                   pinned: int | None = None) -> dict[str, int]:
    """Compact, purge deletion vectors, vacuum one table (keeping the files of version `pinned`, the one
    the latest publication reads); what it held before and after. A step with nothing to do is not run: a
    table that cannot hold deletion vectors, or whose log counts none, is not purged; a version neither
    compaction nor purge changed is not described again (VACUUM leaves the current version's files)."""
    path = config.table_path(name)
    table = DeltaTable.forPath(spark, path)
    before = layout(spark, path)
    start = tables.version(spark, config, name)
    age = tables.commit_age_hours(spark, config, name, pinned) if pinned is not None and retain_hours is not None \
        else None
    dvs = _removed_dvs(table.optimize().executeCompaction())
    if before["supports_deletion_vectors"] and tables.deletion_vectors(spark, config, name) != 0:
        dvs += _removed_dvs(spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)"))
    after = before if tables.version(spark, config, name) == start else layout(spark, path)
    vacuumed = 0
    if retain_hours is not None:
        table.vacuum(vacuum_hours(retain_hours, age))
        last = tables.last_commit(spark, config, name)
        if last.operation == "VACUUM END":
            vacuumed = int(last.metrics.get("numDeletedFiles", 0))
    return {"files_before": before["files"], "files_after": after["files"], "bytes_before": before["bytes"],
            "bytes_after": after["bytes"], "deletion_vectors_purged": dvs, "files_vacuumed": vacuumed}


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    spark, config = ctx.spark, ctx.config
    settings = config.maintenance
    spark.conf.set("spark.databricks.delta.optimize.maxFileSize", str(settings.target_file_mb * 1024 * 1024))
    retain = None if args.no_vacuum else settings.vacuum_retain_hours
    if retain is not None and retain < DELTA_MINIMUM_RETENTION_HOURS:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    done = {}
    pinned = tables.published_versions(spark, config) or {}
    for name in tables.CATALOG:
        if not tables.exists(spark, config, name):
            continue
        done[name] = maintain_table(spark, config, name, retain, pinned.get(name))
        d = done[name]
        log.info("maintain %s: %d -> %d files, %d files vacuumed", name, d["files_before"], d["files_after"],
                 d["files_vacuumed"])
    details = {f"{name}.{k}": str(v) for name, d in done.items() for k, v in d.items()}
    before = sum(d["files_before"] for d in done.values())
    after = sum(d["files_after"] for d in done.values())
    vacuumed = sum(d["files_vacuumed"] for d in done.values())
    return StageResult(
        rows_in=None,
        rows_out=None,
        details=details,
        summary=[f"maintain: {len(done)} tables, {before:,} -> {after:,} files, {vacuumed:,} unused files removed"
                 + ("" if retain is not None else " (no vacuum)")],
    )


if __name__ == "__main__":
    sys.exit(main_for(sys.modules[__name__]))
