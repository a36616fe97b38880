# Two entry points for a fresh machine with Python 3.11 and pip:
#   make run   - set up, then serve with the embedded DuckDB, seeding and running the examples
#   make test  - set up (Python deps + Debian packages the tests use), lint, run the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Prefect, for tests/emitters/test_prefect.py, in a virtualenv of its own: its requirements
# conflict with constraints.txt (tests/emitters/prefect-requirements.txt says which).
PREFECT_VENV := $(VENV)/prefect
PREFECT_STAMP := $(PREFECT_VENV)/.installed
# The DuckLake store, in a virtualenv of its own: its extensions exist for DuckDB 1.5.5 only,
# and .venv keeps DuckDB 2 (pyproject.toml, extra "lake"). `make test` runs the tests that
# open a lake (marker `lake`) there.
LAKE_VENV := $(VENV)/lake
LAKE_STAMP := $(LAKE_VENV)/.installed

.PHONY: setup prefect-env lake-env run test lint system-deps bench clean

$(STAMP): pyproject.toml constraints.txt storage/_wire_walk.c
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools' "Editable installation" notice warns that a folder named like the package in
	@# the working directory may shadow it: ours, flowscope/, is the very folder installed.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

$(PREFECT_STAMP): tests/emitters/prefect-requirements.txt constraints-prefect.txt | $(STAMP)
	$(PYTHON) -m venv $(PREFECT_VENV)
	$(PREFECT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PREFECT_VENV)/bin/python -m pip install --quiet -c constraints-prefect.txt -r tests/emitters/prefect-requirements.txt
	@# Prefect's local database, migrated once here: the test starts each run from a copy, as a
	@# fresh one costs ~20 s of CPU in migrations.
	rm -rf $(PREFECT_VENV)/home
	PREFECT_HOME=$(PREFECT_VENV)/home $(PREFECT_VENV)/bin/prefect server database upgrade -y >/dev/null
	touch $(PREFECT_STAMP)

prefect-env: $(PREFECT_STAMP)

$(LAKE_STAMP): pyproject.toml constraints-lake.txt storage/_wire_walk.c | $(STAMP)
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(LAKE_VENV)/bin/python -m pip install --quiet -c constraints-lake.txt -e ".[test,lake]"
	touch $(LAKE_STAMP)

lake-env: $(LAKE_STAMP)

run: setup
	$(BIN)/flowscope serve --demo

# Debian packages the tests drive for real: Prometheus (scrapes the server),
# docker-compose (validates docker-compose.yml) and chromium (the web UI tests), and the C
# compiler the install builds the compiled wire walk with. Installed only when missing, before
# `setup` in `make test`.
system-deps:
	@bash scripts/system-deps.sh

lint: setup
	$(BIN)/ruff check .

test: system-deps setup prefect-env lake-env lint
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=30 -n 2 -m "not lake"
	$(LAKE_VENV)/bin/python -m pytest -q -p no:cacheprovider --durations=10 -n 2 -m lake

bench: setup
	$(BIN)/python bench/ingest.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
