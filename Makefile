# Two commands matter: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HC_HOME ?= $(CURDIR)/.hc_home
STAMP := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser postgres demo test lint format dev bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip check
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# The UI test renders the Dagster UI in headless Chromium (Debian package `chromium`).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian package chromium for the UI test"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

# The production-instance test starts its own PostgreSQL server (Debian package `postgresql`, any version).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian package postgresql for the production-instance test"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; }

demo: install
	HC_HOME=$(HC_HOME) $(VENV)/bin/hc-pipeline demo

# The 15 slowest tests are listed, so the suite's budget (well under 15 minutes) stays in view. Two pytest-xdist
# workers; hc_pipeline_tests/conftest.py keeps each module (the e2e modules: all of them) on one worker.
PYTEST_WORKERS ?= 2
test: install browser postgres
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --durations=15 hc_pipeline_tests

# The house style (ruff.toml): lint rules and the formatter, checked here and in CI before the tests.
# The CloudFormation template too (cfn-lint), and the IAM policy JSON generated from it must be current.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint deploy/cloudformation.yaml
	$(PY) deploy/render_iam_policy.py --check

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

dev: install
	@mkdir -p $(HC_HOME)/dagster
	@test -f $(HC_HOME)/dagster/dagster.yaml || cp deploy/dagster-dev.yaml $(HC_HOME)/dagster/dagster.yaml
	@echo "Dagster UI: http://127.0.0.1:3000  (instance: $(HC_HOME)/dagster)"
	HC_HOME=$(HC_HOME) DAGSTER_HOME=$(HC_HOME)/dagster $(VENV)/bin/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

# Benchmarks (minutes; P1 at 5M rows and 100,000 sensor objects take longest). Inputs are cached in bench/cache/.
# Options: make bench BENCH_ARGS="--only p1,small_files --repeat 1"
bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(HC_HOME)
