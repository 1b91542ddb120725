# Set-up and the main jobs. Everything installs into .venv from the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,pdf]'
	touch $(STAMP)

## demo: install, then load, validate and summarise the shipped demo plant
demo: $(STAMP)
	$(BIN)/zonewarden demo

## test: install with test dependencies, lint, type-check the core, run every test
test: $(STAMP)
	$(BIN)/ruff check zonewarden tests
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check zonewarden tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
