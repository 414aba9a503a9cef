"""The report page in headless Chromium, at a given width, without changing the page.

Chromium's own window cannot be narrower than 500 px (at `--window-size=390,...` the page is laid out 500
px wide and the screenshot cut to 390), so the page is loaded, as it is, into an <iframe> of the exact
width inside a small wrapper page the test writes. The wrapper's script (file:// frames are one origin
only with --allow-file-access-from-files) reads the frame's DOM after the page's own scripts ran, clicks
as a user would (a sort header, the filter box, the map toggle) and writes what it measured as JSON into
its own DOM, which `--dump-dom` prints. A screenshot is taken of the same kind of wrapper, the frame as
tall as the page.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--allow-file-access-from-files",
    "--virtual-time-budget=8000",
]

# Runs in the wrapper: `page` is the frame's document. Measures the layout (closed sections, then all
# sections open), reads the values the test compares, then acts on the page as a user would.
PROBE = r"""
function probe(f, filterText) {
  var w = f.contentWindow, d = f.contentDocument, out = {};
  function clipped(el) {
    for (var a = el.parentElement; a && a !== d.body; a = a.parentElement) {
      if (w.getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  }
  function layout() {
    var wide = [];
    d.querySelectorAll('body *').forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > w.innerWidth + 0.5 && !clipped(el)) {
        wide.push(el.tagName + (el.id ? '#' + el.id : '') + (el.className && el.className.baseVal === undefined
          ? '.' + el.className : '') + ' right=' + Math.round(r.right));
      }
    });
    return {innerWidth: w.innerWidth, scrollWidth: d.documentElement.scrollWidth, overflowing: wide.slice(0, 20),
            height: d.documentElement.scrollHeight};
  }
  function column(list, key) {
    return Array.prototype.map.call(d.querySelectorAll('#' + list + ' tbody tr'), function (tr) {
      return tr.querySelector('td.' + key).getAttribute('data-v');
    });
  }
  out.closed = layout();
  out.text = d.body.innerText;
  var cov = d.getElementById('national-coverage');
  out.coverage = cov && cov.getAttribute('data-value');
  out.mapProvinces = Array.prototype.map.call(d.querySelectorAll('#map rect[data-province]'),
    function (r) { return r.getAttribute('data-province'); });
  out.mapNoData = d.querySelectorAll('#map rect[data-no-data]').length;
  out.mapTitles = Array.prototype.map.call(d.querySelectorAll('#map rect[data-province] title'),
    function (t) { return t.textContent; });
  out.quarantine = Array.prototype.map.call(d.querySelectorAll('tr[data-quarantine-province]'), function (tr) {
    return [tr.getAttribute('data-quarantine-province'), tr.getAttribute('data-source'),
            tr.getAttribute('data-reason'), Number(tr.getAttribute('data-rows'))];
  });
  out.enumerators = Array.prototype.map.call(d.querySelectorAll('#enumerator-list tbody tr'),
    function (tr) { return tr.getAttribute('data-enumerator'); });
  d.querySelectorAll('details').forEach(function (x) { x.open = true; });
  out.open = layout();
  d.querySelectorAll('details').forEach(function (x) { x.open = false; });
  var first = d.querySelector('details.province');
  if (first) { first.open = true; out.firstOpenHeight = d.documentElement.scrollHeight; first.open = false; }
  var th = d.querySelector('#regency-list th[data-sort="households"]');
  if (th) {
    th.click(); out.sortedUp = column('regency-list', 'households');
    th.click(); out.sortedDown = column('regency-list', 'households');
  }
  var box = d.querySelector('#enumerator-list input.search');
  if (box && filterText) {
    box.value = filterText;
    box.dispatchEvent(new w.Event('input', {bubbles: true}));
    box.dispatchEvent(new w.KeyboardEvent('keyup', {bubbles: true}));
    out.filtered = Array.prototype.map.call(d.querySelectorAll('#enumerator-list tbody tr'),
      function (tr) { return tr.getAttribute('data-enumerator'); });
  }
  var button = d.querySelector('[data-metric-button="match"]');
  if (button) {
    button.click();
    out.toggled = Array.prototype.every.call(d.querySelectorAll('#map rect[data-province]'), function (r) {
      return r.getAttribute('fill') === r.getAttribute('data-fill-match')
        && r.querySelector('title').textContent.indexOf('match rate') >= 0;
    });
  }
  return out;
}
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium package")
    return found


def _wrapper(page: Path, width: int, height: int, script: str) -> str:
    return (f'<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;overflow:hidden">'
            f'<iframe id="f" src="{page.as_uri()}" style="border:0;display:block;width:{width}px;height:{height}px">'
            f'</iframe><pre id="out">pending</pre><script>{PROBE}\n'
            "var f = document.getElementById('f');"
            f"f.addEventListener('load', function () {{ setTimeout(function () {{ {script} }}, 200); }});"
            "</script></body></html>")


def _chromium(folder: Path, name: str, args: list[str], url: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={folder / ('profile-' + name)}", *args, url],
                          check=True, capture_output=True, text=True, timeout=180)


def probe(page: Path, width: int, folder: Path, filter_text: str = "") -> dict:
    """What the page shows and how it lays out in a frame `width` px wide (a phone's screen is ~844 px tall)."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / f"probe-{width}.html"
    script = ("var out; try { out = probe(f, " + json.dumps(filter_text) + "); } "
              "catch (e) { out = {error: String(e) + ' ' + e.stack}; }"
              "document.getElementById('out').textContent = JSON.stringify(out);")
    wrapper.write_text(_wrapper(page, width, 844, script))
    dom = _chromium(folder, f"probe-{width}", ["--dump-dom"], wrapper.as_uri()).stdout
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and found.group(1) != "pending", f"the probe did not run: {dom[-2000:]}"
    import html

    result = json.loads(html.unescape(found.group(1)))
    assert "error" not in result, result.get("error")
    return result


def screenshot(page: Path, width: int, height: int, folder: Path, shot: Path) -> Path:
    """A PNG of the whole page `width` px wide (`height`: the page's height), its first province open."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / f"shot-{width}.html"
    script = ("var s = f.contentDocument.querySelector('details.province'); if (s) s.open = true;"
              "f.style.height = f.contentDocument.documentElement.scrollHeight + 'px';")
    wrapper.write_text(_wrapper(page, width, height, script))
    _chromium(folder, f"shot-{width}", [f"--screenshot={shot}", f"--window-size={width},{height}"], wrapper.as_uri())
    return shot
