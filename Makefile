# make run: install, migrate, serve on SQLite.   make test: install with test extras, run every
# test (both databases).   make test-fast: unit tests only (no subprocess, browser, PostgreSQL or
# switchboard-to-simulator rig).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
BUNDLE := callcenter/static/vendor/sip.js callcenter/static/vendor/uplot.js \
          callcenter/static/vendor/widget.js

.PHONY: install install-test run test test-fast lint bench clean

install: $(STAMP) $(BUNDLE)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e .
	touch $@

install-test: $(TSTAMP) $(BUNDLE)

# The softphone's SIP.js and the supervisor's charts (uPlot) from npm, each bundled into one ES
# module, and the website-call widget (callcenter/static/widget/ with SIP.js) into one classic
# script (not committed). Without npm the agent's page still works against the simulator and
# says the softphone is unavailable; the supervisor's page works without its charts; no site
# can embed the widget.
$(BUNDLE) &: package.json package-lock.json $(wildcard callcenter/static/widget/*.js)
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	else echo "npm not found: the softphone's SIP.js bundle is not built (install Node.js)" >&2; fi

$(TSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: install
	$(BIN)/callcenter db upgrade
	$(BIN)/callcenter serve

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install-test
	$(BIN)/python -m pytest -m "not slow and not postgresql and not simulator" $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check callcenter tests bench migrations templates

bench: install-test
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache node_modules callcenter/static/vendor
