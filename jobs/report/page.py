"""The supervisor's page: plots and one HTML file from small pandas frames (per province, per regency,
the top enumerators), never from a table that grows with the nation."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

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
SUMMED = [
    "households_accepted",
    "members_listed",
    "persons_ranked",
    "persons_covered",
    *[f"persons_decile_{d}" for d in range(1, 11)],
]


def by_province(regions: pd.DataFrame) -> pd.DataFrame:
    """quality_by_region's rows (one per regency) summed to provinces, match rate weighted by members."""
    reg = regions.copy()
    for col in SUMMED:
        if col not in reg:
            reg[col] = 0
    reg["_matched"] = reg["match_rate"].astype(float) * reg["members_listed"].astype(float)
    by_prov = reg.groupby("province_code", as_index=False)[[*SUMMED, "_matched"]].sum(min_count=1).fillna(0)
    by_prov["match_rate"] = (by_prov["_matched"] / by_prov["members_listed"]).fillna(0)
    return by_prov.drop(columns="_matched").sort_values("province_code").reset_index(drop=True)


def worst_regencies(regions: pd.DataFrame, minimum_members: int = 20, count: int = 15) -> pd.DataFrame:
    """The regencies with the lowest match rate, among those with enough members listed to judge."""
    return (
        regions[regions["members_listed"].fillna(0) >= minimum_members]
        .sort_values(["match_rate", "province_code", "regency_code"])
        .head(count)[WORST_COLUMNS]
        .reset_index(drop=True)
    )


def _saved(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


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
    return _saved(fig, out, "deciles_by_province.png")


def _province_bars(by_prov: pd.DataFrame, values: pd.Series, color: str, lines: list[tuple[float, str, str]],
                   ylabel: str, title: str, out: Path, name: str, share: bool = False) -> str:
    """One bar per province with reference lines (value, style, label); `share`: the axis runs 0 to 1."""
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.bar(by_prov["province_code"], values, color=color)
    if share:
        ax.set_ylim(0, 1)
    for value, style, label in lines:
        ax.axhline(value, color="crimson" if style == "--" else "black", linestyle=style, label=label)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=7, rotation=90)
    return _saved(fig, out, name)


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
    return _saved(fig, out, "enumerators.png")


def plots(by_prov: pd.DataFrame, enum: pd.DataFrame, target: float, covered_share: float, min_match: float,
          out: Path) -> list[str]:
    """The page's four PNGs, written into `out`; their file names."""
    coverage = (by_prov["persons_covered"] / by_prov["persons_ranked"]).fillna(0)
    return [
        _plot_deciles(by_prov, out),
        _province_bars(by_prov, coverage, "#4a7fb0",
                       [(target, "--", f"national target {target:.0%}"),
                        (covered_share, ":", f"national covered {covered_share:.1%} of P")],
                       "share of ranked persons within coverage", "Coverage against target", out, "coverage.png"),
        _province_bars(by_prov, by_prov["match_rate"], "#5a9e6f",
                       [(min_match, "--", f"regional minimum {min_match:.0%}")], "members matched to the registry",
                       "NIK match rate (padan) by province", out, "match_rate.png", share=True),
        _plot_enumerators(enum, out),
    ]


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
