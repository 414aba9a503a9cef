"""Model Registry conventions: aliases `champion` and `challenger`, never stages.

The champion's history is kept in the registered-model tag `champion_history` (JSON list of
versions, oldest first), so `rollback` can move the alias back to the previous champion. Every
alias move is also written as model-version tags (`role`, `promotion_reason`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.registry_reads import CHAMPION
from runtime.config import PromotionConfig

CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
log = logging.getLogger("dtks.models")


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(metric: str, new: float, current: float | None, higher_is_better: bool, min_improvement: float) -> Decision:
    """Promote only when the new value beats the champion's on the same held-out data by more than the margin."""
    if current is None:
        return Decision(True, "first version: no champion yet")
    if math.isnan(new):
        return Decision(False, f"{metric} of the new version is undefined")
    improvement = (new - current) if higher_is_better else (current - new)
    direction = "higher" if higher_is_better else "lower"
    text = (f"{metric} {new:.4f} vs champion {current:.4f} "
            f"({direction} is better, required margin > {min_improvement:g})")
    if math.isnan(current) or improvement > min_improvement:
        return Decision(True, "beats champion: " + text)
    return Decision(False, "does not beat champion: " + text)


def limits_exceeded(churn: float | None, worst: tuple[str, float] | None, promotion: PromotionConfig) -> list[str]:
    """The promotion limits a candidate exceeds, each named with its config key: its churn (share of persons
    changing eligibility for any programme; None when no publication was there to measure it against) and
    its worst subgroup's held-out error (None when no subgroup had enough held-out households)."""
    failed = []
    if churn is not None and churn > promotion.max_churn:
        failed.append(f"churn {churn:.2%} of persons exceeds promotion.max_churn {promotion.max_churn:.2%}")
    if worst is not None and worst[1] > promotion.max_subgroup_error:
        failed.append(f"subgroup {worst[0]} {promotion.subgroup_error} {worst[1]:.3f} exceeds "
                      f"promotion.max_subgroup_error {promotion.max_subgroup_error:g}")
    return failed


def gate(decision: Decision, failed: list[str], churn: float | None) -> Decision:
    """The metric decision held back by any exceeded limit; the reason names every limit."""
    measured = "churn not measured: no publication yet" if churn is None else f"churn {churn:.2%}"
    if failed:
        return Decision(False, f"{decision.reason}; held back: {'; '.join(failed)}")
    return Decision(decision.promote, f"{decision.reason}; within the limits ({measured})")


def champion_version(client: MlflowClient, name: str) -> str | None:
    return alias_version(client, name, CHAMPION)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def history(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags
    return [str(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def set_champion(client: MlflowClient, name: str, version: str, reason: str, record: bool = True) -> None:
    """Move `champion` to a version; the previous champion is remembered for rollback."""
    version = str(version)
    previous = champion_version(client, name)
    client.set_registered_model_alias(name, CHAMPION, version)
    if alias_version(client, name, CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    if record:
        past = history(client, name)
        if previous is not None and (not past or past[-1] != previous):
            past.append(previous)
        if not past or past[-1] != version:
            past.append(version)
        client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(past))
    client.set_model_version_tag(name, version, "role", CHAMPION)
    client.set_model_version_tag(name, version, "promotion_reason", reason)
    client.set_model_version_tag(name, version, "promoted_at", _now())
    if previous is not None and previous != version:
        client.set_model_version_tag(name, previous, "role", "former champion")
    log.info("model %s version %s is champion: %s", name, version, reason)


def set_challenger(client: MlflowClient, name: str, version: str, reason: str) -> None:
    client.set_registered_model_alias(name, CHALLENGER, str(version))
    client.set_model_version_tag(name, str(version), "role", CHALLENGER)
    client.set_model_version_tag(name, str(version), "promotion_reason", reason)
    log.info("model %s version %s is challenger: %s", name, version, reason)


def rollback(client: MlflowClient, name: str) -> tuple[str, str]:
    """Move champion back to the previous champion; returns (from, to)."""
    current = champion_version(client, name)
    past = history(client, name)
    if current is None:
        raise ValueError(f"model {name} has no champion to roll back")
    while past and past[-1] == current:
        past.pop()
    if not past:
        raise ValueError(f"model {name}: no earlier champion than version {current} in {HISTORY_TAG}")
    target = past[-1]
    client.set_registered_model_alias(name, CHAMPION, target)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(past))
    client.set_model_version_tag(name, current, "role", "rolled back")
    client.set_model_version_tag(name, target, "role", CHAMPION)
    client.set_model_version_tag(name, target, "promotion_reason", f"rollback from version {current}")
    log.info("model %s: champion rolled back from version %s to %s", name, current, target)
    return current, target
