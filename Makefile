# Two entry points for a fresh machine: `make demo` and `make test`. Both create .venv,
# install the pinned packages, fetch Delta's JARs once and build dtks's NIK token function from
# jobs/jvm (both into .cache/jars); nothing downloads after that.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum setup.py | cut -d' ' -f1)

.PHONY: setup demo test test-fast test-cluster package lint bench clean browser
TOKEN_JAR := .cache/jars/dtks-nik-token.jar
# Splink's similarity functions for Spark (jaro_winkler...), as its pinned wheel ships them: record linkage.
SPLINK_JAR := .cache/jars/splink-similarity-spark4.jar
# The JVM's class archive for local sessions (scripts/class_archive.py): made from the class path above.
CLASS_ARCHIVE := .cache/jars/dtks-classes.jsa
setup: $(STAMP) .cache/jars/.complete $(TOKEN_JAR) $(SPLINK_JAR) $(CLASS_ARCHIVE)

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

.cache/jars/.complete: scripts/delta-jars/pom.xml | $(STAMP)
	PYTHON=$(PY) scripts/fetch_delta_jars.sh

# Rebuilt after a re-fetch too (the fetch empties the folder).
$(TOKEN_JAR): jobs/jvm/pom.xml $(wildcard jobs/jvm/src/main/java/id/dtks/*.java) .cache/jars/.complete
	scripts/build_jvm.sh

$(SPLINK_JAR): $(STAMP) .cache/jars/.complete
	cp "$$($(PY) -c 'from splink.backends.spark import similarity_jar_location as j; print(j())')" $@

$(CLASS_ARCHIVE): $(STAMP) .cache/jars/.complete $(TOKEN_JAR) $(SPLINK_JAR) scripts/class_archive.py
	$(PY) scripts/class_archive.py

demo: setup
	$(VENV)/bin/dtks run

# The report test renders the HTML in headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Two xdist workers, a test module per unit of work (docs/TESTING.md); each session in its own temp folder,
# which pytest empties when the session starts (concurrent sessions in one folder delete each other's files).
PYTEST := $(VENV)/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# Everything: the fast tier, the end-to-end tier and the cluster test; the 25 slowest tests listed at the end.
test: setup browser
	mkdir -p .pytest-tmp && $(PYTEST) --basetemp=.pytest-tmp/test --durations=25 tests

# The fast tier alone, for the inner loop: rules on literal rows, ingest on hand-made landing zones, models,
# generate; no shared nation, no cluster, no process of its own. Its tests are many short paths, each run once:
# the JIT's first tier only (C1) serves them better than its optimising tier, which the end-to-end tier's
# repeated stages need (docs/TESTING.md, settings).
test-fast: setup
	mkdir -p .pytest-tmp && DTKS_TEST_JAVA_OPTIONS="-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=512m" \
		$(PYTEST) --basetemp=.pytest-tmp/fast -m "not e2e" tests

# The cluster test alone (it is also part of `make test`): the pipeline on a two-worker standalone cluster
# with an MLflow server, compared with a local run.
test-cluster: setup
	$(VENV)/bin/python -m pytest -q -m cluster tests

package: setup
	scripts/package.sh

lint: setup
	$(VENV)/bin/ruff check jobs models runtime tests scripts
	$(VENV)/bin/lint-imports

# The demo's landing zone and what was built from it, never a delivery (scripts/clean.py says what it kept);
# then the build and test outputs. A standalone cluster's state (.cluster, .mlflow-server: scripts/cluster.sh
# and mlflow_server.sh, which hold its model registry) is not the demo's and stays.
clean:
	$(PYTHON) scripts/clean.py
	rm -rf $(VENV) .cache jobs/jvm/target dist .pytest-tmp
