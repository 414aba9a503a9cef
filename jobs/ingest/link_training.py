"""`dtks model train-linkage`: a new linkage model version trained on the lakehouse's current round, registered
in MLflow (made the version in use only with --promote), and measured against a generated nation's truth when
one is given. Training is never a side effect of ingest, except a lakehouse's first version (models/
linkage_versions.py)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core import nik
from jobs.ingest import linking, rematch
from models import linkage, linkage_versions
from runtime import tables
from runtime.config import DtksConfig, nik_key_source
from runtime.errors import UserError


def truth_tokens(spark: SparkSession, folder: str) -> DataFrame:
    """A generated nation's truth/members (household_id, member_no, registry_nik) with the NIK as its token
    (the session's key): the person each member is, null for one not in the registry."""
    try:
        truth = spark.read.parquet(folder)
    except Exception as exc:  # noqa: BLE001 - Spark's error for a missing or unreadable folder
        raise UserError(f"--truth {folder}: not a readable truth/members folder ({type(exc).__name__})") from None
    return truth.select("household_id", "member_no", nik.token(F.col("registry_nik")).alias("registry_token"))


def train_version(spark: SparkSession, config: DtksConfig, run_id: str, truth: str | None,
                  promote: bool) -> tuple[str, dict[str, float]]:
    """Train on the current rosters' members without a usable NIK and the registry persons no roster lists,
    register the version (with its quality against `truth` when given); returns (version, measured)."""
    if not tables.exists(spark, config, tables.IDENTITY_SURVEY):
        raise UserError(f"{config.table_path(tables.IDENTITY_SURVEY)} not found: run `dtks ingest` first")
    nik.register(spark, nik_key_source(config))
    sides = rematch.national_link_inputs(tables.read(spark, config, tables.SURVEY),
                                         tables.read(spark, config, tables.REGISTRY))
    trained: dict = {}

    def model_for(left: DataFrame, right: DataFrame) -> dict:
        trained.update(linkage.train(spark, left, right, config.linkage.expected_share))
        return trained

    with tables.staging(spark, config, run_id) as area:
        sides = area.put("sides", sides)
        found = linking.link(spark, sides, tables.read(spark, config, tables.IDENTITY_SURVEY),
                             tables.read(spark, config, tables.IDENTITY_REGISTRY), model_for,
                             linkage_versions.thresholds(config), area.put)
        links, review = area.put("links", found.links), area.put("review", found.review)
        measured = {"links": float(links.count()), "review": float(review.count())}
        if truth is not None:
            judged = linking.quality(linking.Links(links, review), linking.members_of(sides),
                                     truth_tokens(spark, truth))
            measured |= {f"truth_{k}": v for k, v in judged.items()}
    version = linkage_versions.register(config, trained, "trained by dtks model train-linkage", measured)
    if promote:
        linkage_versions.promote(config, version, "promoted at training (--promote)")
    return version, measured
