"""Why a household ranks where it does: its score's contributions by feature group and its distance to the
coverage cut-off, kept in household_explanations beside the published households, and told in plain words
by `dtks explain HOUSEHOLD_ID`.

The contributions are computed when the household is scored (jobs/score/champion.py: natively, from the
compiled linear PMT; null for a family dtks does not explain). The distance to the cut-off is the
publication's: in score, from the last household within coverage; in persons, from P x coverage target,
so a household is within coverage exactly when its `persons_to_cutoff` is zero or less.
"""

from __future__ import annotations

import math
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.core import regions
from runtime import questionnaire, tables
from runtime.config import DtksConfig
from runtime.errors import UserError

COLUMNS = ("household_id", "province_code", "regency_code", "model_version", "intercept", "contributions",
           "cutoff_score", "score_to_cutoff", "persons_to_cutoff")


def explanations(gold_hh: DataFrame, scores: DataFrame, population: int, coverage: float) -> DataFrame:
    """Pure: one row per ranked household (gold_hh: this publication's dtks_households rows)."""
    ranked = gold_hh.select("household_id", "province_code", "regency_code", "model_version", "welfare_score",
                            "cum_persons")
    cutoff = gold_hh.where("within_coverage").agg(F.max("welfare_score").alias("cutoff_score"))
    line = math.floor(population * coverage)  # persons within coverage at most
    return (
        ranked.join(scores.select("household_id", "intercept", "contributions"), "household_id", "left")
        .crossJoin(F.broadcast(cutoff))
        .withColumn("score_to_cutoff", F.col("welfare_score") - F.col("cutoff_score"))
        .withColumn("persons_to_cutoff", F.col("cum_persons") - F.lit(line))
        .select(*COLUMNS)
    )


def lookup(spark: SparkSession, config: DtksConfig, household_id: str) -> dict[str, Any]:
    """Everything `dtks explain` says about one published household, as plain values."""
    publication = tables.latest_publication(spark, config)
    if publication is None or tables.EXPLANATIONS not in (publication.versions or {}):
        raise UserError(f"{config.table_path(tables.EXPLANATIONS)} not published yet: run `dtks publish` first")
    hh = (tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS).where(F.col("household_id") == household_id)
          .select("household_id", "province_code", "regency_code", "district_code", "village_code", "hh_size",
                  "welfare_score", "national_rank", "decile", "within_coverage", "model_name", "model_version")
          .first())
    if hh is None:
        raise UserError(f"household {household_id!r} is not in publication {publication.publication_id}: "
                        "not surveyed, not rankable, or not yet published")
    why = (tables.read_published(spark, config, tables.EXPLANATIONS)
           .where((F.col("province_code") == hh.province_code) & (F.col("household_id") == household_id)).first())
    programmes = {r.program: r.eligible for r in tables.read_published(spark, config, tables.PROGRAM_ELIGIBILITY)
                  .where(F.col("household_id") == household_id).select("program", "eligible").collect()}
    model = questionnaire.load(config).model
    labels, names = model.group_labels(), regions.load(config).names()
    contributions = ({c.group: c.value for c in why.contributions}
                     if why is not None and why.contributions is not None else None)
    return {
        "household_id": household_id,
        "publication_id": publication.publication_id,
        "published_at": str(publication.published_at),
        "coverage_target": publication.coverage_target,
        "population": publication.population,
        "region": {level: names.label(hh[f"{level}_code"])
                   for level in ("province", "regency", "district", "village")},
        "hh_size": hh.hh_size,
        "model": f"{hh.model_name} v{hh.model_version}",
        "welfare_score": hh.welfare_score,
        "national_rank": hh.national_rank,
        "decile": hh.decile,
        "within_coverage": hh.within_coverage,
        "cutoff_score": why.cutoff_score if why else None,
        "score_to_cutoff": why.score_to_cutoff if why else None,
        "persons_to_cutoff": why.persons_to_cutoff if why else None,
        "intercept": why.intercept if why else None,
        "contributions": None if contributions is None else [
            {"group": g, "label_id": labels.get(g, (g, g))[0], "label_en": labels.get(g, (g, g))[1], "value": v}
            for g, v in sorted(contributions.items(), key=lambda kv: kv[1])],
        "programmes": programmes,
    }


def describe(found: dict[str, Any]) -> list[str]:
    """`lookup`'s answer in plain words, Bahasa Indonesia terms beside the English."""
    within = found["within_coverage"]
    lines = [
        f"household {found['household_id']}, publication {found['publication_id']} ({found['published_at']})",
        "  " + " / ".join(found["region"][k] for k in ("province", "regency", "district", "village")),
        f"  {found['hh_size']} persons; scored by {found['model']}",
        f"  welfare score (skor kesejahteraan, predicted log consumption per person): {found['welfare_score']:.4f}",
        f"  national rank {found['national_rank']:,}; decile (desil) {found['decile']}; "
        f"{'within' if within else 'outside'} coverage (cakupan) of {found['coverage_target']:.0%} of the population",
    ]
    if found["cutoff_score"] is not None:
        gap, persons = found["score_to_cutoff"], found["persons_to_cutoff"]
        side = "below" if gap <= 0 else "above"
        lines.append(f"  distance to the cut-off (batas cakupan): {abs(gap):.4f} {side} the cut-off score "
                     f"{found['cutoff_score']:.4f}; "
                     + (f"{-persons:,} persons could join coverage before this household would leave it"
                        if persons <= 0 else f"{persons:,} persons ranked poorer stand between it and coverage"))
    if found["contributions"] is None:
        lines.append(f"  no explanation of the score: {found['model']} is not a linear PMT, and dtks explains "
                     "only the linear PMT's scores")
    else:
        lines.append("  contributions to the score (kontribusi), lowest first; a negative one pulls the score "
                     "down, towards assistance:")
        labels = [c["label_id"] + " / " + c["label_en"] for c in found["contributions"]]
        width = max(len(x) for x in ["baseline (intersep)", *labels])
        lines.append(f"    {'baseline (intersep)':<{width}} {found['intercept']:+.4f}")
        for label, c in zip(labels, found["contributions"], strict=True):
            lines.append(f"    {label:<{width}} {c['value']:+.4f}")
    eligible = [p for p, e in sorted(found["programmes"].items()) if e]
    others = [p for p, e in sorted(found["programmes"].items()) if not e]
    lines.append("  programmes (program): eligible for " + (", ".join(eligible) or "none")
                 + (f"; not eligible for {', '.join(others)}" if others else ""))
    return lines
