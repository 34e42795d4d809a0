# Packhorse developer commands. Every target creates the virtualenv it needs.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HOME_DIR ?= ./.packhorse
LISTEN ?= 127.0.0.1:9101
PYTEST_WORKERS ?= auto

.PHONY: run test test-fast check lint types contracts migrations bench fmt clean venv dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The runtime install: stamped on pyproject.toml so an edit reinstalls.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
dev: $(VENV)/.dev-installed

## make run: create the venv, install, initialise ./.packhorse the first time, start Packhorse.
run: $(VENV)/.installed
	@if [ ! -f "$(HOME_DIR)/packhorse.toml" ]; then $(BIN)/packhorse --home "$(HOME_DIR)" init; fi
	$(BIN)/packhorse --home "$(HOME_DIR)" up --listen $(LISTEN)

## make check: lint, format check, strict types, the import contracts of the pure core, and
## the migrations against schema.py on SQLite and PostgreSQL.
check: lint types contracts migrations

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

SITE := src/packhorse/compat/site
SITE_PACKAGES := -p st2common -p st2reactor -p st2tests -p st2client -p eventlet -p _packhorse_pack

# The pack site folder holds top-level packages (st2common, ...), checked from inside it, for
# the oldest pack interpreter mypy knows (ruff checks the syntax for 3.9, the oldest we support).
types: $(VENV)/.dev-installed
	$(BIN)/mypy
	cd $(SITE) && $(abspath $(BIN))/mypy --config-file $(abspath pyproject.toml) --python-version 3.10 $(SITE_PACKAGES)

contracts: $(VENV)/.dev-installed
	$(BIN)/lint-imports

migrations: $(VENV)/.dev-installed
	$(BIN)/python tools/check_migrations.py

## make test: check, then every test tier in parallel.
test: check
	$(BIN)/pytest -n $(PYTEST_WORKERS)

## make test-fast: the fast tier only (no slow marker).
test-fast: $(VENV)/.dev-installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow"

## make bench: every benchmark under bench/, each printing its table.
bench: $(VENV)/.dev-installed
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

fmt: $(VENV)/.dev-installed
	$(BIN)/ruff format src tests bench tools
	$(BIN)/ruff check --fix src tests bench tools

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
