"""A regional office's slice of the published register: one province's or regency's rows, tokens only (or, with
--linkage-review, its linkage review file: jobs/lookup/review_export.py).

Read from the latest complete publication (so the three tables agree), filtered by region code,
written to a temporary sibling folder and renamed into place at the end: an export is complete or
absent. Persons appear only as `nik_token`; the office cannot re-identify them without the vault,
which is never exported. A manifest lists the publication, the row counts and each file's SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
import tempfile
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core import regions
from runtime import region_codes, tables
from runtime.config import DtksConfig
from runtime.errors import UserError

ROWS_PER_FILE = 2_000_000


def region_filter(code: str) -> F.Column:
    column = "province_code" if len(code) == 2 else "regency_code"
    return F.col(column) == F.lit(code)


def region_slice(households: DataFrame, members: DataFrame, eligibility: DataFrame, code: str) -> dict[str, DataFrame]:
    """Pure: the gold tables (tables.GOLD) cut to one region (eligibility through its households); a new gold
    table gets its slice here (tests/test_catalog.py checks every gold table has one)."""
    hh = households.where(region_filter(code))
    ids = hh.select("household_id")
    elig = eligibility.where(F.col("province_code") == F.lit(code[:2])).join(ids, "household_id", "left_semi")
    return {
        tables.DTKS_HOUSEHOLDS: hh,
        tables.DTKS_MEMBERS: members.where(region_filter(code)),
        tables.PROGRAM_ELIGIBILITY: elig.select(*eligibility.columns),
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_region(spark: SparkSession, config: DtksConfig, code: str, out: str, fmt: str = "parquet",
                  linkage_review: bool = False) -> dict:
    """Write one region's slice to `out` (a new local folder) and return its manifest; with `linkage_review`, the
    region's linkage review file instead (jobs/lookup/review_export.py: names, for the office's review only)."""
    code = region_codes.plain(code)
    ref = regions.load(config)
    regions.check_scope(ref, (code,), what="region")
    if "://" in out and not out.startswith("file://"):
        raise UserError(f"--out {out}: exports are written to a local folder for hand-over, not an object store")
    target = config.path(out)
    if target.exists():
        raise UserError(f"--out {target} already exists: exports never overwrite; choose a new folder")
    if linkage_review:
        from jobs.lookup.review_export import FILE, ORDER, read_review

        if not tables.exists(spark, config, tables.LINKAGE_REVIEW):
            raise UserError(f"{config.table_path(tables.LINKAGE_REVIEW)} not found: run `dtks ingest` with linkage "
                            "first")
        return _write(target, {FILE: read_review(spark, config, code)}, fmt, ref, code, {
            "linkage_review_version": tables.version(spark, config, tables.LINKAGE_REVIEW),
            "personal_data": "names, birth dates and NIKs of both records of each pair: for the office's review "
                             "only; return the rows with `decision` filled as the linkage_decisions landing source"},
            ORDER)
    versions = tables.published_versions(spark, config)
    if not versions:
        raise UserError(f"no complete publication under {config.lakehouse}: run `dtks publish` first")
    gold = {name: tables.read(spark, config, name, versions[name]) for name in tables.GOLD}
    parts = region_slice(gold[tables.DTKS_HOUSEHOLDS], gold[tables.DTKS_MEMBERS], gold[tables.PROGRAM_ELIGIBILITY],
                         code)
    publication = (
        tables.read(spark, config, tables.PUBLICATIONS).orderBy(F.col("publication_id").desc()).first().asDict()
    )
    return _write(target, parts, fmt, ref, code, {
        "publication_id": publication["publication_id"],
        "publication_run_id": publication["run_id"],
        "table_versions": versions,
        "personal_data": "none: persons are identified by nik_token only"})


def _write(target: Path, parts: dict[str, DataFrame], fmt: str, ref: regions.RegionReference, code: str,
           about: dict, ordered: tuple[str, ...] = ()) -> dict:
    """Write `parts` to `target` through a temporary sibling renamed at the end, with a manifest (the region,
    `about`, row counts, each file's SHA-256), each file's rows sorted by `ordered`; returns the manifest."""
    # This export's own temp sibling (a concurrent export to the same --out has its own): created here, so
    # it is the only folder this command ever removes.
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        counts = {}
        for name, df in parts.items():
            n = df.count()
            counts[name] = n
            laid = df.repartition(max(1, math.ceil(n / ROWS_PER_FILE)))
            writer = (laid.sortWithinPartitions(*ordered) if ordered else laid).write.mode("error")
            if fmt == "csv":
                writer.option("header", True).option("escape", '"').csv(str(partial / name))  # RFC 4180
            else:
                writer.parquet(str(partial / name))
        files = {
            str(p.relative_to(partial)): _sha256(p)
            for p in sorted(partial.rglob("*"))
            if p.is_file() and not p.name.startswith((".", "_"))
        }
        names = ref.names()
        manifest = {
            "region_code": code,
            "region_name": names.name(code),
            "province": names.label(code[:2]),
            "regencies": {c: names.name(c) for c in sorted(ref.regencies["regency_code"]) if c.startswith(code)},
            "format": fmt,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **about,
            "row_counts": counts,
            "files_sha256": files,
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return manifest
