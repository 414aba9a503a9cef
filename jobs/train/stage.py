"""Stage `train`: fit the ranking model on silver_training, log and register it in MLflow.

Thin on purpose: the model, its metrics and the promotion rule live in models/.
"""

from __future__ import annotations

import argparse
import sys

from runtime import tables
from runtime.runs import StageResult
from runtime.stage import StageContext, config_flag, main_for

NAME = "train"
HELP = ("fit the ranking model on silver_training, log it to MLflow and register it; it becomes champion "
        "only if it beats the current one within the churn and subgroup limits")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    config_flag(parser, "--family", "model.family", "model family")
    parser.add_argument("--no-promote", action="store_true",
                        help="register the new version as challenger, whatever its metrics")


def run(ctx: StageContext, args: argparse.Namespace) -> StageResult:
    from models.features import load_spec
    from models.training import collect_training, train

    spark, config = ctx.spark, ctx.config
    table_version = tables.version(spark, config, tables.TRAINING)
    if table_version is None:
        from runtime.errors import UserError

        raise UserError(f"table {tables.TRAINING} not found under {config.lakehouse}: run `dtks ingest` first")
    df = tables.read(spark, config, tables.TRAINING, version=table_version)
    ctx.step("sample", f"reading the training sample ({tables.TRAINING} version {table_version})")
    frame = collect_training(df, load_spec(config), config)
    ctx.step("fit", f"fitting a {config.model.family} model and logging it to MLflow")

    def impact(version: str):
        """The new version's shadow ranking of the published nation (none before the first publish)."""
        from jobs.policy.impact import measure

        if tables.latest_publication(spark, config) is None:
            return None
        ctx.step("impact", f"measuring version {version}'s impact on the published nation (shadow ranking)")
        return measure(spark, config, version)

    outcome = train(frame, config, promote=not getattr(args, "no_promote", False),
                    table_version=table_version, pipeline_run_id=ctx.run_id, impact=impact)
    metrics = outcome.metrics
    return StageResult(
        rows_in=outcome.n_rows,
        rows_out=1,
        model_version=outcome.version,
        details={
            "model_name": config.mlflow.model_name, "family": outcome.family, "mlflow_run_id": outcome.run_id,
            "alias": "champion" if outcome.promoted else "challenger", "training_table_version": str(table_version),
            "promotion_reason": outcome.reason,
            **({"impact_churn": f"{outcome.impact.churn:.4f}"} if outcome.impact is not None else {}),
            **{k: f"{metrics[k]:.4f}" for k in ("r2", "spearman", "exclusion_error_40", "exclusion_error_60",
                                                "inclusion_error_40", "inclusion_error_60")},
        },
        summary=outcome.summary(),
    )


if __name__ == "__main__":
    sys.exit(main_for(sys.modules[__name__]))
