# The two commands a fresh machine needs: `make demo` and `make test`.
# Both create .venv on first use and install the project into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install

$(BIN)/klink: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/klink

install: $(BIN)/klink

demo: install
	$(BIN)/klink demo

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
