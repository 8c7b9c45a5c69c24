# The two commands a fresh machine needs: `make demo` and `make test`.
# Both create .venv on first use (and again when pyproject.toml changes) and install the project into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export RUNTIME__DLTHUB_TELEMETRY ?= false

.PHONY: demo test lint install ci clean-demo

$(BIN)/klink: pyproject.toml
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "needs Python >= 3.10 (set PY=...)"; exit 1; }
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || { echo "cannot create $(VENV): on Debian/Ubuntu install python3-venv"; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(BIN)/klink

install: $(BIN)/klink

## make demo: local sandbox API -> ./klink_demo.duckdb; run it twice to see an incremental run
demo: install
	$(BIN)/klink demo

## make test: ruff, then the whole test suite (PostgreSQL tests skip unless KLINK_TEST_POSTGRES_DSN is set)
test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

lint: install
	$(BIN)/ruff check .

## make ci: what CI runs on a fresh machine (installs PostgreSQL when root), then make test
ci:
	bash .ci/run

clean-demo:
	rm -f klink_demo.duckdb klink_demo.duckdb.wal
	rm -rf .klink/pipelines/klink_demo .klink/pipelines/klink_demo.lock
