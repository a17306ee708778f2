# Two commands do all the set-up on a fresh clone:
#   make example   set up, then migrate the example project on SQLite
#   make test      set up, then run the whole test suite (what CI runs)

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
# The oldest Python that requires-python admits, as people run it: Debian 12's own
# python3 is 3.11.2. The core tests (files, splitter, planner, configuration) and the
# dialect conformance suite run on it too, in a venv of its own.
OLDEST_PYTHON ?= /usr/bin/python3
OLD_VENV := .venv-oldest
OLD_STAMP := $(OLD_VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
EXAMPLE := examples/penpal

.PHONY: example test test-oldest bench setup browser tools clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

example: $(STAMP)
	rm -rf $(EXAMPLE)/penpal.db $(EXAMPLE)/penpal.db.* $(EXAMPLE)/backups $(EXAMPLE)/reports
	cd $(EXAMPLE) && ../../$(BIN)/ferryman status
	cd $(EXAMPLE) && ../../$(BIN)/ferryman migrate --strategy unified
	cd $(EXAMPLE) && ../../$(BIN)/ferryman status

# The report's timeline is tested in a real headless browser: Debian's Chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Chromium for the browser tests"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }

# Other tools' own binaries, for the tests that adopt their databases and switch back
# (npm's dbmate package ships dbmate's static binary).
DBMATE_VERSION := 2.36.0
tools: .tools/node_modules/.bin/dbmate

.tools/node_modules/.bin/dbmate:
	npm install --prefix .tools --no-audit --no-fund --silent dbmate@$(DBMATE_VERSION)

# Tests that take a resource of the whole server (the PostgreSQL lock table) run alone,
# after the parallel run, so that they cannot starve the others.
test: $(STAMP) browser tools
	$(BIN)/python -m pytest -n auto --dist loadfile -q -m "not serial" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -m serial $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-oldest

$(OLD_STAMP): pyproject.toml
	$(OLDEST_PYTHON) -m venv $(OLD_VENV) || { apt-get install -y -q python3-venv >/dev/null && $(OLDEST_PYTHON) -m venv $(OLD_VENV); }
	$(OLD_VENV)/bin/pip install --quiet --disable-pip-version-check -e ".[test]"
	rm -f $(OLD_VENV)/.installed-*
	touch $@

# The pure layers on the oldest Python (see OLDEST_PYTHON), in parallel.
test-oldest: $(OLD_STAMP)
	$(OLD_VENV)/bin/python -c "import sys; print('oldest Python:', sys.version.split()[0])"
	$(OLD_VENV)/bin/python -m pytest -n auto -q -p no:cacheprovider tests/core tests/dialects tests/test_config.py $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(OLD_VENV) .tools build src/*.egg-info
