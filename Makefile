# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv,
# install the pinned packages and fetch Delta's JARs once (into .cache/jars); nothing
# downloads after that.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum setup.py | cut -d' ' -f1)

.PHONY: setup demo test test-cluster package lint bench clean browser
setup: $(STAMP) .cache/jars/.complete

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

.cache/jars/.complete: scripts/delta-jars/pom.xml | $(STAMP)
	PYTHON=$(PY) scripts/fetch_delta_jars.sh

demo: setup
	$(VENV)/bin/dtks run

# The report test renders the HTML in headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

# The cluster test alone (it is also part of `make test`): the pipeline on a two-worker standalone cluster
# with an MLflow server, compared with a local run.
test-cluster: setup
	$(VENV)/bin/python -m pytest -q -m cluster tests

package: setup
	scripts/package.sh

lint: setup
	$(VENV)/bin/ruff check jobs models tests scripts

clean:
	rm -rf $(VENV) .cache lakehouse landing mlruns reports trials dist .cluster .mlflow-server
