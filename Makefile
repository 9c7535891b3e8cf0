# docker-tutor: every target sets itself up first (a .venv inside the repository).
# `make run` runs the tutor; `make test` runs every test; `make bench` the benchmarks.
# The .venv gets the versions of requirements.lock (what the deployment image ships).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Build lesson images from Debian packages instead of pulling them (no registry here).
# Set TUTOR_OFFLINE=0 to try `docker pull` first where a registry is reachable.
TUTOR_OFFLINE ?= 1
export TUTOR_OFFLINE

.PHONY: setup images run console serve test test-fast test-lowest lint typecheck check bench lock \
	clean help

help:
	@echo "make run    - set up, build lesson images if missing, run the tutor"
	@echo "              (Slack if SLACK_BOT_TOKEN is set, else the terminal console)"
	@echo "make test   - set up, build lesson images if missing, run every test"
	@echo "make test-fast   - the tests that need no Docker engine (under a minute)"
	@echo "make test-lowest - every test on the oldest versions pyproject.toml allows"
	@echo "make lock   - regenerate requirements.lock from a clean venv"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks; results in bench/results.md"

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' -c requirements.lock
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

# PYTEST_ARGS: more pytest arguments (.ci/run's PostgreSQL pass leaves out the tests of the engine alone).
test: images
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The engine-less tests on both cores (pytest-xdist): each worker has its own database
# template and temporary folders; the engine tests (make test) stay in one process.
test-fast: setup
	$(BIN)/python -m pytest -m "not docker" -n 2

# The lower bounds of pyproject.toml, tested: a venv with the oldest allowed version of every
# direct dependency (uv's lowest-direct resolution), then the whole suite.
LOWEST := .venv-lowest
test-lowest: images
	$(BIN)/python -m pip install -q uv
	rm -rf $(LOWEST)
	$(BIN)/uv venv -q --python $(BIN)/python $(LOWEST)
	VIRTUAL_ENV=$(LOWEST) $(BIN)/uv pip install -q --resolution lowest-direct -e '.[dev]'
	$(LOWEST)/bin/python -m pytest

# requirements.lock: the exact versions a clean install of the project and its extras gets.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --upgrade pip
	.lock-venv/bin/python -m pip install -q '.[charts,postgres]'
	{ sed -n '/^#/p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude docker-tutor; } \
		> requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf .lock-venv build

check: lint test

bench: images
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(LOWEST) .lock-venv .pytest_cache .mypy_cache .ruff_cache build *.egg-info
