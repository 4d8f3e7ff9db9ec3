# The two front doors are `make run` and `make test`; everything else is a step behind them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
WORLD  := data/world
CHAMPION := models/.champion
REPORT := data/report.html
SECRET := data/random.secret
LOCAL_KEY := data/local.key

.DEFAULT_GOAL := help

.PHONY: help install run world model state keys test lint fmt typecheck unit test-slow test-browser bench bench-scale bench-serve bench-state clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## Create .venv (when missing) and install the project with its dev tools

$(WORLD)/documents.parquet: | $(STAMP)
	$(BIN)/riskscore generate --out $(WORLD)

$(CHAMPION): $(WORLD)/documents.parquet
	$(BIN)/riskscore train --data $(WORLD)
	$(BIN)/riskscore promote
	@touch $@

$(REPORT): $(CHAMPION)
	$(BIN)/riskscore report --out $@

state: $(WORLD)/documents.parquet  ## Load the demo world into the online state once (reused afterwards)
	$(BIN)/riskscore state load $(WORLD) --if-empty

world: $(WORLD)/documents.parquet  ## Generate the demo world once (reused afterwards)

model: $(REPORT)  ## Train, promote and report on the demo world once (reused afterwards)

$(SECRET): | $(STAMP)
	$(BIN)/riskscore keys secret --out $@ --if-missing

keys: state $(SECRET)  ## The random draw's secret and a local API key with every role (data/, git-ignored)
	$(BIN)/riskscore keys local --out $(LOCAL_KEY)

run: $(REPORT) keys  ## Set everything up once, then serve the API on http://127.0.0.1:8000
	@echo ""
	@echo "  riskscore is starting on http://127.0.0.1:8000"
	@echo "  API docs:        http://127.0.0.1:8000/docs"
	@echo "  managers report: $(REPORT)"
	@echo "  your API key:    $(LOCAL_KEY) (every role; send it as Authorization: Bearer KEY)"
	@echo "  try it:          curl -s -X POST http://127.0.0.1:8000/v1/score -H \"Authorization: Bearer \$$(cat $(LOCAL_KEY))\" -H 'content-type: application/json' -d @service/examples/score_request.json"
	@echo ""
	$(BIN)/riskscore serve

lint: $(STAMP)  ## Ruff (format check and lint) and the layering contracts (import-linter)
	$(BIN)/ruff format --check src tests service
	$(BIN)/ruff check src tests service
	$(BIN)/lint-imports

fmt: $(STAMP)  ## Ruff: format and fix what it can
	$(BIN)/ruff format src tests service
	$(BIN)/ruff check --fix src tests service

typecheck: $(STAMP)  ## mypy --strict on src
	$(BIN)/mypy

unit: $(STAMP)  ## The test suite (without slow scale checks), the API docs in headless Chromium included
	$(BIN)/pytest -m "not slow" --cov=riskscore --cov-report=term:skip-covered

test: lint typecheck unit  ## Lint, type check and the whole test suite (what CI runs)

test-slow: $(STAMP)  ## Slow scale checks only
	$(BIN)/pytest -m slow

test-browser: $(STAMP)  ## Only the API docs in headless Chromium, offline (installs Chromium when missing, as root)
	$(BIN)/pytest -m browser

bench: $(STAMP)  ## Benchmarks at demo size: world generation (1 vs 2 processes), features
	$(BIN)/python -m riskscore.bench.generate
	$(BIN)/python -m riskscore.bench.features

bench-serve: $(REPORT)  ## Serving benchmarks: latency against history size, load tests on SQLite and PostgreSQL, races between replicas
	OMP_NUM_THREADS=1 $(BIN)/python -m riskscore.bench.history --big 20000 200000
	$(BIN)/python service/loadtest.py --workers 1 2
	$(BIN)/python service/replicas.py race --pairs 600
	$(BIN)/python service/replicas.py load

bench-state: $(REPORT)  ## A service process's memory and start-up with states of ~1.1 M and ~2.3 M lines (tens of minutes)
	$(BIN)/python -m riskscore.bench.state --firms 10000 20000

bench-scale: $(STAMP)  ## Benchmarks at 10 million lines (several minutes, ~15 GB of memory)
	$(BIN)/python -m riskscore.bench.generate --lines 10000000
	$(BIN)/python -m riskscore.bench.features --firms 83000

clean:  ## Remove the virtualenv, generated data and local models
	rm -rf $(VENV) data models/mlflow.db models/artifacts $(CHAMPION)
