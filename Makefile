# Every target creates .venv itself and installs what it needs: no step by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: demo test venv lint format clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.run

$(VENV)/.all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.dev $(VENV)/.run

demo: $(VENV)/.run  ## simulate the demo line data and run the main job on it
	$(BIN)/defectops demo

test: $(VENV)/.dev  ## run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

venv: $(VENV)/.all  ## just the environment, with every extra

lint: $(VENV)/.dev  ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/defectops

format: $(VENV)/.dev  ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:  ## remove the environment and everything the demo wrote
	rm -rf $(VENV) artifacts data/demo .pytest_cache .mypy_cache .ruff_cache
