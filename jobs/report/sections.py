"""The report page's view model: what each section shows, as text and numbers ready to print, built with
keyword arguments by one small function per section from the page's inputs (figures.Report). Each section
feeds its own template in jobs/report/templates/ (`summary` feeds summary.html, and so on; page.html puts them
in order): the markup is there, never here, and the templates escape every value they print.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from jobs.core import contract
from jobs.report.figures import UNKNOWN, Report
from jobs.report.formats import (
    COVERAGE_BINS,
    COVERAGE_COLOUR,
    MATCH_BINS,
    MATCH_COLOUR,
    NO_DATA,
    REASON_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    exact,
    fill,
    legend,
    missing,
    num,
    pct,
    sort_value,
    when,
)

# ---------------------------------------------------------------- pieces several sections use

@dataclass(frozen=True, kw_only=True)
class Cell:
    """A table cell's text; `sort`: its raw value for sorting (data-v), None when the column has none."""

    text: str
    sort: str | None = None


def cell(text: str, value=None) -> Cell:
    return Cell(text=text, sort=None if value is None else sort_value(value))


@dataclass(frozen=True, kw_only=True)
class Bar:
    """A share as a small horizontal bar: width in % of the bar, colour, a marker (e.g. the target) in %."""

    width: str
    colour: str
    marker: str | None = None


def bar(share, colour: str = COVERAGE_COLOUR, marker: float | None = None) -> Bar:
    width = 0 if missing(share) else max(0.0, min(1.0, float(share))) * 100
    return Bar(width=f"{width:.1f}", colour=colour, marker=None if marker is None else f"{marker * 100:.1f}")


@dataclass(frozen=True, kw_only=True)
class Reason:
    """A reason code (shown breakable at its underscores on a phone) and its words, when known."""

    parts: tuple[str, ...]
    label: str | None


def reason(code: str) -> Reason:
    return Reason(parts=tuple(str(code).split("_")), label=REASON_LABELS.get(code))


@dataclass(frozen=True, kw_only=True)
class Rate:
    """A match rate as text; `minimum`: the regional minimum it falls under (None when it does not)."""

    text: str
    minimum: str | None = None


def match_rate(r: Report, rate) -> Rate:
    """A match rate, marked when under the regional minimum (thresholds.min_region_match_rate)."""
    low = not missing(rate) and rate < r.min_match
    return Rate(text=pct(rate), minimum=pct(r.min_match, 0) if low else None)


@dataclass(frozen=True, kw_only=True)
class Listing:
    """A table list.js makes sortable (click a header) and filterable (the search box): its element id, what
    it lists (for the search box), (key, label) per column, and list.js's configuration as JSON (a numeric
    column's cells carry their raw value in data-v, which it sorts by)."""

    id: str
    what: str
    columns: list[tuple[str, str]]
    config: str


def listing(list_id: str, what: str, columns: list[tuple[str, str, bool]]) -> Listing:
    """`columns`: (key, label, numeric)."""
    values = [{"name": k, "attr": "data-v"} if numeric else k for k, _, numeric in columns]
    numeric = [k for k, _, n in columns if n]
    return Listing(id=list_id, what=what, columns=[(k, label) for k, label, _ in columns],
                   config=json.dumps({"values": values, "numeric": numeric}))


@dataclass(frozen=True, kw_only=True)
class Quarantined:
    """Quarantined rows of one source and reason (`unknown`: of which in no known province, in the summary)."""

    source: str
    source_label: str
    reason_code: str
    reason: Reason
    rows: int
    rows_text: str
    unknown: str | None = None


def quarantined(x, unknown_rows=None) -> Quarantined:
    return Quarantined(source=x.source, source_label=SOURCE_LABELS.get(x.source, x.source),
                       reason_code=x.reason_code, reason=reason(x.reason_code), rows=int(x.rows),
                       rows_text=num(x.rows), unknown=None if unknown_rows is None else num(unknown_rows))


# ---------------------------------------------------------------- the header and the national summary

@dataclass(frozen=True, kw_only=True)
class Header:
    run_id: str
    publication: str
    target: str
    reference_version: str


def header(r: Report) -> Header:
    pub = r.publication
    return Header(run_id=r.run_id,
                  publication=f"publication {pub['publication_id']} of {when(pub['published_at'])}" if pub
                  else "no publication yet",
                  target=pct(r.target, 0), reference_version=r.reference_version)


@dataclass(frozen=True, kw_only=True)
class Summary:
    households: str
    households_quarantined: str
    ranked: str
    population: str
    population_of: str
    covered: str
    coverage: str
    coverage_value: str
    coverage_bar: Bar
    target: str
    target_value: str
    match: str
    match_value: str
    match_bar: Bar
    listed: str
    to_revisit: str
    to_revisit_value: int
    assessed: str
    quarantined_rows: str
    reasons: list[Quarantined]


def summary(r: Report) -> Summary:
    n = r.national()
    pub = r.publication
    cov = n["coverage"] if r.published else None
    return Summary(
        households=num(n["households"]), households_quarantined=num(r.households_quarantined),
        ranked=num(n["ranked"]) if r.published else "n/a", population=num(r.population),
        population_of=f"of publication {pub['publication_id']}" if pub
        else "from the registry (nothing published yet)",
        covered=num(n["covered"]) if r.published else "n/a", coverage=pct(cov), coverage_value=exact(cov),
        coverage_bar=bar(cov, COVERAGE_COLOUR, r.target), target=pct(r.target, 0), target_value=exact(r.target),
        match=pct(n["match"]), match_value=exact(n["match"]), match_bar=bar(n["match"], MATCH_COLOUR),
        listed=num(n["listed"]), to_revisit=num(n["to_revisit"]), to_revisit_value=n["to_revisit"],
        assessed=num(n["assessed"]), quarantined_rows=num(n["quarantined_rows"]), reasons=_reasons(r.quarantine))


def _reasons(q: pd.DataFrame) -> list[Quarantined]:
    """Quarantined rows by source and reason, most rows first, with those in no known province."""
    if not len(q):
        return []
    unknown = q["province_code"].isna()
    g = (q.assign(unknown_rows=q["rows"].where(unknown, 0))
         .groupby(["source", "reason_code"], as_index=False)[["rows", "unknown_rows"]].sum()
         .sort_values(["rows", "source", "reason_code"], ascending=[False, True, True]))
    return [quarantined(x, x.unknown_rows) for x in g.itertuples()]


# ---------------------------------------------------------------- the map

@dataclass(frozen=True, kw_only=True)
class Metric:
    """What a map tile shows for one measure: its fill, its tooltip and its short value."""

    name: str
    fill: str
    title: str
    value: str


@dataclass(frozen=True, kw_only=True)
class Tile:
    code: str
    iso: str
    name: str
    x: int
    y: int
    centre: float  # x of the labels
    metrics: list[Metric]  # coverage first (shown as loaded); none: no household of the province in this run


@dataclass(frozen=True, kw_only=True)
class Legend:
    metric: str
    title: str
    keys: list[tuple[str, str]]  # (colour, label)


@dataclass(frozen=True, kw_only=True)
class Map:
    width: int
    height: int
    size: int
    tiles: list[Tile]
    legends: list[Legend]
    no_data: str
    outside: str | None  # provinces with data that are not on the tile grid


def province_map(r: Report) -> Map:
    size, gap, pad = 56, 6, 4
    tiles = r.tiles
    data = r.by_province.set_index("province_code")
    shown = []
    for t in tiles.sort_values(["row", "col"]).itertuples():
        x, y = pad + t.col * (size + gap), pad + t.row * (size + gap)
        name = r.province(t.province_code)
        metrics = []
        if t.province_code in data.index:
            p = data.loc[t.province_code]
            cov = p["coverage"] if r.published else None
            metrics = [
                Metric(name="coverage", fill=fill(cov, COVERAGE_BINS), title=f"{name}: coverage {pct(cov)}",
                       value=pct(cov, 0).replace(" ", "")),
                Metric(name="match", fill=fill(p["match_rate"], MATCH_BINS),
                       title=f"{name}: match rate (padan) {pct(p['match_rate'])}",
                       value=pct(p["match_rate"], 0).replace(" ", "")),
            ]
        shown.append(Tile(code=t.province_code, iso=t.iso, name=name, x=x, y=y, centre=x + size / 2,
                          metrics=metrics))
    outside = sorted(set(data.index) - set(tiles["province_code"]))
    legends = [
        Legend(metric="coverage", title="share of the province's ranked persons within coverage",
               keys=legend(COVERAGE_BINS)),
        Legend(metric="match", title=f"members matched to the registry (padan; regional minimum "
                                     f"{pct(r.min_match, 0)})", keys=legend(MATCH_BINS)),
    ]
    cols, rows = int(tiles["col"].max()) + 1, int(tiles["row"].max()) + 1
    return Map(width=cols * (size + gap) + pad, height=rows * (size + gap) + pad, size=size, tiles=shown,
               legends=legends, no_data=NO_DATA,
               outside=", ".join(r.province(c) for c in outside) if outside else None)


# ---------------------------------------------------------------- the provinces: overview and sections

@dataclass(frozen=True, kw_only=True)
class ProvinceRow:
    code: str
    name: str
    households: Cell
    ranked: Cell
    coverage: Cell
    coverage_bar: Bar
    match: Cell
    match_rate: Rate
    match_bar: Bar
    not_found: Cell
    invalid: Cell
    missing: Cell
    quarantined: Cell
    revisit: Cell


@dataclass(frozen=True, kw_only=True)
class Overview:
    listing: Listing
    rows: list[ProvinceRow]
    target: str
    min_match: str


def overview(r: Report) -> Overview:
    q = r.quarantine
    held = q.groupby(q["province_code"].fillna(UNKNOWN))["rows"].sum() if len(q) else pd.Series(dtype=float)
    counts = r.revisit.drop_duplicates("province_code").set_index("province_code") if len(r.revisit) else None
    rows = []
    for p in r.by_province.itertuples():
        known = counts is not None and p.province_code in counts.index
        revisit = int(counts.loc[p.province_code, "province_revisit"]) if known else 0
        cov = p.coverage if r.published else None
        rows.append(ProvinceRow(
            code=p.province_code, name=r.province(p.province_code),
            households=cell(num(p.households_accepted), p.households_accepted),
            ranked=cell(num(p.persons_ranked) if r.published else "n/a", p.persons_ranked),
            coverage=cell(pct(cov), cov), coverage_bar=bar(cov),
            match=cell(pct(p.match_rate), p.match_rate), match_rate=match_rate(r, p.match_rate),
            match_bar=bar(p.match_rate, MATCH_COLOUR),
            not_found=cell(pct(p.share_not_found), p.share_not_found),
            invalid=cell(pct(p.share_invalid_nik), p.share_invalid_nik),
            missing=cell(pct(p.share_missing_nik), p.share_missing_nik),
            quarantined=cell(num(held.get(p.province_code, 0)), held.get(p.province_code, 0)),
            revisit=cell(num(revisit), revisit)))
    columns = [("province", "province (provinsi)", False), ("households", "households", True),
               ("ranked", "persons ranked", True), ("coverage", "coverage", True), ("match", "matched (padan)", True),
               ("notfound", "not found (tidak padan)", True), ("invalid", "invalid NIK", True),
               ("missing", "missing NIK", True), ("quarantined", "quarantined rows", True),
               ("revisit", "enumerators to re-visit", True)]
    return Overview(listing=listing("province-list", "provinces", columns), rows=rows, target=pct(r.target, 0),
                    min_match=pct(r.min_match, 0))


@dataclass(frozen=True, kw_only=True)
class DecileBar:
    x: int
    y: str
    height: str
    title: str
    centre: float
    label_y: str
    label: str


@dataclass(frozen=True, kw_only=True)
class Deciles:
    """Persons by national decile, as an SVG bar chart `width` x `height` with a reference line at 10 %."""

    width: int
    height: int
    bar_width: int
    axis_y: int
    bars: list[DecileBar]
    ref_y: str
    ref_label_y: str


def deciles(p) -> Deciles:
    shares = [getattr(p, f"persons_decile_{d}") / p.persons_ranked if p.persons_ranked else 0.0 for d in range(1, 11)]
    top = max(0.2, max(shares))
    w, h, base, bw = 330, 150, 120, 26
    ref = base - 0.1 / top * 100
    bars = []
    for i, s in enumerate(shares):
        x = 12 + i * 31
        bh = s / top * 100
        bars.append(DecileBar(
            x=x, y=f"{base - bh:.1f}", height=f"{bh:.1f}",
            title=f"desil {i + 1}: {num(getattr(p, f'persons_decile_{i + 1}'))} persons ({pct(s)})",
            centre=x + bw / 2, label_y=f"{base - bh - 3:.1f}", label=f"{s * 100:.0f}"))
    return Deciles(width=w, height=h, bar_width=bw, axis_y=base + 14, bars=bars, ref_y=f"{ref:.1f}",
                   ref_label_y=f"{ref - 3:.1f}")


@dataclass(frozen=True, kw_only=True)
class StatusShare:
    status: str
    label: str
    colour: str
    width: str
    share: str


@dataclass(frozen=True, kw_only=True)
class RegencyLine:
    name: str
    households: str
    match: str
    coverage: str


@dataclass(frozen=True, kw_only=True)
class EnumeratorLine:
    enumerator_id: str
    supervisor_id: str
    coordinator_id: str
    regency: str
    households: str
    score: str
    reasons: str


@dataclass(frozen=True, kw_only=True)
class ProvinceSection:
    code: str
    name: str
    coverage: str
    match_rate: Rate
    to_revisit: int
    to_revisit_text: str
    published: bool
    ranked: str
    covered: str
    target: str
    coverage_bar: Bar
    deciles: Deciles | None
    match: str
    listed: str
    statuses: list[StatusShare]
    quarantine: list[Quarantined]
    regencies: list[RegencyLine]
    assessed: str
    shown: int | None  # how many enumerators are listed, when fewer than those to re-visit
    enumerators: list[EnumeratorLine]


@dataclass(frozen=True, kw_only=True)
class UnknownSection:
    """Quarantined rows in no known province."""

    rows: str
    quarantine: list[Quarantined]


@dataclass(frozen=True, kw_only=True)
class Provinces:
    sections: list[ProvinceSection]
    unknown: UnknownSection | None
    unknown_id: str


def provinces(r: Report) -> Provinces:
    q = r.quarantine
    unknown = None
    if len(q) and q["province_code"].isna().any():
        mine = q[q["province_code"].isna()]
        unknown = UnknownSection(rows=num(mine["rows"].sum()), quarantine=_quarantine_lines(mine))
    return Provinces(sections=[province_section(r, c) for c in r.by_province["province_code"]], unknown=unknown,
                     unknown_id=UNKNOWN)


def _quarantine_lines(q: pd.DataFrame) -> list[Quarantined]:
    return [quarantined(x) for x in q.sort_values(["rows", "source", "reason_code"],
                                                  ascending=[False, True, True]).itertuples()]


def province_section(r: Report, code: str) -> ProvinceSection:
    p = _Row(r.by_province.set_index("province_code").loc[code])
    cov = p.coverage if r.published else None
    regs = r.regions[r.regions["province_code"] == code].sort_values("match_rate")
    enum = r.revisit[(r.revisit["province_code"] == code) & r.revisit["to_revisit"]] if len(r.revisit) else r.revisit
    counts = r.revisit[r.revisit["province_code"] == code].head(1) if len(r.revisit) else r.revisit
    assessed = int(counts["province_assessed"].iloc[0]) if len(counts) else 0
    to_revisit = int(counts["province_revisit"].iloc[0]) if len(counts) else 0
    enumerators = [
        EnumeratorLine(enumerator_id=e.enumerator_id, supervisor_id=e.supervisor_id, coordinator_id=e.coordinator_id,
                       regency=r.regency(e.regency_code), households=num(e.households),
                       score=f"{e.revisit_score:.2f}", reasons=e.revisit_reasons)
        for e in enum.itertuples()
    ]
    statuses = []
    for status in contract.STATUSES:
        label, colour = STATUS_LABELS[status]
        share = float(getattr(p, f"share_{status.lower()}"))
        statuses.append(StatusShare(status=status, label=label, colour=colour, width=f"{share * 100:.2f}",
                                    share=pct(share)))
    return ProvinceSection(
        code=code, name=r.province(code), coverage=pct(cov), match_rate=match_rate(r, p.match_rate),
        to_revisit=to_revisit, to_revisit_text=num(to_revisit), published=r.published,
        ranked=num(p.persons_ranked), covered=num(p.persons_covered), target=pct(r.target, 0),
        coverage_bar=bar(cov, COVERAGE_COLOUR, r.target), deciles=deciles(p) if r.published else None,
        match=pct(p.match_rate), listed=num(p.members_listed), statuses=statuses,
        quarantine=_quarantine_lines(r.quarantine[r.quarantine["province_code"] == code]),
        regencies=[RegencyLine(name=r.regency(x.regency_code), households=num(x.households_accepted),
                               match=pct(x.match_rate), coverage=pct(_coverage(x))) for x in regs.itertuples()],
        assessed=num(assessed), shown=len(enumerators) if len(enumerators) < to_revisit else None,
        enumerators=enumerators)


class _Row:
    """Attribute access to a pandas Series (a province's row)."""

    def __init__(self, series: pd.Series) -> None:
        self.__dict__.update(series.to_dict())


def _coverage(regency) -> float | None:
    """A regency's persons within coverage / persons ranked (None before a publication or with none ranked)."""
    covered, ranked = getattr(regency, "persons_covered", None), getattr(regency, "persons_ranked", None)
    return None if missing(covered) or missing(ranked) or not ranked else covered / ranked


# ---------------------------------------------------------------- appeals and the verification queue

@dataclass(frozen=True, kw_only=True)
class QueueRow:
    reason_code: str
    reason: Reason
    entries: list[str]  # per status, in Appeals.statuses' order
    overdue: str


@dataclass(frozen=True, kw_only=True)
class AppealRow:
    province_code: str
    province: str
    appeal_type: str
    appeals: list[str]  # per status, in Appeals.appeal_statuses' order


@dataclass(frozen=True, kw_only=True)
class Appeals:
    """Appeals (usul, sanggah) by province, type and status; the verification queue's size by reason. No
    queue: nothing published with one yet."""

    queued: bool
    statuses: list[str]
    queue: list[QueueRow]
    total: str | None  # appeals, when there are any
    by_status: str
    appeal_statuses: list[str]
    appeals: list[AppealRow]


def appeals(r: Report) -> Appeals:
    if r.queue is None:
        return Appeals(queued=False, statuses=[], queue=[], total=None, by_status="", appeal_statuses=[], appeals=[])
    q = r.queue
    open_q = q[q["status"] == "OPEN"]
    by_reason = q.pivot_table(index="reason", columns="status", values="entries", aggfunc="sum", fill_value=0)
    statuses = [s for s in ("OPEN", "RESURVEYED", "RESOLVED", "LAPSED") if s in by_reason.columns]
    overdue = open_q.set_index("reason")["overdue"] if len(open_q) else pd.Series(dtype=int)
    queue = [QueueRow(reason_code=code, reason=reason(code), entries=[num(x[s]) for s in statuses],
                      overdue=num(int(overdue.get(code, 0)))) for code, x in by_reason.iterrows()]
    total, by_status, cols, rows = None, "", [], []
    a = r.appeals
    if a is not None and len(a):
        wide = a.pivot_table(index=["province_code", "appeal_type"], columns="status", values="appeals",
                             aggfunc="sum", fill_value=0)
        cols = [s for s in ("NOT_QUEUED", "OPEN", "RESOLVED", "LAPSED") if s in wide.columns]
        totals = a.groupby("status")["appeals"].sum()
        total = num(int(a["appeals"].sum()))
        by_status = ", ".join(f"{_words(s)} {num(int(totals[s]))}" for s in cols)
        rows = [AppealRow(province_code=p, province=r.province(p), appeal_type=t, appeals=[num(x[s]) for s in cols])
                for (p, t), x in wide.iterrows()]
    return Appeals(queued=True, statuses=[s.lower() for s in statuses], queue=queue, total=total,
                   by_status=by_status, appeal_statuses=[_words(s) for s in cols], appeals=rows)


def _words(status: str) -> str:
    return status.lower().replace("_", " ")


# ---------------------------------------------------------------- the published model version's impact

@dataclass(frozen=True, kw_only=True)
class ProgramTotal:
    program: str
    entered_households: str
    entered_persons: str
    left_households: str
    left_persons: str


@dataclass(frozen=True, kw_only=True)
class ProvinceImpact:
    province_code: str
    province: str
    moves: list[str]  # per programme, in Impact.programs' order: "+entering / -leaving" households


@dataclass(frozen=True, kw_only=True)
class Impact:
    """What the published model version was measured to change before it went live (dtks model impact).
    `model` None: no version published yet; `measured` False: it was not measured against a publication."""

    model: str | None
    measured: bool
    publication_id: str
    coverage: str
    churn: str
    moved: str
    totals: list[ProgramTotal]
    programs: list[str]
    provinces: list[ProvinceImpact]


def impact(r: Report) -> Impact:
    found = r.impact or {}
    summary = found.get("summary")
    if summary is None:
        return Impact(model=found.get("model"), measured=False, publication_id="", coverage="", churn="", moved="",
                      totals=[], programs=[], provinces=[])
    totals = [ProgramTotal(program=t["program"], entered_households=num(t["entered_households"]),
                           entered_persons=num(t["entered_persons"]), left_households=num(t["left_households"]),
                           left_persons=num(t["left_persons"]))
              for t in summary["totals"] if t["program"] != "WITHIN_COVERAGE"]
    programs, rows = [], []
    by = found.get("by_province")
    if by is not None and len(by):
        by = by[by["program"] != "WITHIN_COVERAGE"]
        wide = by.pivot_table(index="province_code", columns="program", values=["entered_households",
                              "left_households"], aggfunc="sum", fill_value=0)
        programs = sorted(by["program"].unique())
        rows = [ProvinceImpact(province_code=code, province=r.province(code),
                               moves=[f"+{num(x[('entered_households', p)])} / -{num(x[('left_households', p)])}"
                                      for p in programs])
                for code, x in wide.iterrows()]
    return Impact(model=found["model"], measured=True, publication_id=str(summary["publication_id"]),
                  coverage=pct(summary["coverage"], 0), churn=pct(summary["churn"], 2),
                  moved=pct(summary["decile_moved_2"], 2), totals=totals, programs=programs, provinces=rows)


# ---------------------------------------------------------------- the regencies and the enumerators

@dataclass(frozen=True, kw_only=True)
class RegencyRow:
    code: str
    province: Cell
    regency: Cell
    households: Cell
    listed: Cell
    match: Cell
    not_found: Cell
    invalid: Cell
    missing: Cell
    duplicates: Cell
    deceased: Cell
    coverage: Cell
    short: Cell


@dataclass(frozen=True, kw_only=True)
class Regencies:
    listing: Listing
    rows: list[RegencyRow]


def regencies(r: Report) -> Regencies:
    rows = []
    for x in r.regions.sort_values(["match_rate", "province_code", "regency_code"]).itertuples():
        cov = _coverage(x)
        rows.append(RegencyRow(
            code=x.regency_code, province=cell(r.province(x.province_code)), regency=cell(r.regency(x.regency_code)),
            households=cell(num(x.households_accepted), x.households_accepted),
            listed=cell(num(x.members_listed), x.members_listed), match=cell(pct(x.match_rate), x.match_rate),
            not_found=cell(pct(x.share_not_found), x.share_not_found),
            invalid=cell(pct(x.share_invalid_nik), x.share_invalid_nik),
            missing=cell(pct(x.share_missing_nik), x.share_missing_nik),
            duplicates=cell(num(x.duplicates), x.duplicates), deceased=cell(num(x.deceased), x.deceased),
            coverage=cell(pct(cov), cov), short=cell(pct(x.short_interview_share), x.short_interview_share)))
    columns = [("province", "province", False), ("regency", "regency/city (kabupaten/kota)", False),
               ("households", "households", True), ("listed", "members listed", True),
               ("match", "matched (padan)", True), ("notfound", "not found (tidak padan)", True),
               ("invalid", "invalid NIK", True), ("missing", "missing NIK", True), ("duplicates", "duplicates", True),
               ("deceased", "deceased", True), ("coverage", "coverage", True), ("short", "short interviews", True)]
    return Regencies(listing=listing("regency-list", "regencies", columns), rows=rows)


@dataclass(frozen=True, kw_only=True)
class EnumeratorRow:
    enumerator_id: str
    supervisor: Cell
    coordinator: Cell
    province: Cell
    regency: Cell
    households: Cell
    minutes: Cell
    short: Cell
    repeated: Cell
    failures: Cell
    score: Cell
    reasons: Cell


@dataclass(frozen=True, kw_only=True)
class Enumerators:
    listing: Listing
    rows: list[EnumeratorRow]
    per_province: int  # the most listed in one province


def enumerators(r: Report) -> Enumerators:
    enum = r.revisit[r.revisit["to_revisit"]] if len(r.revisit) else r.revisit
    enum = enum.sort_values(["revisit_score", "enumerator_id"], ascending=[False, True]) if len(enum) else enum
    rows = [
        EnumeratorRow(
            enumerator_id=e.enumerator_id, supervisor=cell(e.supervisor_id), coordinator=cell(e.coordinator_id),
            province=cell(r.province(e.province_code)), regency=cell(r.regency(e.regency_code)),
            households=cell(num(e.households), e.households), minutes=cell(f"{e.median_minutes:.0f}", e.median_minutes),
            short=cell(pct(e.short_interview_share, 0), e.short_interview_share),
            repeated=cell(pct(e.repeated_answer_share, 0), e.repeated_answer_share),
            failures=cell(pct(e.match_failure_share, 0), e.match_failure_share),
            score=cell(f"{e.revisit_score:.2f}", e.revisit_score), reasons=cell(e.revisit_reasons))
        for e in enum.itertuples()
    ]
    columns = [("enumerator", "enumerator (pencacah)", False), ("supervisor", "supervisor (pengawas)", False),
               ("coordinator", "coordinator (koordinator)", False), ("province", "province", False),
               ("regency", "regency/city", False), ("households", "households", True),
               ("minutes", "median minutes", True), ("short", "short interviews", True),
               ("repeated", "same answers", True), ("failures", "match failures", True),
               ("score", "re-visit score", True), ("reasons", "reasons", False)]
    per = int(r.revisit.groupby("province_code").size().max()) if len(r.revisit) else 0
    return Enumerators(listing=listing("enumerator-list", "enumerators", columns), rows=rows, per_province=per)


# ---------------------------------------------------------------- the page

@dataclass(frozen=True, kw_only=True)
class Page:
    """Every section of the page, in the order it shows them (templates/page.html)."""

    header: Header
    summary: Summary
    map: Map
    overview: Overview
    provinces: Provinces
    appeals: Appeals
    impact: Impact
    regencies: Regencies
    enumerators: Enumerators
    reference_version: str  # the notes at the foot of the page name it


def page(r: Report) -> Page:
    return Page(header=header(r), summary=summary(r), map=province_map(r), overview=overview(r),
                provinces=provinces(r), appeals=appeals(r), impact=impact(r), regencies=regencies(r),
                enumerators=enumerators(r), reference_version=r.reference_version)
