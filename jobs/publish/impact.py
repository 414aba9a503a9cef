"""What a candidate model version or a policy change would do to the published nation, before it goes live.

A shadow ranking: the published households (dtks_households at the latest publication, with the features it
keeps) scored by the candidate, or keeping their published score for a policy change, ranked nationally with
the publication's population P and the configured coverage, and run through the configured programme rules.
It is compared household by household with the published program_eligibility and deciles. Nothing is
written to any table: the result is a few small aggregates (per programme and province, per subgroup, the
decile transition matrix), printed, logged to MLflow and read by the promotion gate.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from jobs.publish import eligibility, ranking
from models import subgroups
from runtime import tables
from runtime.config import DtksConfig
from runtime.errors import UserError

COVERAGE = "WITHIN_COVERAGE"  # the register's own coverage flag, reported beside the programmes (not in churn)
MOVES = ("entered", "left")


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
        """The impact tables as CSV and the summary as JSON, and the plot of entries and exits by province."""
        folder.mkdir(parents=True, exist_ok=True)
        self.by_province.to_csv(folder / "impact_by_province.csv", index=False)
        self.by_subgroup.to_csv(folder / "impact_by_subgroup.csv", index=False)
        self.transitions.to_csv(folder / "decile_transitions.csv", index=False)
        (folder / "impact_summary.json").write_text(json.dumps(self.summary(), indent=2, default=str))
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
            client.log_artifacts(run_id, str(folder), "impact")
        client.log_metric(run_id, "impact_churn", self.churn)
        client.log_metric(run_id, "impact_decile_moved_2", self.decile_moved_2)
        client.set_tag(run_id, "dtks.impact_publication", str(self.publication_id))


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


def household_moves(before: DataFrame, before_eligibility: DataFrame, score: Column | None, population: int,
                    coverage: float, rules: eligibility.Programs, programs: list[str]) -> DataFrame:
    """Pure: one row per published household: its decile before and after, its subgroup flags, and per
    programme (and the coverage flag) whether it enters (`e_<program>`) or leaves (`l_<program>`).

    before: published dtks_households; before_eligibility: published program_eligibility; score: the candidate's
    welfare score over dtks_households' columns (None: keep the published score, a policy change)."""
    # Only the columns the rules, the subgroups and the tables need ride through the ranking's shuffle.
    needed = ["household_id", "province_code", "hh_size", *subgroups.COLUMNS,
              *sorted({c for p in rules.programs.values() for c in p.any_component})]
    scored = before.select(*dict.fromkeys(needed), (F.col("welfare_score") if score is None else score)
                           .cast("double").alias("welfare_score"), F.col("decile").alias("decile_before"),
                           F.col("within_coverage").alias(f"_was_{COVERAGE}"))
    ranked = ranking.rank_nationally(scored, population, coverage)
    now = eligibility.conditions(rules)
    was = before_eligibility.groupBy("household_id").agg(
        *[F.max(F.when(F.col("program") == p, F.col("eligible"))).alias(f"_was_{p}") for p in programs])
    joined = ranked.join(was, "household_id", "left")
    flags: list[Column] = []
    for p in [*programs, COVERAGE]:
        is_now = F.col("within_coverage") if p == COVERAGE else now[p] if p in now else F.lit(False)
        is_was = F.coalesce(F.col(f"_was_{p}"), F.lit(False))
        is_now = F.coalesce(is_now, F.lit(False))
        flags += [(is_now & ~is_was).alias(f"e_{p}"), (is_was & ~is_now).alias(f"l_{p}")]
    return joined.select("household_id", "province_code", "hh_size", "decile_before",
                         F.col("decile").alias("decile_after"), *subgroups.flags(), *flags)


def _long(row: dict, programs: list[str], key: str, value: str) -> list[dict]:
    return [{"program": p, key: value,
             **{f"{m}_{u}": int(row.get(f"{m[0]}_{p}_{u[0]}") or 0) for m in MOVES for u in ("households", "persons")}}
            for p in [*programs, COVERAGE]]


def aggregate(moves: DataFrame, programs: list[str]) -> dict[str, object]:
    """The small tables of `household_moves`: three Spark jobs whose results are bounded by provinces x
    programmes, subgroups x programmes and 10 x 10 deciles."""
    size = F.col("hh_size")
    per_program = []
    for p in [*programs, COVERAGE]:
        for m in ("e", "l"):
            flag = F.col(f"{m}_{p}")
            per_program += [F.sum(flag.cast("long")).alias(f"{m}_{p}_h"),
                            F.sum(F.when(flag, size).otherwise(0)).alias(f"{m}_{p}_p")]
    by_province = [r.asDict() for r in moves.groupBy("province_code").agg(*per_program).collect()]
    changed = F.greatest(*[F.col(f"{m}_{p}") for p in programs for m in ("e", "l")], F.lit(False))
    national = [F.count(F.lit(1)).alias("households"), F.sum(size).alias("persons"),
                F.sum(F.when(changed, size).otherwise(0)).alias("persons_changed"),
                F.sum((F.abs(F.col("decile_after") - F.col("decile_before")) >= 2).cast("long")).alias("moved_2")]
    for name in subgroups.SUBGROUPS:
        for p in [*programs, COVERAGE]:
            for m in ("e", "l"):
                flag = F.col(f"{m}_{p}") & F.coalesce(F.col(name), F.lit(False))
                national += [F.sum(flag.cast("long")).alias(f"{name}:{m}_{p}_h"),
                             F.sum(F.when(flag, size).otherwise(0)).alias(f"{name}:{m}_{p}_p")]
    totals = moves.agg(*national).first().asDict()
    transitions = moves.groupBy("decile_before", "decile_after").agg(
        F.count(F.lit(1)).alias("households"), F.sum(size).alias("persons")).toPandas()
    province_rows = [x for r in by_province for x in _long(r, programs, "province_code", r["province_code"])]
    subgroup_rows = []
    for name in subgroups.SUBGROUPS:
        mine = {k.split(":", 1)[1]: v for k, v in totals.items() if k.startswith(f"{name}:")}
        subgroup_rows += _long(mine, programs, "subgroup", name)
    return {
        "households": int(totals["households"] or 0), "persons": int(totals["persons"] or 0),
        "persons_changed": int(totals["persons_changed"] or 0), "moved_2": int(totals["moved_2"] or 0),
        "by_province": pd.DataFrame(province_rows).sort_values(["program", "province_code"]).reset_index(drop=True),
        "by_subgroup": pd.DataFrame(subgroup_rows),
        "transitions": transitions.sort_values(["decile_before", "decile_after"]).reset_index(drop=True),
    }


def measure(spark: SparkSession, config: DtksConfig, model_version: str | None = None,
            rules: eligibility.Programs | None = None) -> Impact:
    """The impact of scoring with `model_version` (None: the published scores) under the configured coverage
    and `rules` (default: the configured programmes) against the latest publication."""
    publication = tables.latest_publication(spark, config)
    if publication is None:
        raise UserError(f"no publication under {config.lakehouse}: run `dtks publish` first (the impact is measured "
                        "against the published nation)")
    rules = rules or eligibility.load(config)
    before = tables.read_published(spark, config, tables.DTKS_HOUSEHOLDS)
    before_eligibility = tables.read_published(spark, config, tables.PROGRAM_ELIGIBILITY)
    published_programs = sorted((publication["rules"] or {}).keys())
    programs = sorted(set(rules.programs) | set(published_programs))
    score, candidate = None, "policy"
    if model_version is not None:
        from jobs.score.champion import prediction, resolve_model

        model = resolve_model(config, model_version)
        missing = [c for c in model.input_columns if c not in before.columns]
        if missing:
            raise UserError(f"model {model.uri} needs {missing}, which dtks_households does not keep")
        score, path = prediction(spark, model, "auto")
        candidate = f"{model.name} v{model.version} ({path})"
    moves = household_moves(before, before_eligibility, score, int(publication["population"]),
                            config.ranking.coverage_target, rules, programs).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        found = aggregate(moves, programs)
    finally:
        spark.catalog.clearCache()  # the moves and the ranking's own ordered rows, as publish does
    return Impact(
        publication_id=int(publication["publication_id"]), candidate=candidate,
        coverage=config.ranking.coverage_target, households=found["households"], persons=found["persons"],
        persons_changed=found["persons_changed"], households_decile_moved_2=found["moved_2"],
        by_province=found["by_province"], by_subgroup=found["by_subgroup"], transitions=found["transitions"],
        programs=programs,
    )
