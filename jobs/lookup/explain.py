"""Why a household ranks where it does: its score's contributions by feature group and its distance to the
coverage cut-off, told in plain words by `dtks explain HOUSEHOLD_ID`.

Nothing here is written by publish: each part is kept where it is made, and read at the publication's
versions. The contributions are made when the household is scored (models/champion.py: natively, from
the compiled linear PMT; null for a family dtks does not explain) and kept in household_scores; the
distance is made by the ranking and kept in dtks_households (`score_to_cutoff`, from the last household
within coverage, whose score the publication records as `cutoff_score`; `persons_to_cutoff`, from P x
coverage target, so a household is within coverage exactly when it is zero or less). A local lakehouse is
read without Spark (runtime/delta_reads.py): a help desk's answer in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.core import regions
from runtime import delta_reads, questionnaire, tables
from runtime.config import DtksConfig
from runtime.errors import UserError

HOUSEHOLD_COLUMNS = ("household_id", "province_code", "regency_code", "district_code", "village_code", "hh_size",
                     "welfare_score", "national_rank", "decile", "within_coverage", "score_to_cutoff",
                     "persons_to_cutoff", "model_name", "model_version")


class _Published:
    """One household's rows of the tables as the latest publication pinned them: read with deltalake on a
    local lakehouse (no Spark), through Spark elsewhere. Rows as dicts of plain values."""

    def __init__(self, config: DtksConfig, spark: Callable[[], SparkSession]) -> None:
        self.config, self.spark, self.local = config, spark, delta_reads.local(config)
        if self.local:
            self.publication = delta_reads.latest_publication(config)
        else:
            row = tables.latest_publication(spark(), config)
            self.publication = row.asDict(recursive=True) if row is not None else None
        self.versions = dict((self.publication or {}).get("versions") or {})

    def columns(self, name: str) -> list[str]:
        if self.local:
            from deltalake import DeltaTable

            path = self.config.table_path(name).removeprefix("file://")
            return [f.name for f in DeltaTable(path, version=self.versions.get(name)).schema().fields]
        return tables.read_published(self.spark(), self.config, name).columns

    def rows(self, name: str, where: dict[str, Any], columns: tuple[str, ...]) -> list[dict[str, Any]]:
        """The rows whose columns equal `where`'s values."""
        if self.local:
            test = " AND ".join(f"{c} = {delta_reads.literal(v) if isinstance(v, str) else v}"
                                for c, v in where.items())
            return delta_reads.query(self.config, name, f"SELECT {', '.join(columns)} FROM t WHERE {test}",
                                     self.versions.get(name))
        df = tables.read_published(self.spark(), self.config, name)
        for c, v in where.items():
            df = df.where(F.col(c) == F.lit(v))
        return [r.asDict(recursive=True) for r in df.select(*columns).collect()]


def lookup(config: DtksConfig, household_id: str, spark: Callable[[], SparkSession]) -> dict[str, Any]:
    """Everything `dtks explain` says about one published household, as plain values. `spark` gives the
    session when the lakehouse is not local (a local one is read without Spark)."""
    source = _Published(config, spark)
    publication = source.publication
    if publication is None:
        raise UserError(f"{config.table_path(tables.DTKS_HOUSEHOLDS)} not published yet: run `dtks publish` first")
    if "score_to_cutoff" not in source.columns(tables.DTKS_HOUSEHOLDS):
        raise UserError(f"publication {publication['publication_id']} was made before households' distances to "
                        "the cut-off were kept: run `dtks publish` again")
    found = source.rows(tables.DTKS_HOUSEHOLDS, {"household_id": household_id}, HOUSEHOLD_COLUMNS)
    if not found:
        raise UserError(f"household {household_id!r} is not in publication {publication['publication_id']}: "
                        "not surveyed, not rankable, or not yet published")
    hh = found[0]
    # The score the publication ranked: the same model version (household_scores as the publication pinned it).
    scored = source.rows(tables.SCORES, {"household_id": household_id, "model_version": hh["model_version"]},
                         ("intercept", "contributions"))
    why = scored[0] if scored else None
    programmes = {r["program"]: r["eligible"] for r in source.rows(
        tables.PROGRAM_ELIGIBILITY, {"household_id": household_id}, ("program", "eligible"))}
    model = questionnaire.load_file(config).model
    levels = ("province", "regency", "district", "village")
    labels, names = model.group_labels(), regions.names_for(config, [hh[f"{level}_code"] for level in levels])
    contributions = ({c["group"]: c["value"] for c in why["contributions"]}
                     if why is not None and why["contributions"] is not None else None)
    cutoff = publication.get("cutoff_score")
    if cutoff is None and hh["score_to_cutoff"] is not None:  # a publication row from before the column
        cutoff = hh["welfare_score"] - hh["score_to_cutoff"]
    return {
        "household_id": household_id,
        "publication_id": publication["publication_id"],
        "published_at": str(publication["published_at"]),
        "coverage_target": publication["coverage_target"],
        "population": publication["population"],
        "region": {level: names.label(hh[f"{level}_code"]) for level in levels},
        "hh_size": hh["hh_size"],
        "model": f"{hh['model_name']} v{hh['model_version']}",
        "welfare_score": hh["welfare_score"],
        "national_rank": hh["national_rank"],
        "decile": hh["decile"],
        "within_coverage": hh["within_coverage"],
        "cutoff_score": cutoff,
        "score_to_cutoff": hh["score_to_cutoff"],
        "persons_to_cutoff": hh["persons_to_cutoff"],
        "intercept": why["intercept"] if why else None,
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
