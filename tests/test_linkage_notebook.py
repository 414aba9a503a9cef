"""The linkage notebook runs top to bottom on the shared nation (its own module, so that the two workers of
`make test` can take it apart from the other notebooks: tests/conftest.py MODULE_ORDER)."""

from __future__ import annotations

import re

import pytest

from tests.test_notebooks import NOTEBOOKS, _execute, _outputs, _parameters

pytestmark = pytest.mark.e2e  # a kernel with its own Spark, on the shared nation


def test_linkage_notebook_reads_the_version_in_use_and_measures_it_against_the_truth(nation, monkeypatch, tmp_path):
    """On the shared nation, read-only (its kernel caches what it scores and writes nothing): the version ingest
    used, its parameters, the round's match weights and the threshold sweep against truth/members."""
    config, landing = nation[0], nation[1]
    _parameters(monkeypatch, config)
    monkeypatch.setenv("DTKS_TRUTH", str(landing / "truth" / "members"))
    out = _outputs(_execute(NOTEBOOKS / "linkage.ipynb", tmp_path))
    assert "dtks_linkage: version 1 in use (champion)" in out, out
    assert "pairs scored" in out and "absent_linked_share" in out and "dtks model promote --linkage" in out
    at = re.search(rf"at linkage.upper {re.escape(str(config.linkage.upper))}: precision ([0-9.]+), recall ([0-9.]+)",
                   out)
    assert at and float(at[1]) >= 0.99 and float(at[2]) >= 0.85, out
