# Two commands do all the set-up on a fresh clone:
#   make example   set up, then migrate the example project on SQLite
#   make test      set up, then run the whole test suite (what CI runs)

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
EXAMPLE := examples/penpal

.PHONY: example test bench setup browser clean

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

# Tests that take a resource of the whole server (the PostgreSQL lock table) run alone,
# after the parallel run, so that they cannot starve the others.
test: $(STAMP) browser
	$(BIN)/python -m pytest -n auto --dist loadfile -q -m "not serial" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -q -m serial $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info
