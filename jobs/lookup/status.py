"""`dtks status`: what an operator checks first. The last run of each stage, the latest publication,
the champion model with its headline metrics, and who holds the lakehouse lock.

It reads and never writes: it takes no lock (the holder is read from the lock file, and a holder whose
process has ended is reported as interrupted), and reads `pipeline_runs` and `publications` through
the table catalog, so it works while a run is going. On a local lakehouse it reads them with `deltalake`
(its SQL path, which reads deletion vectors) and starts no Spark, and it reads the champion from a SQLite
MLflow store without importing MLflow: a help desk's question is answered in seconds. An object-store lakehouse
is read through Spark, with the session's storage settings; a tracking server through MLflow's client.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from models import registry_reads
from runtime import delta_reads, lock, tables
from runtime.console import say
from runtime.stage import StageContext

HEADLINE_METRICS = ("r2", "spearman", "exclusion_error_40", "inclusion_error_40", "exclusion_error_60",
                    "inclusion_error_60")


def _present(ctx: StageContext, name: str) -> bool:
    """Whether a table exists (a local one without Spark)."""
    if _without_spark(ctx):
        return delta_reads.exists(ctx.config, name)
    return tables.exists(ctx.spark, ctx.config, name)


def _without_spark(ctx: StageContext) -> bool:
    return delta_reads.local(ctx.config)


LATEST_RUNS = ("SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY stage ORDER BY finished_at DESC, run_id DESC)"
               " AS _n FROM t) WHERE _n = 1 ORDER BY finished_at")


def stages(ctx: StageContext) -> list[dict[str, Any]]:
    """The latest pipeline_runs row of each stage (one row per stage reaches this process)."""
    if not _present(ctx, tables.PIPELINE_RUNS):
        return []
    if _without_spark(ctx):
        rows = delta_reads.query(ctx.config, tables.PIPELINE_RUNS, LATEST_RUNS)
    else:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        latest = Window.partitionBy("stage").orderBy(F.col("finished_at").desc(), F.col("run_id").desc())
        rows = [r.asDict() for r in tables.read(ctx.spark, ctx.config, tables.PIPELINE_RUNS)
                .withColumn("_n", F.row_number().over(latest)).where("_n = 1").orderBy("finished_at").collect()]
    return [{"stage": r["stage"], "run_id": r["run_id"], "status": r["status"],
             "finished_at": r["finished_at"].isoformat(), "seconds": round(r["seconds"], 1),
             "rows_in": r["rows_in"], "rows_out": r["rows_out"], "message": r["message"]} for r in rows]


def publication(ctx: StageContext) -> dict[str, Any] | None:
    if not _present(ctx, tables.PUBLICATIONS):
        return None
    if _without_spark(ctx):
        data = delta_reads.latest_publication(ctx.config)
    else:
        row = tables.latest_publication(ctx.spark, ctx.config)
        data = row.asDict() if row is not None else None
    if data is None:
        return None
    return {"publication_id": data["publication_id"], "run_id": data["run_id"],
            "published_at": data["published_at"].isoformat(), "coverage_target": data["coverage_target"],
            "population": data.get("population"), "models": data["models"], "versions": dict(data["versions"])}


def champion(ctx: StageContext) -> dict[str, Any] | None:
    """The champion's version, family and headline metrics. A SQLite store is read without MLflow
    (models/registry_reads.py: MLflow's import and store cost seconds); a tracking server, or a store MLflow
    has laid out otherwise, through MLflow's client."""
    uri, name = ctx.config.mlflow.tracking_uri, ctx.config.mlflow.model_name
    if uri.startswith("sqlite:///"):
        db = ctx.config.path(uri.removeprefix("sqlite:///"))
        if not db.exists():  # no model trained yet: say so without creating a store
            return None
        uri = f"sqlite:///{db}"
        try:
            found = registry_reads.aliased_version(db, name, registry_reads.CHAMPION)
        except sqlite3.Error:
            found = _champion_from_mlflow(uri, name)
    else:
        found = _champion_from_mlflow(uri, name)
    if found is None:
        return None
    return {"model": name, "version": found.version, "family": found.tags.get("family"),
            "metrics": {k: round(found.metrics[k], 4) for k in HEADLINE_METRICS if k in found.metrics}}


def _champion_from_mlflow(uri: str, name: str) -> registry_reads.AliasedVersion | None:
    from mlflow import MlflowClient

    from models.registry import champion_version

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = champion_version(client, name)
    if version is None:
        return None
    mv = client.get_model_version(name, version)
    metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
    return registry_reads.AliasedVersion(version, dict(mv.tags), dict(metrics))


def collect(ctx: StageContext) -> dict[str, Any]:
    """Everything `dtks status` shows, as plain data (the `--json` output)."""
    return {"lakehouse": ctx.config.lakehouse, "lock": lock.holder(ctx.config), "stages": stages(ctx),
            "publication": publication(ctx), "champion": champion(ctx)}


def render(status: dict[str, Any]) -> str:
    """The plain-text view."""
    out = [f"lakehouse {status['lakehouse']}"]
    held = status["lock"]
    if held is None:
        out.append("lock: free")
    else:
        state = "held" if held["alive"] else "left by an interrupted run (the next run takes it over)"
        out.append(f"lock: {state}: run {held.get('run_id', '?')}, stage {held.get('stage', '?')}, "
                   f"pid {held.get('pid', '?')} on {held.get('host', '?')}, since {held.get('since', '?')}")
    if not status["stages"]:
        out.append("stages: no run recorded yet (start with `dtks run`)")
    else:
        out.append("last run of each stage:")
        for s in status["stages"]:
            rows = f"rows in {_n(s['rows_in'])}, out {_n(s['rows_out'])}"
            out.append(f"  {s['stage']:<10} {s['status']:<9} {s['finished_at'][:19]}  {s['seconds']:>7.1f} s  "
                       f"{rows}  run {s['run_id']}")
            if s["status"] != "SUCCEEDED" and s["message"]:
                out.append(f"             {s['message'].splitlines()[0][:160]}")
    pub = status["publication"]
    if pub is None:
        out.append("publication: none yet")
    else:
        versions = ", ".join(f"{k} v{v}" for k, v in sorted(pub["versions"].items()))
        out.append(f"publication {pub['publication_id']}: run {pub['run_id']} at {pub['published_at'][:19]}, "
                   f"coverage target {pub['coverage_target']:.0%}, models {pub['models']}")
        out.append(f"  tables: {versions}")
    champ = status["champion"]
    if champ is None:
        out.append("champion model: none (run `dtks train`)")
    else:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in champ["metrics"].items())
        out.append(f"champion model: {champ['model']} v{champ['version']} ({champ['family'] or '-'}): {metrics}")
    return "\n".join(out)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def show(ctx: StageContext, as_json: bool) -> None:
    status = collect(ctx)
    say(json.dumps(status, indent=2, default=str) if as_json else render(status))
