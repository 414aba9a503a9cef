"""Fit, evaluate, log, register and (maybe) promote one ranking-model version.

The training table is the consumption-module sample, a few per cent of households: it is
collected to the driver with toPandas (only the columns the model needs) and fitted there.
Scoring the whole nation never collects: see compile.py and pyfunc.py.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from pyspark.sql import DataFrame

from models import metrics as targeting
from models import pmt, registry, subgroups
from models.features import (
    HH_SIZE,
    HOUSEHOLD_ID,
    WEIGHT,
    FeatureSpec,
    is_holdout,
    load_spec,
)
from models.impact import Impact
from models.pyfunc import OUTPUT_COLUMN, RankingModel, pip_requirements
from runtime import runs
from runtime.config import DtksConfig
from runtime.questionnaire import PROVINCE
from runtime.tracking import setup_mlflow

ORACLE = "oracle_log_consumption"  # noise-free generating formula: synthetic data only, never a feature
HEADLINE = ("r2", "spearman", "exclusion_error_40", "exclusion_error_60", "inclusion_error_40", "inclusion_error_60",
            "bottom_decile_overlap")
log = logging.getLogger("dtks.models")


@dataclass
class TrainingOutcome:
    version: str
    run_id: str
    family: str
    promoted: bool
    reason: str
    metrics: dict[str, float]
    by_province: pd.DataFrame
    n_rows: int
    holdout: pd.DataFrame = field(repr=False)
    holdout_predictions: np.ndarray = field(repr=False)
    by_subgroup: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    impact: Impact | None = field(default=None, repr=False)

    def summary(self) -> list[str]:
        m = self.metrics
        role = registry.CHAMPION if self.promoted else registry.CHALLENGER
        lines = [
            f"model {self.family} v{self.version} ({role}): R2 {m['r2']:.3f}, Spearman {m['spearman']:.3f}",
            f"  at 40%: exclusion error {m['exclusion_error_40']:.3f}, inclusion error {m['inclusion_error_40']:.3f}",
            f"  at 60%: exclusion error {m['exclusion_error_60']:.3f}, inclusion error {m['inclusion_error_60']:.3f}",
            f"  {self.reason}",
        ]
        if self.impact is not None:
            found = self.impact
            lines.insert(-1, f"  impact on publication {found.publication_id}: {found.churn:.2%} of persons change "
                             f"eligibility, {found.decile_moved_2:.2%} of households move 2+ deciles")
        if "oracle_spearman" in m:
            ratio = m["spearman_oracle_ratio"]
            lines.insert(1, f"  oracle Spearman {m['oracle_spearman']:.3f} (model/oracle {ratio:.3f})")
        return lines


def training_columns(spec: FeatureSpec, available: list[str], extra: list[str] = ()) -> list[str]:
    cols = [HOUSEHOLD_ID, PROVINCE, WEIGHT, HH_SIZE, spec.target, *spec.input_columns]
    missing = [c for c in cols if c not in available]
    if missing:
        from runtime.errors import InputContractError

        raise InputContractError(f"training table lacks the model's columns: {missing}")
    cols += [c for c in extra if c in available]
    if ORACLE in available:
        cols.append(ORACLE)
    return list(dict.fromkeys(cols))


def champion_input_columns(config: DtksConfig) -> list[str]:
    """The current champion's input columns, so it can be re-evaluated on the new hold-out."""
    setup_mlflow(config)
    client = MlflowClient()
    try:
        client.get_registered_model(config.mlflow.model_name)
    except MlflowException:
        return []
    if registry.champion_version(client, config.mlflow.model_name) is None:
        return []
    info = mlflow.models.get_model_info(f"models:/{config.mlflow.model_name}@{registry.CHAMPION}")
    schema = info.signature.inputs if info.signature else None
    return list(schema.input_names()) if schema is not None else []


def collect_training(df: DataFrame, spec: FeatureSpec, config: DtksConfig | None = None) -> pd.DataFrame:
    """The training sample on the driver (a few per cent of households): model columns only.

    With a config, the current champion's input columns come along too, for the comparison. The subgroups'
    columns too, when the table has them: errors are reported per subgroup.
    """
    extra = [*(champion_input_columns(config) if config is not None else []), *subgroups.COLUMNS]
    return df.select(*training_columns(spec, df.columns, extra)).toPandas()


def evaluate_predictions(
    holdout: pd.DataFrame, pred: np.ndarray, spec: FeatureSpec
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Overall and per-province metrics of predictions for held-out households, and the evaluation frame."""
    frame = targeting.evaluation_frame(holdout[HOUSEHOLD_ID], holdout[PROVINCE], holdout[spec.target].to_numpy(), pred,
                               holdout[WEIGHT].to_numpy(), holdout[HH_SIZE].to_numpy())
    overall, by_province = targeting.evaluate(frame)
    return overall, by_province, frame


def train(
    frame: pd.DataFrame,
    config: DtksConfig,
    family: str | None = None,
    promote: bool = True,
    table_version: int | None = None,
    pipeline_run_id: str | None = None,
    impact: Callable[[str], Impact | None] | None = None,
) -> TrainingOutcome:
    """Fit on the training split, evaluate on the hash hold-out, log to MLflow, register, decide the alias.

    `impact(version)` measures the registered version against the published nation (None when nothing is
    published): logged to the run, and its churn is one of the promotion gate's limits."""
    spec = load_spec(config)
    family = family or config.model.family
    frame = frame.reset_index(drop=True)
    mask = is_holdout(frame[HOUSEHOLD_ID], config.model.holdout_share)
    fit_df, holdout = frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
    if len(fit_df) < 10 or len(holdout) < 10:
        from runtime.errors import UserError

        raise UserError(f"training table too small to fit and evaluate: {len(fit_df)} fit / {len(holdout)} held out")
    estimator = pmt.fit(family, fit_df, fit_df[WEIGHT].to_numpy(), spec, config.model)
    wrapper = RankingModel(estimator)
    features = holdout[spec.input_columns]
    pred = wrapper.predict(None, features)
    overall, by_province, eval_frame = evaluate_predictions(holdout, pred, spec)
    if ORACLE in holdout.columns:
        pop = eval_frame["pop_weight"].to_numpy()
        oracle = holdout[ORACLE].to_numpy()
        overall["oracle_spearman"] = targeting.weighted_spearman(eval_frame["y_true"].to_numpy(), oracle, pop)
        overall["spearman_oracle_ratio"] = overall["spearman"] / overall["oracle_spearman"]
    overall["n_fit"], overall["n_holdout"] = float(len(fit_df)), float(len(holdout))
    if len(by_province):
        overall["worst_province_exclusion_error_60"] = float(by_province["exclusion_error_60"].max())
        overall["worst_province_spearman"] = float(by_province["spearman"].min())
    by_subgroup = targeting.evaluate_subgroups(eval_frame, subgroups.masks(holdout))
    overall.update(targeting.subgroup_metrics(by_subgroup))
    promotion = config.promotion
    worst = targeting.worst_subgroup(overall, promotion.subgroup_error, list(subgroups.SUBGROUPS),
                                     promotion.min_subgroup_households)
    if worst is not None:
        overall[f"worst_subgroup_{promotion.subgroup_error}"] = worst[1]

    experiment_id = setup_mlflow(config)
    client = MlflowClient()
    name = config.mlflow.model_name
    code_version = runs.code_version()
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{family}-{pipeline_run_id or 'adhoc'}") as run:
        mlflow.set_tags({
            "dtks.family": family, "dtks.code_version": code_version,
            "dtks.training_table_version": str(table_version), "dtks.pipeline_run_id": str(pipeline_run_id),
        })
        mlflow.log_params({
            "family": family, "training_table": "silver_training", "training_table_version": table_version,
            "code_version": code_version, "holdout_share": config.model.holdout_share,
            "ridge_alpha": config.model.ridge_alpha, "region_alpha": config.model.region_alpha,
            "urban_slopes": config.model.urban_slopes, "gbm_max_iter": config.model.gbm_max_iter,
            "gbm_learning_rate": config.model.gbm_learning_rate, "gbm_max_leaf_nodes": config.model.gbm_max_leaf_nodes,
            "quantile": config.model.quantile, "quantile_alpha": config.model.quantile_alpha,
            "n_numeric": len(spec.numeric), "n_categorical": len(spec.categorical),
            "region_effects": ",".join(spec.region_effects), **estimator.params(),
        })
        mlflow.log_metrics({k: float(v) for k, v in overall.items() if np.isfinite(v)})
        _log_artifacts(estimator, spec, overall, by_province, by_subgroup, eval_frame)
        signature = infer_signature(features, pd.Series(pred, name=OUTPUT_COLUMN))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=wrapper, signature=signature, input_example=features.head(5),
            registered_model_name=name, pip_requirements=pip_requirements(),
        )
        version = str(info.registered_model_version)
        for key, value in {"family": family, "training_table_version": str(table_version),
                           "code_version": code_version, "run_id": run.info.run_id}.items():
            client.set_model_version_tag(name, version, key, value)
        found = impact(version) if impact is not None else None
        if found is not None:
            found.log_to_mlflow(run.info.run_id)
        decision = _promotion_decision(client, config, name, version, holdout, overall, spec, promote)
        churn = found.churn if found is not None else None
        decision = registry.gate(decision, registry.limits_exceeded(churn, worst, promotion), churn)
        if decision.promote:
            registry.set_champion(client, name, version, decision.reason)
        else:
            registry.set_challenger(client, name, version, decision.reason)
        mlflow.set_tags({"dtks.promotion": registry.CHAMPION if decision.promote else registry.CHALLENGER,
                         "dtks.promotion_reason": decision.reason})
    return TrainingOutcome(
        version=version, run_id=run.info.run_id, family=family, promoted=decision.promote, reason=decision.reason,
        metrics=overall, by_province=by_province, n_rows=len(frame), holdout=holdout, holdout_predictions=pred,
        by_subgroup=by_subgroup, impact=found,
    )


def _promotion_decision(
    client: MlflowClient, config: DtksConfig, name: str, version: str, holdout: pd.DataFrame,
    overall: dict[str, float], spec: FeatureSpec, promote: bool,
) -> registry.Decision:
    """Evaluate the current champion on *this* hold-out split and compare on the configured metric."""
    metric = config.promotion.metric
    champion = registry.champion_version(client, name)
    current: float | None = None
    if champion is not None and champion != version:
        try:
            champ_model = mlflow.pyfunc.load_model(f"models:/{name}@{registry.CHAMPION}")
            champ_pred = np.asarray(champ_model.predict(holdout[champ_model.metadata.get_input_schema().input_names()]),
                                    dtype=np.float64)
            champ_metrics, _, _ = evaluate_predictions(holdout, champ_pred, spec)
        except Exception as exc:  # noqa: BLE001 - a broken champion is not replaced silently: a human decides
            log.warning("champion v%s could not be evaluated on the new hold-out: %s", champion, exc)
            reason = f"champion v{champion} could not be evaluated on this hold-out: {exc}"
            return registry.Decision(False, reason[:500])
        mlflow.log_metrics({f"champion_{k}": float(v) for k, v in champ_metrics.items() if np.isfinite(v)})
        mlflow.set_tag("dtks.compared_with_champion", champion)
        current = champ_metrics[metric]
    decision = registry.decide(metric, overall[metric], current, targeting.higher_is_better(metric),
                               config.promotion.min_improvement)
    if current is not None:
        reason = f"{decision.reason} (champion v{champion} re-evaluated on this hold-out)"
        decision = registry.Decision(decision.promote, reason)
    if not promote:
        return registry.Decision(False, f"promotion disabled (--no-promote); {decision.reason}")
    return decision


def _log_artifacts(estimator: pmt.Estimator, spec: FeatureSpec, overall: dict[str, float],
                   by_province: pd.DataFrame, by_subgroup: pd.DataFrame, eval_frame: pd.DataFrame) -> None:
    """Tables and plots; aggregates only, never household rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = targeting.targeting_curve(eval_frame)
    calib = targeting.calibration(eval_frame)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        by_province.to_csv(out / "per_province_metrics.csv", index=False)
        by_subgroup.to_csv(out / "subgroup_metrics.csv", index=False)
        curve.to_csv(out / "targeting_curve.csv", index=False)
        calib.to_csv(out / "calibration.csv", index=False)
        (out / "metric_definitions.json").write_text(json.dumps(targeting.DEFINITIONS, indent=2))
        (out / "feature_spec.json").write_text(json.dumps(spec.to_dict(), indent=2, default=str))
        (out / "metrics.json").write_text(json.dumps(overall, indent=2))
        if isinstance(estimator, pmt.LinearPMT):
            estimator.coefficients().to_csv(out / "coefficients.csv", index=False)
        mlflow.log_artifacts(str(out), artifact_path="evaluation")

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(calib["mean_predicted"], calib["mean_true"], "o-", label="by predicted decile")
    lo, hi = calib[["mean_predicted", "mean_true"]].min().min(), calib[["mean_predicted", "mean_true"]].max().max()
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
    ax.set_xlabel("mean predicted log consumption per capita")
    ax.set_ylabel("mean true log consumption per capita")
    ax.set_title("Calibration (held-out, person-weighted deciles)")
    ax.legend()
    fig.tight_layout()
    mlflow.log_figure(fig, "plots/calibration.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(curve["coverage"], curve["exclusion_error"], "o-", label="exclusion: poor not selected")
    ax.plot(curve["coverage"], curve["inclusion_error"], "s-", label="inclusion: selected not poor")
    ax.plot(curve["coverage"], curve["inclusion_error_nonpoor"], "^--", label="non-poor who are selected")
    ax.set_xlabel("coverage (share of persons selected)")
    ax.set_ylabel("error")
    ax.set_title("Targeting error against coverage (held-out)")
    ax.legend()
    fig.tight_layout()
    mlflow.log_figure(fig, "plots/targeting_curve.png")
    plt.close(fig)
