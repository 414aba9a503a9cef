"""The report page from small frames, without Spark: before any publication, with nothing quarantined and no
enumerator to re-visit, with a row that cannot be placed, and with markup in the names and codes it prints.
The page as the pipeline writes it is checked in a browser by tests/test_pipeline.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd

from jobs.core import contract, regions
from jobs.report import figures, page
from runtime.config import load_config


def _report(published: bool, quarantine: pd.DataFrame, revisit: pd.DataFrame, **given) -> figures.Report:
    """Three regencies in provinces 32 and 94; `given` replaces any of the Report's fields."""
    config = load_config("test")
    ref = regions.load(config)
    shares = {f"share_{s.lower()}": 0.0 for s in contract.STATUSES} | {"share_matched": 0.9, "share_not_found": 0.1}
    rows = [
        {"province_code": code[:2], "regency_code": code, "households_accepted": 10, "members_listed": 40,
         "match_rate": 0.9, "duplicates": 0, "deceased": 0, "short_interview_share": 0.0, **shares}
        | ({"persons_ranked": 40, "persons_covered": 30, **{f"persons_decile_{d}": 4 for d in range(1, 11)}}
           if published else {})
        for code in ("3273", "3204", "9471")
    ]
    fields = dict(
        run_id="run-1", regions=pd.DataFrame(rows), revisit=revisit, quarantine=quarantine, households_quarantined=0,
        provinces=ref.provinces, regencies=ref.regencies,
        tiles=figures.read_tiles(config.conf_file(figures.TILES_FILE)), population=200, target=0.6, min_match=0.5,
        publication={"publication_id": 1, "published_at": "2026-06-30"} if published else None,
        reference_version=ref.version)
    return figures.Report(**(fields | given))


def test_page_before_any_publication_and_with_nothing_to_list():
    empty_q = pd.DataFrame(columns=["province_code", "source", "reason_code", "rows"])
    empty_e = pd.DataFrame(columns=[*figures.ENUMERATOR_COLUMNS, "province_assessed", "province_revisit",
                                    "to_revisit"])
    text = page.render(_report(False, empty_q, empty_e))
    assert "no publication yet" in text and "No row has been quarantined." in text
    assert "32 Jawa Barat" in text and "3273 Kota Bandung" in text and "94 Papua" in text
    assert sorted(re.findall(r'rect data-province="(\d\d)"', text)) == ["32", "94"]
    assert len(re.findall(r"data-no-data=", text)) == 36
    assert 'id="prov-unknown"' not in text


def test_page_places_rows_and_names_the_unknown():
    quarantine = pd.DataFrame({"province_code": ["32", None], "source": ["survey_members", "survey_households"],
                               "reason_code": ["BIRTH_IN_FUTURE", "OUT_OF_RANGE"], "rows": [3, 2]})
    revisit = pd.DataFrame([{
        "enumerator_id": "E<1>", "supervisor_id": "S1", "coordinator_id": "C1", "province_code": "32",
        "regency_code": "3273", "households": 9, "median_minutes": 12.0, "short_interview_share": 0.5,
        "repeated_answer_share": 0.9, "match_failure_share": 0.1, "revisit_score": 2.5,
        "revisit_reasons": "90% of households share one answer pattern", "province_assessed": 4,
        "province_revisit": 1, "to_revisit": True}])
    report = _report(True, quarantine, revisit)
    text = page.render(report)
    assert 'id="prov-unknown"' in text and 'data-quarantine-province="unknown"' in text
    assert 'data-quarantine-province="32" data-source="survey_members" data-reason="BIRTH_IN_FUTURE"' in text
    assert "E&lt;1&gt;" in text and "E<1>" not in text  # every value escaped
    assert report.national()["coverage"] == 90 / 200  # persons within coverage / P
    assert 'id="national-coverage" data-value="0.45"' in text
    assert "32 Jawa Barat: coverage 75.0 %" in text
    assert "</script" not in page.asset("list.min.js").lower()


class _Text(HTMLParser):
    """The text a browser shows (outside <script> and <style>), and the page's elements by name."""

    def __init__(self, page_html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text, self.tags, self._hidden = [], [], 0
        self.feed(page_html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def test_markup_in_names_and_quarantine_rows_is_shown_as_text():
    """Autoescaping: a <script> element in a province's and a regency's name, in a quarantined row's source,
    reason code and detail (which the page does not show), and in an enumerator's id and reasons reaches the
    page as text, escaped, never as an element: the page's only scripts are its own two (list.js, the page's)."""
    attack = "<script>alert(1)</script>"
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    ref = regions.load(load_config("test"))
    provinces = ref.provinces.assign(province_name=ref.provinces["province_name"].where(
        ref.provinces["province_code"] != "32", f"Jawa {attack}"))
    regencies = ref.regencies.assign(regency_name=ref.regencies["regency_name"].where(
        ref.regencies["regency_code"] != "3273", f"Kota {attack}"))
    quarantine = pd.DataFrame({"province_code": ["32", None], "source": ["survey_households", attack],
                               "reason_code": [attack, "OUT_OF_RANGE"], "detail": [attack, f"village {attack}"],
                               "rows": [2, 1]})
    revisit = pd.DataFrame([{
        "enumerator_id": f"E{attack}", "supervisor_id": "S1", "coordinator_id": "C1", "province_code": "32",
        "regency_code": "3273", "households": 9, "median_minutes": 12.0, "short_interview_share": 0.5,
        "repeated_answer_share": 0.9, "match_failure_share": 0.1, "revisit_score": 2.5,
        "revisit_reasons": f"reason {attack}", "province_assessed": 4, "province_revisit": 1, "to_revisit": True}])
    text = page.render(_report(True, quarantine, revisit, provinces=provinces, regencies=regencies))
    assert attack not in text
    shown = _Text(text)
    assert shown.tags.count("script") == 2
    visible = "".join(shown.text)
    for name in (f"32 Jawa {attack}", f"3273 Kota {attack}", f"E{attack}", f"reason {attack}"):
        assert name in visible, name
    assert f"<code>{escaped}</code>" in text  # the reason code, shown in the summary and in province 32
    assert f'data-source="{escaped}"' in text and f'data-reason="{escaped}"' in text
    assert f"32 Jawa {escaped}: coverage 75.0 %" in text  # the map tile's tooltip


def test_page_with_every_province_fits_a_desktop_and_a_phone(tmp_path):
    """All 38 provinces and 514 regencies (figures made up): every province on the map and named, tables
    sortable, and nothing wider than the screen at 1280 and 390 px, sections closed or open."""
    from tests import browser

    config = load_config("test")
    ref = regions.load(config)
    rows = []
    for i, code in enumerate(ref.regencies["regency_code"]):
        listed, ranked = 40 + i % 50, 30 + i % 40
        rows.append({
            "province_code": code[:2], "regency_code": code, "households_accepted": 10 + i % 97,
            "members_listed": listed, "match_rate": 0.85 + (i % 13) / 100, "duplicates": i % 3, "deceased": i % 2,
            "short_interview_share": (i % 7) / 100, **{f"share_{s.lower()}": 0.01 for s in contract.STATUSES},
            "share_matched": 0.84 + (i % 13) / 100, "persons_ranked": ranked,
            "persons_covered": ranked * (i % 10) // 10,
            **{f"persons_decile_{d}": ranked // 10 for d in range(1, 11)}})
    first_regency = ref.regencies.groupby("province_code")["regency_code"].min()
    revisit = pd.DataFrame([{
        "enumerator_id": f"E{p}{k:08d}", "supervisor_id": f"S{p}{k:06d}", "coordinator_id": f"C{p}{k:04d}",
        "province_code": p, "regency_code": first_regency[p],
        "households": 40 + k, "median_minutes": 30.0 + k, "short_interview_share": 0.3, "repeated_answer_share": 0.2,
        "match_failure_share": 0.05, "revisit_score": 1.0 + k / 10,
        "revisit_reasons": "30% interviews under 10.0 min; match failures 12 points above the province median",
        "province_assessed": 200, "province_revisit": 12, "to_revisit": True}
        for p in ref.provinces["province_code"] for k in range(10)])
    quarantine = pd.DataFrame([{"province_code": p, "source": "survey_members", "reason_code": "HOUSEHOLD_REJECTED",
                                "rows": 5} for p in [*ref.provinces["province_code"], None]])
    report = figures.Report(
        run_id="run-38", regions=pd.DataFrame(rows), revisit=revisit, quarantine=quarantine, households_quarantined=7,
        provinces=ref.provinces, regencies=ref.regencies,
        tiles=figures.read_tiles(config.conf_file(figures.TILES_FILE)), population=286_000_000, target=0.6,
        min_match=0.5, publication={"publication_id": 3, "published_at": "2026-06-30"}, reference_version=ref.version)
    index = tmp_path / "report" / "index.html"
    index.parent.mkdir()
    index.write_text(page.render(report), encoding="utf-8")
    names = [f"{c} {n}" for c, n in zip(ref.provinces["province_code"], ref.provinces["province_name"], strict=True)]
    for width in (1280, 390):
        seen = browser.probe(index, width, tmp_path / "browser", filter_text="E3200000003")
        for state in ("closed", "open"):
            assert seen[state]["scrollWidth"] <= seen[state]["innerWidth"] == width, (state, seen[state])
            assert not seen[state]["overflowing"], (width, state, seen[state]["overflowing"])
        assert sorted(seen["mapProvinces"]) == sorted(ref.provinces["province_code"]) and seen["mapNoData"] == 0
        assert all(n in seen["text"] for n in names)
        assert seen["filtered"] == ["E3200000003"] and seen["toggled"]
        up, down = ([float(v) for v in seen[k]] for k in ("sortedUp", "sortedDown"))
        assert len(up) == 514 and up == sorted(up) and down == sorted(down, reverse=True)
