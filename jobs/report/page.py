"""The coordinator's page: one self-contained HTML file (inline CSS, JS and SVG; no network, no other file)
from small pandas frames (per regency, per province, the enumerators to re-visit per province, quarantine
counts by province and reason), never from a table that grows with the nation.

It holds the national summary, a tile-grid map of the provinces coloured by coverage or match rate, an
overview table and an expandable section per province, the regencies and the enumerators to re-visit.
Tables sort and filter in the browser with list.js 2.3.1 (MIT), vendored in jobs/report/assets/ and
inlined. Every province and regency is shown with its name beside its code ("32 Jawa Barat").
"""

from __future__ import annotations

import html
import json
import math
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from jobs.core import contract, verification

TILES_FILE = "reference/province_tiles.csv"  # under conf/: province_code, iso, col, row (38 provinces)
ENUMERATOR_COLUMNS = [
    "enumerator_id",
    "supervisor_id",
    "coordinator_id",
    "province_code",
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
STATUS_SHARES = [f"share_{s.lower()}" for s in contract.STATUSES]
STATUS_LABELS = {
    contract.MATCHED: ("matched (padan)", "#1a9641"),
    contract.MATCHED_WITH_DIFFERENCES: ("matched with differences (padan, to check)", "#a6d96a"),
    contract.NOT_FOUND: ("not found (tidak padan)", "#d7191c"),
    contract.INVALID_NIK: ("invalid NIK", "#fdae61"),
    contract.MISSING_NIK: ("missing NIK", "#f46d43"),
    contract.DECEASED: ("deceased in the registry", "#777777"),
    contract.DUPLICATE: ("listed twice (duplicate)", "#bbbbbb"),
}
SOURCE_LABELS = {
    contract.REGISTRY: "registry person",
    contract.REGISTRY_CHANGES: "registry change",
    contract.SURVEY_HOUSEHOLDS: "survey household",
    contract.SURVEY_MEMBERS: "survey member",
    contract.TRAINING_HOUSEHOLDS: "training household",
    contract.TRAINING_MEMBERS: "training member",
    contract.APPEALS: "appeal",
}
REASON_LABELS = {
    "BAD_VALUE": "unreadable value",
    "MISSING_VALUE": "required value missing",
    "OUT_OF_RANGE": "value out of range",
    "UNKNOWN_VILLAGE": "village code not in the region reference",
    "UNKNOWN_QUESTIONNAIRE_VERSION": "unknown questionnaire version",
    "BAD_INTERVIEW_TIME": "interview ends before it starts",
    "BIRTH_IN_FUTURE": "birth date after the interview",
    "DUPLICATE_RECORD": "record delivered twice (latest kept)",
    "UNKNOWN_HOUSEHOLD": "member of no survey household",
    "HOUSEHOLD_REJECTED": "member of a quarantined household",
    "INVALID_NIK": "invalid NIK",
    "MISSING_SUBJECT": "appeal names no household and no NIK",
    "VILLAGE_MISMATCH": "appeal filed in another village than its household's",
    "NO_EVIDENCE": "objection without photo and GPS",
    "FILER_NOT_NEIGHBOUR": "objection not filed by a neighbour",
    **verification.REASONS,
}
# Map colours: upper bound of each bin (exclusive) and its fill.
COVERAGE_BINS = [(0.5, "#eff3ff"), (0.6, "#c6dbef"), (0.7, "#9ecae1"), (0.8, "#6baed6"), (0.9, "#3182bd"),
                 (math.inf, "#08519c")]
MATCH_BINS = [(0.80, "#d7191c"), (0.90, "#fdae61"), (0.95, "#ffffbf"), (0.98, "#a6d96a"), (math.inf, "#1a9641")]
NO_DATA = "#e4e4e4"
UNKNOWN = "unknown"  # the id of the "province unknown" section (quarantined rows that cannot be placed)


@dataclass
class Report:
    """Everything the page shows; each frame is small (a row per regency, province or listed enumerator)."""

    run_id: str
    regions: pd.DataFrame  # quality_by_region rows of this run (one per regency)
    revisit: pd.DataFrame  # quality.revisit_lists rows: ENUMERATOR_COLUMNS + province counts, to_revisit
    quarantine: pd.DataFrame  # quality.quarantine_by_province: province_code (None: unknown), source, reason_code, rows
    households_quarantined: int  # survey households quarantined and not accepted since
    provinces: pd.DataFrame  # reference: province_code, province_name
    regencies: pd.DataFrame  # reference: regency_code, regency_name
    tiles: pd.DataFrame  # province_code, iso, col, row
    population: int
    target: float
    min_match: float
    publication: dict | None  # publication_id, published_at of the publication reported on; None before one
    reference_version: str
    appeals: pd.DataFrame | None = None  # queue_status.appeal_status: province_code, appeal_type, status, appeals
    queue: pd.DataFrame | None = None  # queue_status.queue_size: reason, status, entries, overdue
    impact: dict | None = None  # model, summary, by_province of the published model version (stage.model_impact)

    def __post_init__(self) -> None:
        self.by_province = by_province(self.regions)
        self._province_names = self.provinces.set_index("province_code")["province_name"].to_dict()
        self._regency_names = self.regencies.set_index("regency_code")["regency_name"].to_dict()

    def province(self, code: str | None) -> str:
        if code is None or (isinstance(code, float) and math.isnan(code)):
            return "province unknown"
        return f"{code} {self._province_names.get(code, '(not in the region reference)')}"

    def regency(self, code: str) -> str:
        return f"{code} {self._regency_names.get(code, '(not in the region reference)')}"

    @property
    def published(self) -> bool:
        return self.publication is not None

    def national(self) -> dict[str, float]:
        p, q, r = self.by_province, self.quarantine, self.revisit
        listed = float(p["members_listed"].sum())
        counts = r.drop_duplicates("province_code") if len(r) else r
        return {
            "households": int(p["households_accepted"].sum()),
            "ranked": int(p["persons_ranked"].sum()),
            "covered": int(p["persons_covered"].sum()),
            "coverage": float(p["persons_covered"].sum()) / self.population if self.population else 0.0,
            "listed": int(listed),
            "match": float((p["match_rate"] * p["members_listed"]).sum() / listed) if listed else 0.0,
            "quarantined_rows": int(q["rows"].sum()) if len(q) else 0,
            "assessed": int(counts["province_assessed"].sum()) if len(r) else 0,
            "to_revisit": int(counts["province_revisit"].sum()) if len(r) else 0,
        }


def by_province(regions: pd.DataFrame) -> pd.DataFrame:
    """quality_by_region's rows (one per regency) summed to provinces; match rate and status shares
    weighted by members listed; coverage = persons within coverage / persons ranked."""
    reg = regions.copy()
    for col in [*SUMMED, *STATUS_SHARES]:
        if col not in reg:
            reg[col] = 0
    weighted = ["match_rate", *STATUS_SHARES]
    for col in weighted:
        reg[f"_w_{col}"] = reg[col].astype(float).fillna(0) * reg["members_listed"].astype(float)
    out = reg.groupby("province_code", as_index=False)[[*SUMMED, *[f"_w_{c}" for c in weighted]]].sum(min_count=1)
    out = out.fillna(0)
    for col in weighted:
        out[col] = (out.pop(f"_w_{col}") / out["members_listed"].where(out["members_listed"] > 0)).fillna(0)
    out["coverage"] = out["persons_covered"] / out["persons_ranked"].where(out["persons_ranked"] > 0)
    return out.sort_values("province_code").reset_index(drop=True)


def read_tiles(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"province_code": str, "iso": str, "col": int, "row": int})


def list_js() -> str:
    """list.js 2.3.1 as shipped in jobs/report/assets (read through the package loader, so it is found in a
    checkout and inside dist/dtks.zip alike); its source-map comment dropped (no file to point at)."""
    data = pkgutil.get_data("jobs.report", "assets/list.min.js")
    if data is None:
        raise FileNotFoundError("jobs/report/assets/list.min.js")
    text = "\n".join(line for line in data.decode("utf-8").splitlines() if not line.startswith("//# sourceMappingURL"))
    if "</script" in text.lower():
        raise ValueError("list.min.js cannot be inlined: it contains </script")
    return text


# ---------------------------------------------------------------- formatting

def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value, digits: int = 1) -> str:
    return "n/a" if _missing(value) else f"{value * 100:.{digits}f} %"


def num(value) -> str:
    return "n/a" if _missing(value) else f"{int(round(value)):,}"


def _fill(value, bins) -> str:
    if _missing(value):
        return NO_DATA
    return next(colour for bound, colour in bins if value < bound)


def _bar(share, colour: str = "#3182bd", marker: float | None = None) -> str:
    width = 0 if _missing(share) else max(0.0, min(1.0, float(share))) * 100
    mark = "" if marker is None else f'<b class="mark" style="left:{marker * 100:.1f}%"></b>'
    return f'<span class="bar"><i style="width:{width:.1f}%;background:{colour}"></i>{mark}</span>'


def _cell(key: str, text: str, sort=None, raw: bool = False) -> str:
    body = text if raw else _esc(text)
    data = "" if sort is None else f' data-v="{_esc("" if _missing(sort) else sort)}"'
    return f'<td class="{key}"{data}>{body}</td>'


def _list_table(list_id: str, what: str, headers: list[tuple[str, str, bool]], rows: list[str]) -> str:
    """A table list.js makes sortable (click a header) and filterable (the search box); `headers`: (key,
    label, numeric); a numeric column's cells carry their raw value in data-v, which it sorts by."""
    ths = "".join(f'<th class="sort" data-sort="{k}" tabindex="0" role="button">{_esc(label)}</th>'
                  for k, label, _ in headers)
    values = [{"name": k, "attr": "data-v"} if numeric else k for k, _, numeric in headers]
    numeric = [k for k, _, n in headers if n]
    cfg = _esc(json.dumps({"values": values, "numeric": numeric}))
    return (
        f'<div class="listing" id="{list_id}" data-list="{cfg}">'
        f'<input class="search" type="search" placeholder="Filter {_esc(what)} (any text)" '
        f'aria-label="Filter {_esc(what)}">'
        f'<span class="hint">Click a column header to sort.</span>'
        f'<div class="scroll tall"><table class="t"><thead><tr>{ths}</tr></thead>'
        f'<tbody class="list">{"".join(rows)}</tbody></table></div></div>'
    )


def _plain_table(headers: list[str], rows: list[str], cls: str = "t") -> str:
    ths = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{ths}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


# ---------------------------------------------------------------- sections

def _summary(r: Report) -> str:
    n = r.national()
    pub = r.publication
    cov = n["coverage"] if r.published else None
    cards = [
        ("Households accepted", num(n["households"]),
         f"survey households that passed the checks; {num(r.households_quarantined)} more quarantined (karantina)"),
        ("Persons ranked", num(n["ranked"]) if r.published else "n/a",
         "living members of ranked households, in national deciles (desil)"),
        ("Population P", num(r.population),
         f"of publication {pub['publication_id']}" if pub else "from the registry (nothing published yet)"),
        ("Persons within coverage", num(n["covered"]) if r.published else "n/a",
         f'<span id="national-coverage" data-value="{"" if cov is None else repr(cov)}">{pct(cov)}</span> of P, '
         f'target <span id="coverage-target" data-value="{r.target!r}">{pct(r.target, 0)}</span>'
         + _bar(cov, "#3182bd", r.target)),
        ("Match rate (padan)",
         f'<span id="national-match" data-value="{n["match"]!r}">{pct(n["match"])}</span>',
         f"of {num(n['listed'])} members listed matched to the civil registry" + _bar(n["match"], "#1a9641")),
        ("Enumerators (pencacah) to re-visit",
         f'<span id="enumerators-to-revisit" data-value="{n["to_revisit"]}">{num(n["to_revisit"])}</span>',
         f"of {num(n['assessed'])} assessed; at least one reason each"),
        ("Quarantined rows (karantina)", num(n["quarantined_rows"]), "all sources, by reason below"),
    ]
    html_cards = "".join(
        f'<div class="card"><div class="label">{_esc(label)}</div><div class="value">{value}</div>'
        f'<div class="sub">{sub}</div></div>'
        for label, value, sub in cards
    )
    return (f'<section id="summary"><h2>National summary</h2><div class="cards">{html_cards}</div>'
            f"{_reasons(r)}</section>")


def _reasons(r: Report) -> str:
    q = r.quarantine
    if not len(q):
        return "<p>No row has been quarantined.</p>"
    unknown = q["province_code"].isna()
    g = (q.assign(unknown_rows=q["rows"].where(unknown, 0))
         .groupby(["source", "reason_code"], as_index=False)[["rows", "unknown_rows"]].sum()
         .sort_values(["rows", "source", "reason_code"], ascending=[False, True, True]))
    rows = [
        f'<tr data-source="{_esc(x.source)}" data-reason="{_esc(x.reason_code)}" data-rows="{int(x.rows)}">'
        f"<td>{_esc(SOURCE_LABELS.get(x.source, x.source))}</td><td>{_reason(x.reason_code)}</td>"
        f'<td class="n">{num(x.rows)}</td><td class="n">{num(x.unknown_rows)}</td></tr>'
        for x in g.itertuples()
    ]
    return ("<h3>Quarantined rows by reason (karantina)</h3>"
            + _plain_table(["source", "reason", "rows", "of which province unknown"], rows)
            + '<p class="note">Rows quarantined by every ingest run so far. A row is placed in a province '
              'through its record: an accepted household or registry person of the same id, or the village '
              'code an UNKNOWN_VILLAGE household names; members through their household. Other rows (e.g. a '
              'household rejected for a bad answer, and its members) are counted under '
              '<a href="#prov-unknown">province unknown</a>.</p>')


def _appeals(r: Report) -> str:
    """Appeals (usul, sanggah) by province, type and status; the verification queue's size by reason."""
    head = '<section id="appeals"><h2>Appeals and the verification queue (usul, sanggah)</h2>'
    if r.queue is None:
        return head + "<p>No verification queue published yet.</p></section>"
    q = r.queue
    open_q = q[q["status"] == "OPEN"]
    by_reason = q.pivot_table(index="reason", columns="status", values="entries", aggfunc="sum", fill_value=0)
    statuses = [s for s in ("OPEN", "RESURVEYED", "RESOLVED", "LAPSED") if s in by_reason.columns]
    overdue = open_q.set_index("reason")["overdue"] if len(open_q) else pd.Series(dtype=int)
    rows = [f'<tr data-reason="{_esc(reason)}">'
            f"<td>{_reason(reason)}</td>" + "".join(f'<td class="n">{num(x[s])}</td>' for s in statuses)
            + f'<td class="n">{num(int(overdue.get(reason, 0)))}</td></tr>' for reason, x in by_reason.iterrows()]
    parts = [head, "<h3>Queue by reason</h3><p class=\"note\">Entries carrying each reason (an entry may carry "
             "several), by status at the last publish: OPEN to re-survey; RESURVEYED, RESOLVED (an appeal's "
             "re-survey came in) and LAPSED (its deadline passed first) were closed by that publish. Overdue: open "
             "entries past their deadline today.</p>",
             _plain_table(["reason", *[s.lower() for s in statuses], "overdue"], rows)]
    a = r.appeals
    if a is not None and len(a):
        wide = a.pivot_table(index=["province_code", "appeal_type"], columns="status", values="appeals",
                             aggfunc="sum", fill_value=0)
        cols = [s for s in ("NOT_QUEUED", "OPEN", "RESOLVED", "LAPSED") if s in wide.columns]
        totals = a.groupby("status")["appeals"].sum()
        cells = ", ".join(f"{s.lower().replace('_', ' ')} {num(int(totals[s]))}" for s in cols)
        rows = [f'<tr data-province="{_esc(p)}" data-type="{_esc(t)}"><td>{_esc(r.province(p))}</td>'
                f"<td>{_esc(t)}</td>" + "".join(f'<td class="n">{num(x[s])}</td>' for s in cols) + "</tr>"
                for (p, t), x in wide.iterrows()]
        parts += [f"<h3>Appeals by province, type and status</h3><p>{num(int(a['appeals'].sum()))} appeals: "
                  f"{cells}.</p>", _plain_table(["province", "type", *[c.lower().replace("_", " ") for c in cols]],
                                                rows)]
    return "".join(parts) + "</section>"


def _impact(r: Report) -> str:
    """What the published model version was measured to change before it went live (dtks model impact)."""
    head = '<section id="impact"><h2>Impact of the published model version</h2>'
    if r.impact is None:
        return head + "<p>No model version published yet.</p></section>"
    model, summary = r.impact["model"], r.impact.get("summary")
    if summary is None:
        return head + (f"<p>{_esc(model)} was not measured against a publication before it went live (the first "
                       "version, or one trained before impact was measured).</p></section>")
    totals = summary["totals"]
    rows = [f'<tr data-program="{_esc(t["program"])}"><td>{_esc(t["program"])}</td>'
            + "".join(f'<td class="n">{num(t[k])}</td>' for k in ("entered_households", "entered_persons",
                                                                  "left_households", "left_persons")) + "</tr>"
            for t in totals if t["program"] != "WITHIN_COVERAGE"]
    parts = [head, f"<p>Before it went live, {_esc(model)} was measured against publication "
             f"{_esc(summary['publication_id'])} (coverage {pct(summary['coverage'], 0)}): "
             f"{pct(summary['churn'], 2)} of persons would change eligibility for a programme, and "
             f"{pct(summary['decile_moved_2'], 2)} of households would move two deciles or more.</p>",
             _plain_table(["programme", "entering households", "persons", "leaving households", "persons"], rows)]
    by = r.impact.get("by_province")
    if by is not None and len(by):
        by = by[by["program"] != "WITHIN_COVERAGE"]
        wide = by.pivot_table(index="province_code", columns="program", values=["entered_households",
                              "left_households"], aggfunc="sum", fill_value=0)
        programs = sorted(by["program"].unique())
        rows = [f'<tr data-province="{_esc(code)}"><td>{_esc(r.province(code))}</td>'
                + "".join(f'<td class="n">+{num(x[("entered_households", p)])} / '
                          f'-{num(x[("left_households", p)])}</td>' for p in programs) + "</tr>"
                for code, x in wide.iterrows()]
        parts += ["<h3>Households entering / leaving, by province</h3>",
                  _plain_table(["province", *programs], rows)]
    return "".join(parts) + "</section>"


def _reason(code: str) -> str:
    label = REASON_LABELS.get(code)
    breakable = _esc(code).replace("_", "_<wbr>")  # long codes break at their underscores on a phone
    return f"<code>{breakable}</code>" + (f" {_esc(label)}" if label else "")


def _map(r: Report) -> str:
    size, gap, pad = 56, 6, 4
    tiles = r.tiles
    cols, rows = int(tiles["col"].max()) + 1, int(tiles["row"].max()) + 1
    width, height = cols * (size + gap) + pad, rows * (size + gap) + pad
    data = r.by_province.set_index("province_code")
    shapes = []
    for t in tiles.sort_values(["row", "col"]).itertuples():
        x, y = pad + t.col * (size + gap), pad + t.row * (size + gap)
        name = r.province(t.province_code)
        label = f'<text x="{x + size / 2}" y="{y + 25}" class="iso">{_esc(t.iso)}</text>'
        if t.province_code not in data.index:
            shapes.append(
                f'<g class="nodata"><rect data-no-data="{_esc(t.province_code)}" x="{x}" y="{y}" width="{size}" '
                f'height="{size}" rx="6" fill="{NO_DATA}"><title>{_esc(name)}: no data in this run</title></rect>'
                f"{label}</g>")
            continue
        p = data.loc[t.province_code]
        cov = p["coverage"] if r.published else None
        titles = {"coverage": f"{name}: coverage {pct(cov)}",
                  "match": f"{name}: match rate (padan) {pct(p['match_rate'])}"}
        values = {"coverage": pct(cov, 0).replace(" ", ""), "match": pct(p["match_rate"], 0).replace(" ", "")}
        fills = {"coverage": _fill(cov, COVERAGE_BINS), "match": _fill(p["match_rate"], MATCH_BINS)}
        shapes.append(
            f'<a href="#prov-{_esc(t.province_code)}"><rect data-province="{_esc(t.province_code)}" x="{x}" y="{y}" '
            f'width="{size}" height="{size}" rx="6" fill="{fills["coverage"]}" '
            + "".join(f'data-fill-{m}="{fills[m]}" data-title-{m}="{_esc(titles[m])}" data-value-{m}="{values[m]}" '
                      for m in fills)
            + f'><title>{_esc(titles["coverage"])}</title></rect>{label}'
            f'<text x="{x + size / 2}" y="{y + 47}" class="val">{values["coverage"]}</text></a>')
    outside = sorted(set(data.index) - set(tiles["province_code"]))
    extra = (f'<p class="note">Not on the tile grid: {_esc(", ".join(r.province(c) for c in outside))}.</p>'
             if outside else "")
    legends = "".join(
        f'<div class="legend" data-legend="{m}"{" hidden" if m != "coverage" else ""}><span>{_esc(title)}:</span>'
        + "".join(f'<span class="key"><i style="background:{c}"></i>{_esc(lab)}</span>' for c, lab in _legend(bins))
        + f'<span class="key"><i style="background:{NO_DATA}"></i>no data</span></div>'
        for m, title, bins in (
            ("coverage", "share of the province's ranked persons within coverage", COVERAGE_BINS),
            ("match", f"members matched to the registry (padan; regional minimum {pct(r.min_match, 0)})", MATCH_BINS))
    )
    return (
        '<section id="map-section"><h2>Map of the provinces (provinsi)</h2>'
        '<div class="toggle" role="group" aria-label="colour the map by">'
        '<button type="button" data-metric-button="coverage" aria-pressed="true">Coverage</button>'
        '<button type="button" data-metric-button="match" aria-pressed="false">Match rate (padan)</button></div>'
        f'<div class="mapbox"><svg id="map" viewBox="0 0 {width} {height}" role="img" data-metric="coverage" '
        'aria-label="Provinces of Indonesia as a tile grid, coloured by the chosen measure">'
        f'{"".join(shapes)}</svg></div>'
        f"{legends}{extra}"
        '<p class="note">One tile per province, placed roughly by geography (not to scale); select a tile for '
        "the province's section. Grey: no household of that province in this run.</p></section>"
    )


def _legend(bins) -> list[tuple[str, str]]:
    out, low = [], None
    for bound, colour in bins:
        if low is None:
            out.append((colour, f"< {bound * 100:.0f} %"))
        elif math.isinf(bound):
            out.append((colour, f"≥ {low * 100:.0f} %"))
        else:
            out.append((colour, f"{low * 100:.0f}–{bound * 100:.0f} %"))
        low = bound
    return out


def _overview(r: Report) -> str:
    q = r.quarantine
    held = q.groupby(q["province_code"].fillna(UNKNOWN))["rows"].sum() if len(q) else pd.Series(dtype=float)
    counts = r.revisit.drop_duplicates("province_code").set_index("province_code") if len(r.revisit) else None
    rows = []
    for p in r.by_province.itertuples():
        known = counts is not None and p.province_code in counts.index
        revisit = int(counts.loc[p.province_code, "province_revisit"]) if known else 0
        cov = p.coverage if r.published else None
        rows.append(
            f'<tr data-province="{_esc(p.province_code)}">'
            + _cell("province", f'<a href="#prov-{_esc(p.province_code)}">{_esc(r.province(p.province_code))}</a>',
                    raw=True)
            + _cell("households", num(p.households_accepted), p.households_accepted)
            + _cell("ranked", num(p.persons_ranked) if r.published else "n/a", p.persons_ranked)
            + _cell("coverage", _bar(cov) + pct(cov), cov, raw=True)
            + _cell("match", _bar(p.match_rate, "#1a9641") + _match_text(r, p.match_rate), p.match_rate, raw=True)
            + _cell("notfound", pct(p.share_not_found), p.share_not_found)
            + _cell("invalid", pct(p.share_invalid_nik), p.share_invalid_nik)
            + _cell("missing", pct(p.share_missing_nik), p.share_missing_nik)
            + _cell("quarantined", num(held.get(p.province_code, 0)), held.get(p.province_code, 0))
            + _cell("revisit", num(revisit), revisit)
            + "</tr>"
        )
    headers = [("province", "province (provinsi)", False), ("households", "households", True),
               ("ranked", "persons ranked", True), ("coverage", "coverage", True), ("match", "matched (padan)", True),
               ("notfound", "not found (tidak padan)", True), ("invalid", "invalid NIK", True),
               ("missing", "missing NIK", True), ("quarantined", "quarantined rows", True),
               ("revisit", "enumerators to re-visit", True)]
    return ('<section id="provinces"><h2>Provinces (provinsi)</h2>'
            + _list_table("province-list", "provinces", headers, rows)
            + '<p class="note">Coverage: share of the province\'s ranked persons whose household is within the '
              f'national coverage target ({pct(r.target, 0)} of P). ▼: match rate under the regional minimum '
              f'({pct(r.min_match, 0)}). Select a province for its section below.</p>'
              "</section>")


def _match_text(r: Report, rate: float) -> str:
    """A match rate, marked when under the regional minimum (thresholds.min_region_match_rate)."""
    if _missing(rate) or rate >= r.min_match:
        return pct(rate)
    return f'<span class="low" title="under the regional minimum of {pct(r.min_match, 0)}">{pct(rate)} ▼</span>'


def _deciles_svg(p) -> str:
    shares = [getattr(p, f"persons_decile_{d}") / p.persons_ranked if p.persons_ranked else 0.0 for d in range(1, 11)]
    top = max(0.2, max(shares))
    w, h, base, bw = 330, 150, 120, 26
    bars, ref = [], base - 0.1 / top * 100
    for i, s in enumerate(shares):
        x = 12 + i * 31
        bh = s / top * 100
        bars.append(
            f'<rect x="{x}" y="{base - bh:.1f}" width="{bw}" height="{bh:.1f}" fill="#6baed6">'
            f"<title>desil {i + 1}: {num(getattr(p, f'persons_decile_{i + 1}'))} persons ({pct(s)})</title></rect>"
            f'<text x="{x + bw / 2}" y="{base + 14}" class="ax">{i + 1}</text>'
            f'<text x="{x + bw / 2}" y="{base - bh - 3:.1f}" class="lbl">{s * 100:.0f}</text>')
    return (f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="persons by national decile">'
            f'{"".join(bars)}<line x1="8" x2="{w - 4}" y1="{ref:.1f}" y2="{ref:.1f}" class="ref"/>'
            f'<text x="{w - 4}" y="{ref - 3:.1f}" class="lbl end">10 %</text>'
            f'<text x="{w / 2}" y="{h - 2}" class="ax">national decile (desil), 1 = poorest; '
            "% of ranked persons</text></svg>")


def _match_block(p) -> str:
    segs, rows = [], []
    for status in contract.STATUSES:
        label, colour = STATUS_LABELS[status]
        share = float(getattr(p, f"share_{status.lower()}"))
        segs.append(f'<i style="width:{share * 100:.2f}%;background:{colour}" title="{_esc(label)} {pct(share)}"></i>')
        rows.append(f'<tr data-status="{status}"><td><i class="sw" style="background:{colour}"></i>{_esc(label)}</td>'
                    f'<td class="n">{pct(share)}</td></tr>')
    return (f'<p>Match rate <strong>{pct(p.match_rate)}</strong> of {num(p.members_listed)} members listed.</p>'
            f'<div class="stack">{"".join(segs)}</div>' + _plain_table(["status", "share of members"], rows, "t small"))


def _province_section(r: Report, code: str | None) -> str:
    key = UNKNOWN if code is None else code
    q = r.quarantine
    mine = q[q["province_code"].isna()] if code is None else q[q["province_code"] == code]
    qrows = [
        f'<tr data-quarantine-province="{_esc(key)}" data-source="{_esc(x.source)}" '
        f'data-reason="{_esc(x.reason_code)}" data-rows="{int(x.rows)}">'
        f"<td>{_esc(SOURCE_LABELS.get(x.source, x.source))}</td><td>{_reason(x.reason_code)}</td>"
        f'<td class="n">{num(x.rows)}</td></tr>'
        for x in mine.sort_values(["rows", "source", "reason_code"], ascending=[False, True, True]).itertuples()
    ]
    quarantine = ("<h4>Quarantined rows (karantina)</h4>"
                  + (_plain_table(["source", "reason", "rows"], qrows, "t small") if qrows else "<p>None.</p>"))
    if code is None:
        return (f'<details id="prov-{UNKNOWN}" class="province"><summary><span class="pname">Province unknown'
                f'</span><span class="pfig">{num(mine["rows"].sum())} quarantined rows</span></summary>'
                '<div class="pbody"><p>Quarantined rows whose province cannot be worked out from the tables: a '
                "household rejected for a reason other than its village code (and its members), a member of an "
                "unknown household, a registry person not accepted under another record, or a record without a "
                f"usable id.</p>{quarantine}</div></details>")
    tup = _Row(r.by_province.set_index("province_code").loc[code])
    cov = tup.coverage if r.published else None
    regs = r.regions[r.regions["province_code"] == code].sort_values("match_rate")
    reg_rows = [
        f"<tr><td>{_esc(r.regency(x.regency_code))}</td><td class='n'>{num(x.households_accepted)}</td>"
        f"<td class='n'>{pct(x.match_rate)}</td>"
        f"<td class='n'>{pct(_coverage(x))}</td></tr>"
        for x in regs.itertuples()
    ]
    enum = r.revisit[(r.revisit["province_code"] == code) & r.revisit["to_revisit"]] if len(r.revisit) else r.revisit
    counts = r.revisit[r.revisit["province_code"] == code].head(1) if len(r.revisit) else r.revisit
    assessed = int(counts["province_assessed"].iloc[0]) if len(counts) else 0
    to_revisit = int(counts["province_revisit"].iloc[0]) if len(counts) else 0
    erows = [
        f'<tr data-enumerator="{_esc(e.enumerator_id)}"><td>{_esc(e.enumerator_id)}</td>'
        f"<td>{_esc(e.supervisor_id)}</td><td>{_esc(e.coordinator_id)}</td><td>{_esc(r.regency(e.regency_code))}</td>"
        f"<td class='n'>{num(e.households)}</td><td class='n'>{e.revisit_score:.2f}</td>"
        f"<td>{_esc(e.revisit_reasons)}</td></tr>"
        for e in enum.itertuples()
    ]
    shown = f"; the {len(erows)} with the highest score shown" if len(erows) < to_revisit else ""
    enumerators = (f"<h4>Enumerators (pencacah) to re-visit</h4><p>{num(to_revisit)} of {num(assessed)} "
                   f"enumerators assessed here{shown}.</p>"
                   + (_plain_table(["enumerator (pencacah)", "supervisor (pengawas)", "coordinator (koordinator)",
                                    "regency/city", "households", "score", "reasons"], erows, "t small")
                      if erows else ""))
    coverage = (
        f"<p><strong>{pct(cov)}</strong> of {num(tup.persons_ranked)} ranked persons are within coverage "
        f"({num(tup.persons_covered)}); national target {pct(r.target, 0)} of P.</p>{_bar(cov, '#3182bd', r.target)}"
        + _deciles_svg(tup)
        if r.published else "<p>Nothing published yet: no coverage or deciles.</p>"
    )
    figures = (f"coverage {pct(cov)} · padan {_match_text(r, tup.match_rate)} · "
               f"{num(to_revisit)} enumerator{'s' if to_revisit != 1 else ''} to re-visit")
    return (
        f'<details id="prov-{_esc(code)}" class="province" data-province="{_esc(code)}"><summary>'
        f'<span class="pname">{_esc(r.province(code))}</span><span class="pfig">{figures}</span></summary>'
        '<div class="pbody"><div class="grid">'
        f"<div><h4>Coverage and deciles (desil)</h4>{coverage}</div>"
        f"<div><h4>Matching to the civil registry (padan)</h4>{_match_block(tup)}</div>"
        f"<div>{quarantine}</div>"
        f"<div><h4>Regencies and cities (kabupaten/kota)</h4>"
        + _plain_table(["regency/city", "households", "matched", "coverage"], reg_rows, "t small")
        + f"</div></div>{enumerators}</div></details>"
    )


class _Row:
    """Attribute access to a pandas Series (a province's row)."""

    def __init__(self, series: pd.Series) -> None:
        self.__dict__.update(series.to_dict())


def _coverage(regency) -> float | None:
    """A regency's persons within coverage / persons ranked (None before a publication or with none ranked)."""
    covered, ranked = getattr(regency, "persons_covered", None), getattr(regency, "persons_ranked", None)
    return None if _missing(covered) or _missing(ranked) or not ranked else covered / ranked


def _provinces(r: Report) -> str:
    sections = [_province_section(r, c) for c in r.by_province["province_code"]]
    if len(r.quarantine) and r.quarantine["province_code"].isna().any():
        sections.append(_province_section(r, None))
    return ('<section id="province-details"><h2>Each province</h2>'
            '<p class="note">Open a province for its coverage, deciles, matching, quarantine, regencies and the '
            f'enumerators to re-visit.</p>{"".join(sections)}</section>')


def _regency_table(r: Report) -> str:
    reg = r.regions.sort_values(["match_rate", "province_code", "regency_code"])
    rows = []
    for x in reg.itertuples():
        cov = _coverage(x)
        rows.append(
            f'<tr data-regency="{_esc(x.regency_code)}">'
            + _cell("province", r.province(x.province_code))
            + _cell("regency", r.regency(x.regency_code))
            + _cell("households", num(x.households_accepted), x.households_accepted)
            + _cell("listed", num(x.members_listed), x.members_listed)
            + _cell("match", pct(x.match_rate), x.match_rate)
            + _cell("notfound", pct(x.share_not_found), x.share_not_found)
            + _cell("invalid", pct(x.share_invalid_nik), x.share_invalid_nik)
            + _cell("missing", pct(x.share_missing_nik), x.share_missing_nik)
            + _cell("duplicates", num(x.duplicates), x.duplicates)
            + _cell("deceased", num(x.deceased), x.deceased)
            + _cell("coverage", pct(cov), cov)
            + _cell("short", pct(x.short_interview_share), x.short_interview_share)
            + "</tr>"
        )
    headers = [("province", "province", False), ("regency", "regency/city (kabupaten/kota)", False),
               ("households", "households", True), ("listed", "members listed", True),
               ("match", "matched (padan)", True), ("notfound", "not found (tidak padan)", True),
               ("invalid", "invalid NIK", True), ("missing", "missing NIK", True), ("duplicates", "duplicates", True),
               ("deceased", "deceased", True), ("coverage", "coverage", True), ("short", "short interviews", True)]
    return ('<section id="regencies"><h2>Regencies and cities (kabupaten/kota)</h2>'
            '<p class="note">Lowest match rate first.</p>'
            + _list_table("regency-list", "regencies", headers, rows) + "</section>")


def _enumerator_table(r: Report) -> str:
    enum = r.revisit[r.revisit["to_revisit"]] if len(r.revisit) else r.revisit
    enum = enum.sort_values(["revisit_score", "enumerator_id"], ascending=[False, True]) if len(enum) else enum
    rows = [
        f'<tr data-enumerator="{_esc(e.enumerator_id)}">'
        + _cell("enumerator", e.enumerator_id) + _cell("supervisor", e.supervisor_id)
        + _cell("coordinator", e.coordinator_id) + _cell("province", r.province(e.province_code))
        + _cell("regency", r.regency(e.regency_code)) + _cell("households", num(e.households), e.households)
        + _cell("minutes", f"{e.median_minutes:.0f}", e.median_minutes)
        + _cell("short", pct(e.short_interview_share, 0), e.short_interview_share)
        + _cell("repeated", pct(e.repeated_answer_share, 0), e.repeated_answer_share)
        + _cell("failures", pct(e.match_failure_share, 0), e.match_failure_share)
        + _cell("score", f"{e.revisit_score:.2f}", e.revisit_score) + _cell("reasons", e.revisit_reasons)
        + "</tr>"
        for e in enum.itertuples()
    ]
    headers = [("enumerator", "enumerator (pencacah)", False), ("supervisor", "supervisor (pengawas)", False),
               ("coordinator", "coordinator (koordinator)", False), ("province", "province", False),
               ("regency", "regency/city", False), ("households", "households", True),
               ("minutes", "median minutes", True), ("short", "short interviews", True),
               ("repeated", "same answers", True), ("failures", "match failures", True),
               ("score", "re-visit score", True), ("reasons", "reasons", False)]
    per = int(r.revisit.groupby("province_code").size().max()) if len(r.revisit) else 0
    return ('<section id="enumerators"><h2>Enumerators to re-visit (pencacah)</h2>'
            f'<p class="note">Highest re-visit score first: per province, up to {per} enumerators with at least one '
            "reason (answer patterns repeated across households, interviews too short, match failures above the "
            "province median).</p>"
            + (_list_table("enumerator-list", "enumerators", headers, rows) if rows else "<p>None.</p>")
            + "</section>")


def _footer(r: Report) -> str:
    return (
        '<footer id="notes"><h2>Notes</h2><ul>'
        "<li><strong>Map.</strong> The map is a tile grid (conf/reference/province_tiles.csv), one tile per "
        "province. A geographic map would need province boundaries, and Natural Earth's admin-1 boundaries still "
        "have Indonesia's 34 provinces from before 2022, without Papua Selatan, Papua Tengah, Papua Pegunungan "
        "and Papua Barat Daya: they cannot show the 38 provinces of the region reference.</li>"
        "<li><strong>Coverage and deciles.</strong> Deciles (desil) are national and person-weighted, 1 = poorest; "
        "persons within coverage are the members of households ranked within the coverage target.</li>"
        "<li><strong>Quarantine (karantina).</strong> Rows that cannot be placed in a province are counted as "
        '<a href="#prov-unknown">province unknown</a>.</li>'
        f"<li><strong>Names.</strong> Kemendagri region reference {_esc(r.reference_version)}: contains "
        "information from idn-area-data, which is made available under the Open Database License (ODbL).</li>"
        "<li><strong>Software.</strong> Sorting and filtering: list.js 2.3.1, © 2011-2018 Jonny Strömberg, MIT "
        "licence (inlined; licence in jobs/report/assets/).</li></ul></footer>"
    )


CSS = """
*{box-sizing:border-box}
[hidden]{display:none!important}
html{-webkit-text-size-adjust:100%}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2733;
 background:#f5f6f8;line-height:1.4;font-size:15px}
main,header.top{max-width:1200px;margin:0 auto;padding:0 16px}
header.top{padding-top:16px}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;margin:1.4em 0 .5em}h3{font-size:1.05em}h4{margin:.6em 0 .3em}
section,footer{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:4px 16px 14px;margin:14px 0}
footer{max-width:1200px;margin:14px auto 24px}
nav a{margin-right:12px;white-space:nowrap}nav{margin:.3em 0;display:flex;flex-wrap:wrap;gap:4px 0}
a{color:#1f5fa8}
code{font-size:.85em;background:#eef1f4;padding:0 3px;border-radius:3px;overflow-wrap:anywhere}
td code{overflow-wrap:normal}
.meta{color:#555;font-size:.9em;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:10px}
.card{border:1px solid #e1e5ea;border-radius:6px;padding:10px 12px;background:#fbfcfd;min-width:0}
.card .label{font-size:.85em;color:#555}.card .value{font-size:1.5em;font-weight:600;overflow-wrap:anywhere}
.card .sub{font-size:.85em;color:#444}
.bar{display:block;position:relative;height:8px;background:#e9edf1;border-radius:4px;margin:4px 0;min-width:60px}
.bar i{display:block;height:100%;border-radius:4px}
.bar .mark{position:absolute;top:-3px;width:2px;height:14px;background:#c0392b}
td .bar{height:6px;margin:0 0 2px}
.stack{display:flex;height:14px;border-radius:4px;overflow:hidden;background:#eee;margin:6px 0}
.stack i{display:block;height:100%}
.sw{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;vertical-align:middle}
.scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}
.scroll.tall{max-height:70vh;overflow-y:auto;border:1px solid #e6e9ed;border-radius:4px}
table.t{border-collapse:collapse;font-size:13px;width:100%}
.t th,.t td{padding:4px 8px;border-bottom:1px solid #e6e9ed;text-align:left;vertical-align:top}
.t th{background:#f0f3f6;position:sticky;top:0;z-index:1;font-weight:600;vertical-align:bottom}
.t td.n,.t td[data-v]{text-align:right;white-space:nowrap}
.t.small{font-size:12.5px}
th.sort{cursor:pointer;user-select:none}
td.reasons{min-width:190px}td.province,td.regency{min-width:110px}
.listing table.t{font-size:12.5px}.listing .t th,.listing .t td{padding:4px 6px}
th.sort:after{content:" \\2195";color:#999}th.sort.asc:after{content:" \\25B2";color:#333}
th.sort.desc:after{content:" \\25BC";color:#333}
.listing .search{width:100%;max-width:360px;padding:6px 8px;margin:4px 0 6px;font-size:15px;border:1px solid #bbb;
 border-radius:4px}
.hint{font-size:.8em;color:#666;margin-left:8px}
.note{font-size:.85em;color:#555}
.low{color:#b2182b;font-weight:600}
.toggle{display:flex;flex-wrap:wrap;gap:6px;margin-bottom:8px}
.toggle button{font:inherit;padding:5px 12px;border:1px solid #1f5fa8;background:#fff;color:#1f5fa8;
 border-radius:16px;cursor:pointer}
.toggle button[aria-pressed=true]{background:#1f5fa8;color:#fff}
.mapbox{max-width:960px}
#map{width:100%;height:auto;display:block}
#map text{text-anchor:middle;pointer-events:none;fill:#111;stroke:#fff;stroke-width:3px;paint-order:stroke;
 font-weight:600}
#map .iso{font-size:15px}#map .val{font-size:13px}#map .nodata text{fill:#888}
#map rect{stroke:#fff;stroke-width:1}#map a:hover rect,#map a:focus rect{stroke:#111;stroke-width:2}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:.85em;margin:6px 0;align-items:center}
.legend .key i{display:inline-block;width:14px;height:12px;margin-right:4px;vertical-align:middle;
 border:1px solid #ccc}
details.province{border:1px solid #e1e5ea;border-radius:6px;margin:6px 0;background:#fbfcfd}
details.province>summary{cursor:pointer;padding:8px 12px;display:flex;flex-wrap:wrap;gap:2px 14px;
 align-items:baseline}
details.province>summary::-webkit-details-marker{color:#1f5fa8}
details.province[open]>summary{border-bottom:1px solid #e1e5ea;background:#f0f4f8}
.pname{font-weight:600}.pfig{font-size:.88em;color:#444}
.pbody{padding:6px 12px 12px}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:8px 22px}
.grid>div{min-width:0}
svg.chart{width:100%;max-width:420px;height:auto;display:block}
svg.chart .ax{font-size:10px;text-anchor:middle;fill:#444}
svg.chart .lbl{font-size:9px;text-anchor:middle;fill:#333}svg.chart .lbl.end{text-anchor:end}
svg.chart .ref{stroke:#c0392b;stroke-dasharray:4 3}
@media (max-width:700px){
 body{font-size:14px}
 main,header.top{padding:0 8px}
 section,footer{padding:2px 10px 10px;margin:10px 0}
 footer{margin:10px 8px 16px}
 .grid{grid-template-columns:minmax(0,1fr)}
 .cards{grid-template-columns:repeat(auto-fill,minmax(150px,1fr))}
 .card .value{font-size:1.25em}
 .hint{display:block;margin:0 0 4px}
 #map .iso{font-size:26px}#map .val{display:none}
}
"""

JS = """
(function () {
  var map = document.getElementById('map');
  function show(metric) {
    if (!map) return;
    map.setAttribute('data-metric', metric);
    map.querySelectorAll('rect[data-province]').forEach(function (r) {
      r.setAttribute('fill', r.getAttribute('data-fill-' + metric));
      r.querySelector('title').textContent = r.getAttribute('data-title-' + metric);
      var v = r.parentNode.querySelector('text.val');
      if (v) v.textContent = r.getAttribute('data-value-' + metric);
    });
    document.querySelectorAll('[data-legend]').forEach(function (l) {
      l.hidden = l.getAttribute('data-legend') !== metric;
    });
    document.querySelectorAll('[data-metric-button]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-metric-button') === metric));
    });
  }
  document.querySelectorAll('[data-metric-button]').forEach(function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-metric-button')); });
  });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === 'DETAILS') { el.open = true; el.scrollIntoView(); }
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  if (typeof List === 'undefined') return;
  document.querySelectorAll('[data-list]').forEach(function (box) {
    var cfg = JSON.parse(box.getAttribute('data-list'));
    var numeric = {};
    cfg.numeric.forEach(function (k) { numeric[k] = true; });
    new List(box.id, {
      valueNames: cfg.values,
      sortFunction: function (a, b, options) {
        var x = a.values()[options.valueName], y = b.values()[options.valueName];
        if (numeric[options.valueName]) {
          var nx = parseFloat(x), ny = parseFloat(y);
          nx = isNaN(nx) ? -Infinity : nx; ny = isNaN(ny) ? -Infinity : ny;
          return nx < ny ? -1 : nx > ny ? 1 : 0;
        }
        return String(x).localeCompare(String(y), undefined, {numeric: true, sensitivity: 'base'});
      }
    });
    box.querySelectorAll('th.sort').forEach(function (th) {
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); th.click(); }
      });
    });
  });
})();
"""


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else str(value)


def render(r: Report) -> str:
    pub = r.publication
    published = (f"publication {_esc(pub['publication_id'])} of {_esc(_when(pub['published_at']))}" if pub
                 else "no publication yet")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DTKS quality report {_esc(r.run_id)}</title>
<style>{CSS}</style>
</head><body>
<header class="top"><h1>DTKS quality report</h1>
<p class="meta">Run <code>{_esc(r.run_id)}</code> · {published} · coverage target {pct(r.target, 0)}
 · region reference {_esc(r.reference_version)}</p>
<nav><a href="#summary">Summary</a><a href="#map-section">Map</a><a href="#provinces">Provinces</a>
<a href="#province-details">Each province</a><a href="#appeals">Appeals</a><a href="#impact">Model impact</a>
<a href="#regencies">Regencies</a><a href="#enumerators">Enumerators</a>
<a href="#notes">Notes</a></nav></header>
<main>
{_summary(r)}
{_map(r)}
{_overview(r)}
{_provinces(r)}
{_appeals(r)}
{_impact(r)}
{_regency_table(r)}
{_enumerator_table(r)}
</main>
{_footer(r)}
<script>{list_js()}</script>
<script>{JS}</script>
</body></html>
"""


def summary_lines(r: Report) -> list[str]:
    """The stage's summary: the headline figures of the page."""
    n = r.national()
    top = (r.revisit[r.revisit["to_revisit"]].sort_values("revisit_score", ascending=False)["enumerator_id"].head(3)
           if len(r.revisit) else [])
    return [
        f"{n['households']:,} survey households accepted; {n['ranked']:,} persons ranked against a national "
        f"population of {r.population:,}",
        f"persons within coverage: {n['covered']:,} = {n['coverage']:.1%} of the population (target {r.target:.0%})",
        f"national match rate (padan): {n['match']:.1%}",
        f"{n['to_revisit']:,} of {n['assessed']:,} enumerators to re-visit; top: " + (", ".join(top) or "none"),
        f"{n['quarantined_rows']:,} quarantined rows, "
        f"{int(r.quarantine.loc[r.quarantine['province_code'].isna(), 'rows'].sum()) if len(r.quarantine) else 0:,}"
        " of them in no known province",
    ]
