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
import string
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

# The wrapper page around the report and the script it runs (tests/browser_wrapper.html, browser_probe.js).
HERE = Path(__file__).resolve().parent
WRAPPER, PROBE = HERE / "browser_wrapper.html", HERE / "browser_probe.js"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium package")
    return found


def _wrapper(page: Path, width: int, height: int, action: dict) -> str:
    return string.Template(WRAPPER.read_text()).substitute(
        page=page.as_uri(), width=width, height=height, probe=PROBE.as_uri(), action=json.dumps(action))


def _chromium(folder: Path, name: str, args: list[str], url: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={folder / ('profile-' + name)}", *args, url],
                          check=True, capture_output=True, text=True, timeout=180)


def probe(page: Path, width: int, folder: Path, filter_text: str = "") -> dict:
    """What the page shows and how it lays out in a frame `width` px wide (a phone's screen is ~844 px tall)."""
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / f"probe-{width}.html"
    wrapper.write_text(_wrapper(page, width, 844, {"run": "probe", "filter": filter_text}))
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
    wrapper.write_text(_wrapper(page, width, height, {"run": "screenshot"}))
    _chromium(folder, f"shot-{width}", [f"--screenshot={shot}", f"--window-size={width},{height}"], wrapper.as_uri())
    return shot
