# Two entry points that do their own setup on a fresh machine:
#   make demo   - rate and fold a realistic CDR stream on an embedded broker and ClickHouse
#   make test   - the full test suite (unit + integration against real servers)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test unit bench clickhouse-server clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,embedded]'
	touch $(STAMP)

# Debian's ClickHouse server, for the integration tests against a real server, promtool
# (Debian's prometheus package), for the alert rules' unit tests, Chromium, for the portal's
# browser test (Playwright drives it; it cannot download a browser here), the DejaVu fonts
# the PDF invoices print in, ZooKeeper, for the tests on a ClickHouse cluster, and gcc with
# Python's headers, which build the compiled Avro kernel (setup.py; a test checks it is built).
# Needs root.
clickhouse-server:
	@command -v clickhouse-server >/dev/null && command -v promtool >/dev/null && test -x /usr/bin/chromium \
	  && test -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf && test -f /usr/share/java/zookeeper.jar \
	  && command -v gcc >/dev/null && python3 -c 'import os, sysconfig, sys; \
	    sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    clickhouse-server clickhouse-client prometheus chromium fonts-dejavu-core zookeeper gcc python3-dev; }

# After an edit, the compiled modules are built again in place (setup.py; only what changed):
# a stale build would not run anyway (projections/compiled.py), the source would, slower.
BUILT := projections/compiled_sources.json
$(BUILT): $(STAMP) setup.py $(wildcard projections/*.py projections/*.pyx schemas/*.py schemas/*.pyx streams/*/*.py streams/*/*.pyx)
	$(PY) setup.py --quiet build_ext --inplace
	touch $(BUILT)

demo: $(BUILT)
	$(VENV)/bin/voiceledger demo

# Three pytest workers (pytest-xdist) on this 2-core machine: the integration tests mostly wait
# on servers and worker processes (with two, the cores were 60% idle: 18.5 min of wall time,
# 13.6 of CPU; with three, 12.5 min), and each xdist worker starts its own broker and ClickHouse
# server (and cluster).
# Work stealing: a worker that runs out takes tests queued on the other. (Ordering the longest
# tests first was tried: with --dist load one worker got all of them and the suite took longer.)
test: clickhouse-server $(BUILT)  # the packages first: the install builds the kernel with gcc
	$(PY) -m pytest -q -n 3 --dist worksteal

unit: $(BUILT)
	$(PY) -m pytest -q tests/unit

# Two worker processes (one a core here) on Debian's ClickHouse server: what a deployment runs.
# One worker on the embedded chDB: $(PY) bench/pipeline.py
bench: $(BUILT) clickhouse-server
	$(PY) bench/pipeline.py --engine server --workers 2

clean:
	rm -rf $(VENV) .voiceledger
