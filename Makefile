# docker-tutor: every target sets itself up first (a .venv inside the repository).
# `make run` runs the tutor; `make test` runs every test; `make bench` the benchmarks.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Build lesson images from Debian packages instead of pulling them (no registry here).
# Set TUTOR_OFFLINE=0 to try `docker pull` first where a registry is reachable.
TUTOR_OFFLINE ?= 1
export TUTOR_OFFLINE

.PHONY: setup images run console serve test lint typecheck check bench clean help

help:
	@echo "make run    - set up, build lesson images if missing, run the tutor"
	@echo "              (Slack if SLACK_BOT_TOKEN is set, else the terminal console)"
	@echo "make test   - set up, build lesson images if missing, run every test"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks; results in bench/results.md"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

images: setup
	$(BIN)/docker-tutor images build $(if $(filter 1 true yes,$(TUTOR_OFFLINE)),--offline,)

run: images
	$(BIN)/docker-tutor run

console: images
	$(BIN)/docker-tutor console

serve: images
	$(BIN)/docker-tutor serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: images
	$(BIN)/python -m pytest

check: lint test

bench: images
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
