# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when absent and
# install the exact versions of requirements/lock-pyX.Y.txt (pip constraints) for the Python
# that runs them. `make demo` installs the runtime only; the dev tools come with `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
LOCK := requirements/lock-py$(PY_VERSION).txt
LOCK_PYTHONS ?= 3.11 3.12 3.13
RUNTIME_STAMP := $(VENV)/.runtime-$(PY_VERSION)
DEV_STAMP := $(VENV)/.dev-$(PY_VERSION)
INSTALL_LOG := $(VENV)/install.log
# pip's own output (and the build backend's) goes to the log; the terminal gets one line a step.
PIP := $(BIN)/python -m pip install --disable-pip-version-check --constraint $(LOCK)
DEMO_DIR ?= demo-data
PORT ?= 8000

.PHONY: demo test lint docs bench lock clean audit

$(LOCK):
	@echo "no lock file for Python $(PY_VERSION) ($(LOCK)); supported: $(LOCK_PYTHONS). Run with PYTHON=python3.11 (or add one with 'make lock')." >&2
	@exit 2

$(RUNTIME_STAMP): setup.cfg pyproject.toml $(LOCK)
	@test -x $(BIN)/python || { echo "[setup] creating $(VENV) with Python $(PY_VERSION)"; $(PYTHON) -m venv $(VENV); }
	@echo "[setup] installing the runtime dependencies from $(LOCK) (log: $(INSTALL_LOG))"
	@start=$$(date +%s); \
	$(PIP) --progress-bar off -e . >$(INSTALL_LOG) 2>&1 || { tail -n 30 $(INSTALL_LOG); exit 1; }; \
	echo "[setup] runtime installed in $$(( $$(date +%s) - start )) s"
	@touch $@

$(DEV_STAMP): $(RUNTIME_STAMP)
	@echo "[setup] installing the test and lint tools from $(LOCK) (log: $(INSTALL_LOG))"
	@start=$$(date +%s); \
	$(PIP) --progress-bar off -e '.[dev]' >>$(INSTALL_LOG) 2>&1 || { tail -n 30 $(INSTALL_LOG); exit 1; }; \
	echo "[setup] dev tools installed in $$(( $$(date +%s) - start )) s"
	@touch $@

demo: $(RUNTIME_STAMP)
	@$(BIN)/climate-loan demo --dir $(DEMO_DIR) --port $(PORT)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# Known vulnerabilities of the exact versions in the lock file (pip-audit). It asks the
# vulnerability database (PyPI's, by default) over the network, so it is not part of `make test`;
# run it where that is reachable (CI with network, a workstation): `make audit`.
audit: $(DEV_STAMP)
	$(BIN)/pip-audit --requirement $(LOCK) --no-deps --disable-pip --progress-spinner off --strict

# The model document (docs/): Sphinx, offline, every warning an error. Output: docs/_build/html.
docs: $(DEV_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.bench_cube
	$(BIN)/python -m benchmarks.bench_site
	$(BIN)/python -m benchmarks.bench_cube_v2 --serve
	$(BIN)/python -m benchmarks.bench_risk
	$(BIN)/python -m benchmarks.bench_assess
	$(BIN)/python -m benchmarks.bench_portfolio
	$(BIN)/python -m benchmarks.bench_api

# Re-resolve the newest versions allowed by setup.cfg for each supported Python and write
# requirements/lock-pyX.Y.txt. Needs the package registry; review the diff, run `make test`.
lock:
	@for v in $(LOCK_PYTHONS); do \
	  tmp=$$(mktemp -d); \
	  echo "[lock] Python $$v"; \
	  python$$v -m venv $$tmp/venv && \
	  $$tmp/venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 && \
	  $$tmp/venv/bin/python -m pip install --disable-pip-version-check '.[dev]' >$$tmp/log 2>&1 || { tail -n 30 $$tmp/log; exit 1; }; \
	  { echo "# Exact versions that \`make demo\`, \`make test\` and CI install on Python $$v (pip constraints)."; \
	    echo "# Regenerate with \`make lock\` (see README, \"Reproducible environments\"); do not edit by hand."; \
	    $$tmp/venv/bin/python -m pip freeze --exclude-editable | grep -v '^climate-loan-risk'; } > requirements/lock-py$$v.txt; \
	  rm -rf $$tmp build; \
	done

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache docs/_build
