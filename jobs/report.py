"""Stage `report`: quality_by_region and the enumerator re-visit list, as Delta tables and one HTML page.

The page (reports/<run_id>/index.html, PNG plots beside it) is what a supervisor reads: deciles by
province, coverage against target, match rates, the worst regions and the enumerators to re-visit.
It is also logged to MLflow. Only aggregates reach the driver (per region, per enumerator).
"""

from __future__ import annotations

import argparse
import html
import logging
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from pyspark import StorageLevel  # noqa: E402
from pyspark.sql import Observation  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402

from jobs import quality, questionnaire  # noqa: E402
from jobs.runtime import tables  # noqa: E402
from jobs.runtime.errors import UserError  # noqa: E402
from jobs.runtime.runs import StageResult  # noqa: E402
from jobs.runtime.stage import StageContext, main_for  # noqa: E402

NAME = "report"
HELP = "write quality_by_region, the enumerator re-visit list and an HTML quality report"
log = logging.getLogger(__name__)
TOP_ENUMERATORS = 25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reports-dir", default="reports", help="folder for reports/<run_id>/ (default: reports)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report to MLflow")


def _plot_deciles(by_prov: pd.DataFrame, out: Path) -> str:
    cols = [f"persons_decile_{d}" for d in range(1, 11)]
    shares = by_prov.set_index("province_code")[cols].div(by_prov.set_index("province_code")[cols].sum(axis=1), axis=0)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    bottom = pd.Series(0.0, index=shares.index)
    cmap = plt.get_cmap("RdYlGn")
    for i, col in enumerate(cols):
        ax.bar(shares.index, shares[col], bottom=bottom, color=cmap(i / 9), label=f"D{i + 1}", width=0.8)
        bottom += shares[col]
    ax.set_ylabel("share of ranked persons")
    ax.set_xlabel("province code")
    ax.set_title("National deciles by province (1 = poorest)")
    ax.legend(ncol=10, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.tick_params(axis="x", labelsize=7, rotation=90)
    fig.tight_layout()
    fig.savefig(out / "deciles_by_province.png", dpi=110)
    plt.close(fig)
    return "deciles_by_province.png"


def _plot_coverage(by_prov: pd.DataFrame, target: float, covered_share: float, out: Path) -> str:
    share = (by_prov["persons_covered"] / by_prov["persons_ranked"]).fillna(0)
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.bar(by_prov["province_code"], share, color="#4a7fb0")
    ax.axhline(target, color="crimson", linestyle="--", label=f"national target {target:.0%}")
    ax.axhline(covered_share, color="black", linestyle=":", label=f"national covered {covered_share:.1%} of P")
    ax.set_ylabel("share of ranked persons within coverage")
    ax.set_title("Coverage against target")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=7, rotation=90)
    fig.tight_layout()
    fig.savefig(out / "coverage.png", dpi=110)
    plt.close(fig)
    return "coverage.png"


def _plot_match(by_prov: pd.DataFrame, minimum: float, out: Path) -> str:
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.bar(by_prov["province_code"], by_prov["match_rate"], color="#5a9e6f")
    ax.axhline(minimum, color="crimson", linestyle="--", label=f"regional minimum {minimum:.0%}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("members matched to the registry")
    ax.set_title("NIK match rate (padan) by province")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=7, rotation=90)
    fig.tight_layout()
    fig.savefig(out / "match_rate.png", dpi=110)
    plt.close(fig)
    return "match_rate.png"


def _plot_enumerators(enum: pd.DataFrame, out: Path) -> str:
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(enum["short_interview_share"], enum["repeated_answer_share"], s=10, alpha=0.5, color="#777")
    top = enum.head(10)
    ax.scatter(
        top["short_interview_share"], top["repeated_answer_share"], s=30, color="crimson", label="top 10 to re-visit"
    )
    ax.set_xlabel("share of interviews that were too short")
    ax.set_ylabel("share of households with the most common answer pattern")
    ax.set_title("Enumerators: signals of poor field work")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "enumerators.png", dpi=110)
    plt.close(fig)
    return "enumerators.png"


def _table(df: pd.DataFrame, floats: str = "{:.3f}") -> str:
    return df.to_html(index=False, float_format=lambda v: floats.format(v), border=0, classes="t", escape=True)


def render_html(run_id: str, summary: list[str], images: list[str], worst: pd.DataFrame, enum: pd.DataFrame) -> str:
    items = "".join(f"<li>{html.escape(s)}</li>" for s in summary)
    imgs = "".join(f'<figure><img src="{html.escape(i)}" alt="{html.escape(i)}"></figure>' for i in images)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DTKS quality report {html.escape(run_id)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}} img{{max-width:100%}}
table.t{{border-collapse:collapse;font-size:12px}} .t td,.t th{{padding:3px 8px;border-bottom:1px solid #ddd}}</style>
</head><body>
<h1>DTKS quality report</h1><p>Run <code>{html.escape(run_id)}</code></p>
<h2>Summary</h2><ul>{items}</ul>
<h2>Plots</h2>{imgs}
<h2>Regencies with the lowest match rate</h2>{_table(worst)}
<h2>Enumerators to re-visit (highest score first)</h2>{_table(enum)}
</body></html>
"""


WORST_COLUMNS = [
    "province_code",
    "regency_code",
    "households_accepted",
    "members_listed",
    "match_rate",
    "share_not_found",
    "share_invalid_nik",
    "share_missing_nik",
    "duplicates",
    "deceased",
]
ENUMERATOR_COLUMNS = [
    "enumerator_id",
    "supervisor_id",
    "coordinator_id",
    "regency_code",
    "households",
    "median_minutes",
    "short_interview_share",
    "repeated_answer_share",
    "match_failure_share",
    "revisit_score",
    "revisit_reasons",
]


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    spark, config = ctx.spark, ctx.config
    if not tables.exists(spark, config, tables.HOUSEHOLDS):
        raise UserError(f"{config.table_path(tables.HOUSEHOLDS)} not found: run `dtks ingest` first")
    q = questionnaire.load(config)
    min_minutes = config.thresholds.min_interview_minutes
    households = tables.read(spark, config, tables.HOUSEHOLDS)
    members = tables.read(spark, config, tables.MEMBERS)
    quarantine = tables.read(spark, config, tables.QUARANTINE)
    published = tables.published_versions(spark, config)
    gold = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS) if published else None
    target = config.ranking.coverage_target
    if published:
        row = tables.read(spark, config, tables.PUBLICATIONS).orderBy(F.col("publication_id").desc()).first()
        target = row.coverage_target
    from jobs.publish import population

    pop = population(spark, config)
    # One pass over the silver and published tables, to one row per household, kept for both measures.
    hh = quality.household_frame(households, members, gold, q, min_minutes).persist(StorageLevel.MEMORY_AND_DISK)
    enumerators = None
    try:
        quarantined = (
            quarantine.where("source = 'survey_households'")
            .join(households.select(F.col("household_id").alias("record_key")), "record_key", "left_anti")
            .count()
        )
        regions_df = quality.region_quality(ctx.run_id, hh, quarantined, gold is not None, target, pop)
        # At most one row per regency (514): small enough for the driver, then written from there.
        region_rows = regions_df.collect()
        tables.replace_run(spark.createDataFrame(region_rows, regions_df.schema), config, tables.QUALITY_BY_REGION,
                           ctx.run_id)
        enumerators = quality.enumerator_quality(hh, min_minutes).withColumn("run_id", F.lit(ctx.run_id))
        enumerators = enumerators.persist(StorageLevel.MEMORY_AND_DISK)
        assessed = Observation()
        tables.replace_run(enumerators.observe(assessed, F.count(F.lit(1)).alias("n")), config,
                           tables.QUALITY_ENUMERATORS, ctx.run_id)
        enum = (
            enumerators.orderBy(F.col("revisit_score").desc(), "enumerator_id")
            .limit(TOP_ENUMERATORS)
            .select(*ENUMERATOR_COLUMNS)
            .toPandas()
        )
        n_enum = int(assessed.get["n"])
    finally:
        hh.unpersist()
        if enumerators is not None:
            enumerators.unpersist()

    reg = pd.DataFrame([r.asDict() for r in region_rows])
    sum_cols = [
        "households_accepted",
        "members_listed",
        "persons_ranked",
        "persons_covered",
        *[f"persons_decile_{d}" for d in range(1, 11)],
    ]
    for col in sum_cols:
        if col not in reg:
            reg[col] = 0
    reg["_matched"] = reg["match_rate"].astype(float) * reg["members_listed"].astype(float)
    by_prov = reg.groupby("province_code", as_index=False)[[*sum_cols, "_matched"]].sum(min_count=1).fillna(0)
    by_prov["match_rate"] = (by_prov["_matched"] / by_prov["members_listed"]).fillna(0)
    by_prov = by_prov.drop(columns="_matched").sort_values("province_code").reset_index(drop=True)
    worst = (
        reg[reg["members_listed"].fillna(0) >= 20]
        .sort_values(["match_rate", "province_code", "regency_code"])
        .head(15)[WORST_COLUMNS]
        .reset_index(drop=True)
    )

    out = config.path(args.reports_dir) / ctx.run_id
    out.mkdir(parents=True, exist_ok=True)
    covered = float(by_prov["persons_covered"].sum())
    listed = float(by_prov["members_listed"].sum())
    nat_match = float((by_prov["match_rate"] * by_prov["members_listed"]).sum() / listed) if listed else 0.0
    images = [
        _plot_deciles(by_prov, out),
        _plot_coverage(by_prov, target, covered / pop, out),
        _plot_match(by_prov, config.thresholds.min_region_match_rate, out),
        _plot_enumerators(enum, out),
    ]
    summary = [
        f"{int(by_prov['households_accepted'].sum()):,} survey households accepted; "
        f"{int(by_prov['persons_ranked'].sum()):,} persons ranked against a national population of {pop:,}",
        f"persons within coverage: {int(covered):,} = {covered / pop:.1%} of the population (target {target:.0%})",
        f"national match rate (padan): {nat_match:.1%}",
        f"{n_enum:,} enumerators assessed; top re-visit: "
        + (", ".join(enum["enumerator_id"].head(3)) if len(enum) else "none"),
    ]
    page = out / "index.html"
    page.write_text(render_html(ctx.run_id, summary, images, worst, enum))
    if not args.no_mlflow:
        _log_to_mlflow(config, ctx.run_id, out)
    return StageResult(
        rows_in=int(by_prov["households_accepted"].sum()),
        rows_out=len(by_prov),
        details={"report": str(page)},
        summary=[f"report: {page}", *[f"  {s}" for s in summary]],
    )


def _log_to_mlflow(config, run_id: str, folder: Path) -> None:
    import mlflow

    from jobs.runtime.tracking import setup_mlflow

    experiment_id = setup_mlflow(config)
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"quality-report-{run_id}",
        tags={"dtks.run_id": run_id, "dtks.kind": "quality_report"},
    ):
        mlflow.log_artifacts(str(folder), artifact_path="quality_report")


if __name__ == "__main__":
    sys.exit(main_for(NAME))
