"""`dtks model list | compare V1 V2 | promote V | rollback`: registry commands for data scientists.

Wired into jobs/cli.py by `add_model_commands(sub)` and `run_model_command(args)`. MLflow is
imported only when a command runs, so `dtks --help` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

COMPARE_METRICS = ("r2", "spearman", "exclusion_error_40", "inclusion_error_40", "exclusion_error_60",
                   "inclusion_error_60", "inclusion_error_nonpoor_60", "bottom_decile_overlap",
                   "worst_province_exclusion_error_60", "n_fit", "n_holdout")


def add_model_commands(subparsers: Any) -> None:
    from runtime.stage import add_common_arguments

    parser = subparsers.add_parser("model", help="list, compare, promote and roll back ranking-model versions")
    sub = parser.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    p = sub.add_parser("list", help="registered versions with alias, family and headline metrics")
    add_common_arguments(p)
    p = sub.add_parser("compare", help="two versions' logged metrics side by side")
    add_common_arguments(p)
    p.add_argument("v1")
    p.add_argument("v2")
    p = sub.add_parser("promote", help="make a version champion (the previous one is kept for rollback)")
    add_common_arguments(p)
    p.add_argument("version")
    p.add_argument("--reason", default="promoted by hand (dtks model promote)")
    p = sub.add_parser("rollback", help="move champion back to the previous champion")
    add_common_arguments(p)


def run_model_command(args: argparse.Namespace) -> int:
    """Run one `dtks model` action; user errors come back as one line and exit code 2."""
    from runtime.stage import guarded

    return guarded(lambda: _dispatch(args))


def _client(args: argparse.Namespace):
    from mlflow import MlflowClient

    from runtime.config import load_config
    from runtime.tracking import setup_mlflow

    config = load_config(env=args.env, overrides=args.overrides)
    setup_mlflow(config)
    return MlflowClient(), config.mlflow.model_name


def _dispatch(args: argparse.Namespace) -> None:
    from mlflow.exceptions import MlflowException

    from models import registry
    from runtime.errors import UserError

    client, name = _client(args)
    try:
        if args.model_command == "list":
            print(format_list(client, name))
        elif args.model_command == "compare":
            print(format_compare(client, name, args.v1, args.v2))
        elif args.model_command == "promote":
            client.get_model_version(name, str(args.version))  # fails clearly if absent
            registry.set_champion(client, name, str(args.version), args.reason)
            print(f"{name}: version {args.version} is champion")
        elif args.model_command == "rollback":
            old, new = registry.rollback(client, name)
            print(f"{name}: champion rolled back from version {old} to {new}")
    except (MlflowException, ValueError) as exc:
        raise UserError(f"model {name}: {exc}") from exc


def _versions(client, name: str) -> list:
    found = client.search_model_versions(f"name = '{name}'")
    # search results carry no aliases: fetch each version
    return [client.get_model_version(name, v) for v in sorted({int(v.version) for v in found})]


def _metrics(client, version) -> dict[str, float]:
    return client.get_run(version.run_id).data.metrics if version.run_id else {}


def format_list(client, name: str) -> str:
    versions = _versions(client, name)
    if not versions:
        return f"{name}: no versions registered"
    header = ("version", "aliases", "family", "table_v", "spearman", "excl_60", "incl_60")
    lines = ["{:>7}  {:<20} {:<18} {:>7} {:>8} {:>8} {:>8}  created".format(*header)]
    for v in versions:
        m = _metrics(client, v)
        aliases = ",".join(v.aliases) or "-"
        lines.append(
            f"{v.version:>7}  {aliases:<20} {v.tags.get('family', '-'):<18} "
            f"{v.tags.get('training_table_version', '-'):>7} "
            f"{m.get('spearman', float('nan')):8.4f} {m.get('exclusion_error_60', float('nan')):8.4f} "
            f"{m.get('inclusion_error_60', float('nan')):8.4f}  {_date(v.creation_timestamp)}"
        )
    history = registry_history(client, name)
    if history:
        lines.append(f"champion history (oldest first): {' -> '.join(history)}")
    return "\n".join(lines)


def registry_history(client, name: str) -> list[str]:
    from models.registry import history

    return history(client, name)


def format_compare(client, name: str, v1: str, v2: str) -> str:
    a, b = client.get_model_version(name, str(v1)), client.get_model_version(name, str(v2))
    ma, mb = _metrics(client, a), _metrics(client, b)
    lines = [f"{'metric':<34} {'v' + str(v1):>10} {'v' + str(v2):>10} {'diff':>10}"]
    for key in COMPARE_METRICS:
        x, y = ma.get(key, float("nan")), mb.get(key, float("nan"))
        lines.append(f"{key:<34} {x:10.4f} {y:10.4f} {y - x:+10.4f}")
    for tag in ("family", "training_table_version", "code_version", "role", "promotion_reason"):
        lines.append(f"{tag:<34} {a.tags.get(tag, '-')!s:>10} {b.tags.get(tag, '-')!s:>10}")
    if a.tags.get("training_table_version") != b.tags.get("training_table_version"):
        lines.append("note: trained on different table versions; the held-out households are the same "
                     "(hash split) but their data may differ. The promotion at training time re-evaluates "
                     "the champion on the new hold-out.")
    return "\n".join(lines)


def _date(ms: int | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp((ms or 0) / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M") if ms else "-"

