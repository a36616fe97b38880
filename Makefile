# Two entry points for a fresh machine with Python 3.11 and pip:
#   make run   - set up, then serve with the embedded DuckDB, seeding and running the examples
#   make test  - set up (Python deps + Debian packages the tests use), lint, run the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint system-deps bench clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools' "Editable installation" notice warns that a folder named like the package in
	@# the working directory may shadow it: ours, flowscope/, is the very folder installed.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/flowscope serve --demo

# Debian packages the tests drive for real: Prometheus (scrapes the server),
# docker-compose (validates docker-compose.yml) and chromium (the web UI tests). Installed only when missing.
system-deps:
	@bash scripts/system-deps.sh

lint: setup
	$(BIN)/ruff check .

test: setup system-deps lint
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=30

bench: setup
	$(BIN)/python bench/ingest.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
