# Two commands for a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check -q
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: demo test bench lint clean build synth

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
	$(BIN)/ruff check lakeward tests bench cdk step_functions lambdas glue_jobs app.py
	$(BIN)/pytest -n 2 --timeout 600

bench: $(VENV)/.runtime
	$(BIN)/python -m bench.bench_extract
	$(BIN)/python -m bench.bench_compaction
	$(BIN)/python -m bench.bench_stripe
	$(BIN)/python -m bench.bench_salesforce
	$(BIN)/python -m bench.bench_quality
	$(BIN)/python -m bench.bench_audit

lint: $(VENV)/.test
	$(BIN)/ruff check lakeward tests bench cdk step_functions lambdas glue_jobs app.py

# AWS packaging without Docker: build/lambda and build/lambda-steps (code + pinned Linux wheels), build/glue.
build: $(VENV)/.test
	$(BIN)/python -m cdk.package

# The CloudFormation template into cdk.out/, offline (cdk-nag runs and must pass). ENV=prod for production;
# `npx aws-cdk@2.1148.1 deploy -c env=prod --app cdk.out` deploys what this wrote.
ENV ?= dev
synth: $(VENV)/.test
	CDK_CONTEXT_JSON='{"env": "$(ENV)"}' $(BIN)/python app.py

clean:
	rm -rf $(VENV) .lakeward .pytest_cache build cdk.out
