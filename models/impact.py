"""The impact of a candidate model version or policy change on the published nation, as the promotion gate,
the console, MLflow and the report read it: a few small aggregates of a shadow ranking (measured by
jobs/policy/impact.py). Here in models because training and promotion decide on it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

COVERAGE = "WITHIN_COVERAGE"  # the register's own coverage flag, reported beside the programmes (not in churn)
MOVES = ("entered", "left")
ARTIFACTS = "impact"  # the folder of a version's training run that holds its impact
SUMMARY_FILE, BY_PROVINCE_FILE = "impact_summary.json", "impact_by_province.csv"


@dataclass
class Impact:
    """The aggregates of one shadow ranking against the published nation."""

    publication_id: int
    candidate: str  # e.g. "dtks_pmt v3" or "policy"
    coverage: float
    households: int
    persons: int
    persons_changed: int  # in households whose eligibility for any programme changes
    households_decile_moved_2: int  # decile moves by two or more
    by_province: pd.DataFrame  # program, province_code, entered/left households and persons
    by_subgroup: pd.DataFrame  # program, subgroup, entered/left households and persons
    transitions: pd.DataFrame  # decile_before x decile_after: households, persons
    programs: list[str] = field(default_factory=list)

    @property
    def churn(self) -> float:
        """Share of persons whose household's eligibility for any programme changes."""
        return self.persons_changed / self.persons if self.persons else 0.0

    @property
    def decile_moved_2(self) -> float:
        return self.households_decile_moved_2 / self.households if self.households else 0.0

    def totals(self) -> pd.DataFrame:
        """Entries and exits per programme, nationally."""
        cols = [f"{m}_{u}" for m in MOVES for u in ("households", "persons")]
        return self.by_province.groupby("program", sort=True)[cols].sum().reset_index()

    def summary(self) -> dict[str, object]:
        return {
            "candidate": self.candidate, "publication_id": self.publication_id, "coverage": self.coverage,
            "households": self.households, "persons": self.persons, "persons_changed": self.persons_changed,
            "churn": self.churn, "households_decile_moved_2": self.households_decile_moved_2,
            "decile_moved_2": self.decile_moved_2,
            "totals": self.totals().to_dict("records"),
        }

    def lines(self) -> list[str]:
        """The impact in plain words, for the console."""
        out = [f"impact of {self.candidate} on publication {self.publication_id} (coverage {self.coverage:.0%}): "
               f"{self.households:,} households, {self.persons:,} persons",
               f"  churn: {self.persons_changed:,} persons ({self.churn:.2%}) change eligibility for a programme; "
               f"{self.households_decile_moved_2:,} households ({self.decile_moved_2:.2%}) move two deciles or more",
               f"  {'programme':<16} {'entering hh':>12} {'persons':>10} {'leaving hh':>12} {'persons':>10}"]
        for r in self.totals().itertuples():
            out.append(f"  {r.program:<16} {r.entered_households:>12,} {r.entered_persons:>10,} "
                       f"{r.left_households:>12,} {r.left_persons:>10,}")
        sub = self.by_subgroup[self.by_subgroup["program"] != COVERAGE]
        if len(sub):
            out.append("  by subgroup (households entering / leaving any programme row):")
            for name, part in sub.groupby("subgroup", sort=False):
                moves = ", ".join(f"{r.program} +{r.entered_households:,}/-{r.left_households:,}"
                                  for r in part.itertuples())
                out.append(f"    {name:<14} {moves}")
        matrix = self.transitions.pivot_table(index="decile_before", columns="decile_after", values="households",
                                              aggfunc="sum", fill_value=0)
        out.append("  decile transitions (households; rows: published decile, columns: candidate's):")
        out.append("    " + " ".join(f"{c:>7}" for c in ["", *matrix.columns]))
        for d, row in matrix.iterrows():
            out.append("    " + f"{d:>7} " + " ".join(f"{int(v):>7,}" for v in row))
        return out

    def write(self, folder: Path) -> None:
        """The impact tables as CSV and the summary as JSON, and the plot of entries and exits by province
        (`read_logged` reads back what a report needs)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.by_province.to_csv(folder / BY_PROVINCE_FILE, index=False)
        self.by_subgroup.to_csv(folder / "impact_by_subgroup.csv", index=False)
        self.transitions.to_csv(folder / "decile_transitions.csv", index=False)
        (folder / SUMMARY_FILE).write_text(json.dumps(self.summary(), indent=2, default=str))
        plot(self, folder / "impact_by_province.png")

    def log_to_mlflow(self, run_id: str) -> None:
        """Tables under `impact/`, the plot under `plots/`, churn and decile moves as metrics, on `run_id`."""
        from mlflow import MlflowClient

        client = MlflowClient()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            self.write(folder)
            png = folder / "impact_by_province.png"
            client.log_artifact(run_id, str(png), "plots")
            png.unlink()
            client.log_artifacts(run_id, str(folder), ARTIFACTS)
        client.log_metric(run_id, "impact_churn", self.churn)
        client.log_metric(run_id, "impact_decile_moved_2", self.decile_moved_2)
        client.set_tag(run_id, "dtks.impact_publication", str(self.publication_id))


def read_logged(run_id: str) -> tuple[dict, pd.DataFrame] | None:
    """(summary, entries and exits by province) that `Impact.log_to_mlflow` stored on an MLflow run; None
    when the run holds no impact (or its artifacts cannot be read)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        folder = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=ARTIFACTS))
    except (MlflowException, OSError):
        return None
    summary = folder / SUMMARY_FILE
    if not summary.exists():
        return None
    return json.loads(summary.read_text()), pd.read_csv(folder / BY_PROVINCE_FILE, dtype={"province_code": str})


def plot(impact: Impact, path: Path) -> None:
    """Households entering (up) and leaving (down) each programme, by province."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = impact.by_province[impact.by_province["program"] != COVERAGE]
    provinces = sorted(data["province_code"].unique())
    programs = sorted(data["program"].unique())
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(provinces) * max(1, len(programs))), 4.5))
    width = 0.8 / max(1, len(programs))
    for k, program in enumerate(programs):
        part = data[data["program"] == program].set_index("province_code").reindex(provinces, fill_value=0)
        xs = [i + k * width for i in range(len(provinces))]
        ax.bar(xs, part["entered_households"], width, label=f"{program} entering")
        ax.bar(xs, -part["left_households"], width, label=f"{program} leaving", alpha=0.6)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks([i + width * (len(programs) - 1) / 2 for i in range(len(provinces))], provinces, rotation=90)
    ax.set_xlabel("province")
    ax.set_ylabel("households (entering up, leaving down)")
    ax.set_title(f"Impact of {impact.candidate}: entries and exits by province")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
