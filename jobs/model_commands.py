"""`dtks model list | compare V1 V2 | impact [V] | promote V | rollback | train-linkage`: registry commands for
data scientists. With `--linkage`, list, compare and promote act on the linkage model (`linkage.model_name`).

Wired into jobs/cli.py by `add_model_commands(sub)` and `run_model_command(args)`. MLflow is
imported only when a command runs, so `dtks --help` stays fast. Beside the `dtks` command rather than in
models/, because `impact` and `promote` measure a version against the published nation
(jobs/policy/impact.py), and models/ imports nothing from jobs/.
"""

from __future__ import annotations

import argparse
from typing import Any

COMPARE_METRICS = ("r2", "spearman", "exclusion_error_40", "inclusion_error_40", "exclusion_error_60",
                   "inclusion_error_60", "inclusion_error_nonpoor_60", "bottom_decile_overlap",
                   "worst_province_exclusion_error_60", "worst_subgroup_exclusion_error_60", "impact_churn",
                   "impact_decile_moved_2", "n_fit", "n_holdout")
SUBGROUP_METRICS = ("exclusion_error_40", "inclusion_error_40", "exclusion_error_60", "inclusion_error_60")


def add_model_commands(subparsers: Any) -> None:
    from runtime.stage import add_common_arguments, config_flag

    parser = subparsers.add_parser("model", help="list, compare, promote and roll back ranking-model versions "
                                   "(--linkage: the linkage model's), train a linkage version")
    sub = parser.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    p = sub.add_parser("list", help="registered versions with alias, family and headline metrics")
    add_common_arguments(p)
    _linkage_flag(p)
    p = sub.add_parser("compare", help="two versions' logged metrics side by side")
    add_common_arguments(p)
    _linkage_flag(p)
    p.add_argument("v1")
    p.add_argument("v2")
    p = sub.add_parser("impact", help="who would enter and leave each programme if a version, a coverage or "
                       "programme rules went live: a shadow ranking of the published nation; writes no table")
    add_common_arguments(p)
    p.add_argument("version", nargs="?", help="registered model version (default: the published scores, "
                   "for a policy change)")
    config_flag(p, "--coverage", "ranking.coverage_target", "coverage target to measure, e.g. 0.4")
    config_flag(p, "--programs", "programs_file", "programme rules file to measure (a changed programs.yaml)")
    p.add_argument("--out", help="also write the impact tables and plot to this folder")
    p = sub.add_parser("promote", help="make a version champion within the promotion limits (the previous one "
                       "is kept for rollback)")
    add_common_arguments(p)
    p.add_argument("version")
    p.add_argument("--reason", help="why (required with --force)")
    p.add_argument("--force", action="store_true",
                   help="promote even beyond the churn and subgroup limits; records who and why")
    p.add_argument("--by", help="who forces it (default: the login name)")
    _linkage_flag(p)
    p = sub.add_parser("rollback", help="move champion back to the previous champion")
    add_common_arguments(p)
    p = sub.add_parser("train-linkage", help="train a linkage model version on the lakehouse's current round and "
                       "register it (in use only with --promote)")
    add_common_arguments(p)
    p.add_argument("--truth", help="a generated nation's truth/members folder: precision, recall and review share "
                   "measured against it and logged with the version")
    p.add_argument("--promote", action="store_true", help="make it the version ingest scores with (linkage.alias)")


def _linkage_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--linkage", action="store_true", help="the linkage model (linkage.model_name), not the ranking "
                   "model")


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

    if args.model_command == "train-linkage" or getattr(args, "linkage", False):
        _linkage_command(args)
        return
    client, name = _client(args)
    try:
        if args.model_command == "list":
            print(format_list(client, name))
        elif args.model_command == "compare":
            print(format_compare(client, name, args.v1, args.v2))
        elif args.model_command == "impact":
            show_impact(args)
        elif args.model_command == "promote":
            promote(args, client, name)
        elif args.model_command == "rollback":
            old, new = registry.rollback(client, name)
            print(f"{name}: champion rolled back from version {old} to {new}")
    except (MlflowException, ValueError) as exc:
        raise UserError(f"model {name}: {exc}") from exc


def _linkage_command(args: argparse.Namespace) -> None:
    """list, compare, promote (--linkage) and train-linkage: the linkage model's versions."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from models import linkage_versions
    from runtime.config import load_config
    from runtime.errors import UserError
    from runtime.tracking import setup_mlflow

    if args.model_command == "train-linkage":
        from jobs.ingest.link_training import train_version

        ctx = _spark_context(args)
        version, measured = train_version(ctx.spark, ctx.config, ctx.run_id, args.truth, args.promote)
        name = ctx.config.linkage.model_name
        print(f"{name}: version {version} registered" + (" and in use" if args.promote else
              f" (not in use: dtks model promote --linkage {version})"))
        print("  ".join(f"{k} {v:.4f}" if k.startswith("truth_") and v < 1.5 else f"{k} {v:,.0f}"
                        for k, v in measured.items()))
        return
    config = load_config(env=args.env, overrides=args.overrides)
    setup_mlflow(config, linkage=True)
    client, name = MlflowClient(), config.linkage.model_name
    try:
        if args.model_command == "list":
            print(format_linkage_list(client, name))
        elif args.model_command == "compare":
            print(format_linkage_compare(client, name, args.v1, args.v2))
        elif args.model_command == "promote":
            before = linkage_versions.promote(config, str(args.version), args.reason or "promoted by hand")
            print(f"{name}: version {args.version} is {config.linkage.alias} (was {before or 'none'})")
    except MlflowException as exc:
        raise UserError(f"model {name}: {exc}") from exc


def format_linkage_list(client, name: str) -> str:
    versions = _versions(client, name)
    if not versions:
        return f"{name}: no versions registered"
    lines = ["{:>7}  {:<20} {:>10} {:>9} {:>9} {:>9}  {:<34} created".format(
        "version", "aliases", "lambda", "precision", "recall", "review", "origin")]
    for v in versions:
        m = _metrics(client, v)
        lines.append(f"{v.version:>7}  {','.join(v.aliases) or '-':<20} {m.get('lambda', float('nan')):10.3g} "
                     f"{m.get('truth_precision', float('nan')):9.4f} {m.get('truth_recall', float('nan')):9.4f} "
                     f"{m.get('truth_review_share', float('nan')):9.4f}  {v.tags.get('origin', '-'):<34} "
                     f"{_date(v.creation_timestamp)}")
    return "\n".join(lines)


def format_linkage_compare(client, name: str, v1: str, v2: str) -> str:
    """λ, m and u per comparison level, and the measured quality, of two versions side by side."""
    a, b = client.get_model_version(name, str(v1)), client.get_model_version(name, str(v2))
    ma, mb = _metrics(client, a), _metrics(client, b)
    labels = client.get_run(b.run_id).data.params if b.run_id else {}
    lines = [f"{'metric':<34} {'v' + str(v1):>12} {'v' + str(v2):>12}"]
    for key in sorted(set(ma) | set(mb), key=lambda k: (k.split("/")[1:], k) if "/" in k else ([k], k)):
        lines.append(f"{key:<34} {ma.get(key, float('nan')):12.6g} {mb.get(key, float('nan')):12.6g}")
    levels = {k.removeprefix("levels/"): v for k, v in labels.items() if k.startswith("levels/")}
    if levels:
        lines.append("levels (m/<comparison>/<n>: n-th level, closest first):")
        lines += [f"  {c}: {v}" for c, v in sorted(levels.items())]
    return "\n".join(lines)


def _spark_context(args: argparse.Namespace):
    from runtime.stage import context_from_args

    ctx = context_from_args(args)
    ctx.stage = f"model {args.model_command}"
    return ctx


WHAT_IF = ("ranking.", "programs_file")  # config keys (--coverage, --programs, --set) that change the policy


def show_impact(args: argparse.Namespace) -> None:
    """Print the impact; a model version's is also logged to its training run (tables and plot)."""
    import time
    from pathlib import Path

    from jobs.policy.impact import measure
    from runtime.errors import UserError

    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} already exists and is not an empty folder: the impact tables go to a new "
                        "or empty one; nothing was written")
    ctx = _spark_context(args)
    started = time.perf_counter()
    found = measure(ctx.spark, ctx.config, args.version)
    print("\n".join(found.lines()))
    print(f"measured in {time.perf_counter() - started:.1f} s (shadow ranking; no table written)")
    if out is not None:
        found.write(out)
        print(f"impact tables and plot written to {out}")
    if args.version is not None and any(o.split("=", 1)[0].startswith(WHAT_IF) for o in args.overrides):
        # The version's run keeps the impact under the policy in force (the report shows it as measured
        # before the version went live); a what-if under another coverage or rules is the operator's only.
        print("a what-if (another coverage or programme rules): not logged to the version's MLflow run")
    elif args.version is not None:
        from mlflow import MlflowClient

        run_id = MlflowClient().get_model_version(ctx.config.mlflow.model_name, str(args.version)).run_id
        if run_id:
            found.log_to_mlflow(run_id)
            print(f"logged to MLflow run {run_id} (impact/, plots/impact_by_province.png)")


def promote(args: argparse.Namespace, client, name: str) -> None:
    """Champion within the limits (its churn measured now against the published nation, its worst subgroup
    error as logged at training); beyond them only with --force, which records who and why."""
    import getpass

    from models import metrics as targeting
    from models import registry, subgroups
    from runtime.errors import UserError
    from runtime.tables import latest_publication

    version = str(args.version)
    mv = client.get_model_version(name, version)  # fails clearly if absent
    if args.force and not args.reason:
        raise UserError("dtks model promote --force needs --reason: say why the limits are overridden")
    ctx = _spark_context(args)
    promotion = ctx.config.promotion
    churn = None
    if latest_publication(ctx.spark, ctx.config) is not None:
        from jobs.policy.impact import measure

        churn = measure(ctx.spark, ctx.config, version).churn
    logged = _metrics(client, mv)
    worst = targeting.worst_subgroup(logged, promotion.subgroup_error, list(subgroups.SUBGROUPS),
                                     promotion.min_subgroup_households)
    failed = registry.limits_exceeded(churn, worst, promotion)
    if failed and not args.force:
        raise UserError(f"model {name} version {version} not promoted: {'; '.join(failed)} "
                        "(to override: --force --reason WHY)")
    if args.force:
        who = args.by or getpass.getuser()
        reason = f"forced by {who}: {args.reason}" + (f" (over: {'; '.join(failed)})" if failed else "")
        registry.set_champion(client, name, version, reason)
        client.set_model_version_tag(name, version, "forced_by", who)
        client.set_model_version_tag(name, version, "forced_reason", args.reason)
    else:
        measured = "churn not measured: no publication" if churn is None else f"churn {churn:.2%}"
        registry.set_champion(client, name, version,
                              f"{args.reason or 'promoted by hand (dtks model promote)'}; within the limits "
                              f"({measured})")
    print(f"{name}: version {version} is champion" + (f" ({reason})" if args.force else ""))


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
    from models.subgroups import SUBGROUPS

    lines.append("held-out errors by subgroup (national flags within the subgroup; n = held-out households):")
    for group in SUBGROUPS:
        for key in ("n", *SUBGROUP_METRICS):
            x = ma.get(f"subgroup_{group}_{key}", float("nan"))
            y = mb.get(f"subgroup_{group}_{key}", float("nan"))
            lines.append(f"  {group + ' ' + key:<32} {x:10.4f} {y:10.4f} {y - x:+10.4f}")
    for tag in ("family", "training_table_version", "code_version", "role", "promotion_reason", "forced_by"):
        lines.append(f"{tag:<34} {a.tags.get(tag, '-')!s:>10} {b.tags.get(tag, '-')!s:>10}")
    if a.tags.get("training_table_version") != b.tags.get("training_table_version"):
        lines.append("note: trained on different table versions; the held-out households are the same "
                     "(hash split) but their data may differ. The promotion at training time re-evaluates "
                     "the champion on the new hold-out.")
    return "\n".join(lines)


def _date(ms: int | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp((ms or 0) / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M") if ms else "-"

