# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check -q
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files re-run an install only when its pins change.
$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $@

$(VENV)/.test: requirements-test.txt $(VENV)/.runtime
	$(PIP) install -r requirements-test.txt
	touch $@

demo: $(VENV)/.runtime
	$(BIN)/lakeward demo

test: $(VENV)/.test
	$(BIN)/ruff check lakeward tests bench
	$(BIN)/pytest -n 2 --timeout 600

bench: $(VENV)/.runtime
	$(BIN)/python -m bench.bench_extract

lint: $(VENV)/.test
	$(BIN)/ruff check lakeward tests bench

clean:
	rm -rf $(VENV) .lakeward .pytest_cache
