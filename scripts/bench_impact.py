"""Impact benchmark: `dtks model impact V` on a lakehouse that holds a publication, against that publish.

Takes the work folder of a bench_update.py size (<work>/<households>/update_app: lakehouse/, mlflow.db,
mlartifacts/, after its full round and update round). Trains a challenger there (`dtks train --family F
--no-promote`, which measures its impact once as part of training) unless `--version` names one, then times
`dtks model impact V` as its own process. The bar (issue 22): the impact run takes at most the time of one
publish, the latest publish stage recorded in that lakehouse's pipeline_runs. Results go to
<app>/impact.json and a section of docs/BENCHMARKS.md between the markers below.

    DTKS_NIK_KEY=... .venv/bin/python scripts/bench_impact.py --app /tmp/bw/1000000/update_app
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import ROOT, env_for_stages, pipeline_runs, replace_section, run_process, stage_record  # noqa: E402

BEGIN, END = "<!-- impact -->", "<!-- /impact -->"


def cli(app: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "jobs.cli", *args, "--env", "local",
            "--set", f"lakehouse_root={app / 'lakehouse'}",
            "--set", f"mlflow.tracking_uri=sqlite:///{app / 'mlflow.db'}",
            "--set", f"mlflow.artifact_root={app / 'mlartifacts'}"]


def bench(args: argparse.Namespace) -> dict[str, Any]:
    app = Path(args.app)
    (app / "logs").mkdir(exist_ok=True)
    rows = pipeline_runs(app / "lakehouse")
    publishes = [r for r in rows if r["stage"] == "publish" and r["status"] == "SUCCEEDED"]
    if not publishes:
        raise SystemExit(f"no publish recorded in {app / 'lakehouse'}")
    out: dict[str, Any] = {"publish": stage_record(publishes[-1]),
                           "households": publishes[-1]["rows_out"]}
    version = args.version
    if version is None:
        result = run_process("train", cli(app, "train", "--family", args.family, "--no-promote"), env_for_stages(),
                             app, app / "logs" / "impact_train.log")
        if result["rc"] != 0:
            raise SystemExit(f"train failed: see {result['log']}")
        train = [r for r in pipeline_runs(app / "lakehouse") if r["stage"] == "train"][-1]
        version = train["model_version"]
        out["train"] = {**result, **stage_record(train)}
        print(f"  train    {result['wall_s']:7.1f} s wall (stage {train['seconds']:.1f} s), version {version}")
    result = run_process("impact", cli(app, "model", "impact", str(version)), env_for_stages(), app,
                         app / "logs" / "impact.log")
    if result["rc"] != 0:
        raise SystemExit(f"impact failed: see {result['log']}")
    text = Path(result["log"]).read_text()
    measured = re.search(r"measured in ([\d.]+) s", text)
    churn = re.search(r"churn: ([\d,]+) persons \(([\d.]+)%\)", text)
    out["impact"] = {**result, "version": str(version), "measure_s": float(measured.group(1)) if measured else None,
                     "churn": churn.group(2) + " %" if churn else None}
    print(f"  impact   {result['wall_s']:7.1f} s wall, shadow ranking {out['impact']['measure_s']} s; "
          f"publish stage {out['publish']['stage_s']:.1f} s", flush=True)
    (app / "impact.json").write_text(json.dumps(out, indent=2, default=str))
    return out


def section(r: dict[str, Any], commit: str) -> str:
    pub, imp = r["publish"], r["impact"]
    met = imp["wall_s"] <= pub["stage_s"]
    lines = [BEGIN, "", "### Impact of a model version before it goes live (scripts/bench_impact.py)", "",
             f"Measured at commit {commit}, on the lakehouse of the update-round benchmark (after its update round). "
             "`dtks model impact V`, as its own process (JVM start included), against the latest publish stage "
             "recorded there (its own timer, JVM start excluded). Bar: at most the time of one publish.", "",
             "| households ranked | challenger | impact process | of which the shadow ranking | publish stage | bar "
             "| churn |",
             "|---|---|---|---|---|---|---|",
             f"| {r['households']:,} | v{imp['version']} | {imp['wall_s']:.1f} s | {imp['measure_s']} s | "
             f"{pub['stage_s']:.1f} s | {'met' if met else 'MISSED'} | {imp['churn']} |"]
    if "train" in r:
        lines += ["", f"Training the challenger took {r['train']['stage_s']:.1f} s (stage), which includes one impact "
                  "measurement for the promotion gate."]
    lines += ["", END]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app", required=True, help="a bench_update.py app folder (lakehouse/, mlflow.db)")
    p.add_argument("--family", default="pmt_quantile")
    p.add_argument("--version", help="measure this registered version instead of training one")
    p.add_argument("--commit", default="(not given)")
    p.add_argument("--doc", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = p.parse_args()
    block = section(bench(args), args.commit)
    replace_section(Path(args.doc), BEGIN, END, block)
    print(block)


if __name__ == "__main__":
    main()
