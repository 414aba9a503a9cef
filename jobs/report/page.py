"""The coordinator's page: one self-contained HTML file (inline CSS, JS and SVG; no network, no other file)
made from the small frames of figures.Report.

It holds the national summary, a tile-grid map of the provinces coloured by coverage or match rate, an
overview table and an expandable section per province, the appeals and the verification queue, the published
model version's impact, the regencies and the enumerators to re-visit. Every province and regency is shown
with its name beside its code ("32 Jawa Barat").

sections.py builds the view of each section; the Jinja2 templates in jobs/report/templates/ print it, escaping
every value; the CSS and JavaScript are jobs/report/assets/report.css and report.js, with list.js 2.3.1 (MIT,
vendored there) for sorting and filtering the tables; all three are inlined. Templates and assets are read
through the package loader, so they are found in a checkout and inside dist/dtks.zip alike.
"""

from __future__ import annotations

import functools
import pkgutil

from jinja2 import Environment, PackageLoader, StrictUndefined

from jobs.report import sections
from jobs.report.figures import Report

_ELEMENT = {"css": "style", "js": "script"}  # the element page.html inlines each kind of asset in


@functools.cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("jobs.report", "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def asset(name: str) -> str:
    """A file of jobs/report/assets, CSS or JavaScript, which page.html inlines as it is (not escaped): refused if
    it could end its style or script element early. A source-map comment is dropped (no file to point at)."""
    data = pkgutil.get_data("jobs.report", f"assets/{name}")
    if data is None:
        raise FileNotFoundError(f"jobs/report/assets/{name}")
    lines = data.decode("utf-8").splitlines(keepends=True)
    text = "".join(line for line in lines if not line.startswith("//# sourceMappingURL"))
    closing = "</" + _ELEMENT[name.rpartition(".")[2]]
    if closing in text.lower():
        raise ValueError(f"{name} cannot be inlined: it contains {closing}")
    return text


def render(r: Report) -> str:
    return _environment().get_template("page.html").render(
        page=sections.page(r), css=asset("report.css"), js=asset("report.js"), list_js=asset("list.min.js"))


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
        f"{n['quarantined_rows']:,} quarantined rows, {r.unplaced_rows():,} of them in no known province",
    ]
