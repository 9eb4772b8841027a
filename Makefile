# ProdOps developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(HOME)/.local/bin:$(PATH)
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(HOME)/.local/bin/uv
endif
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/prodops_test

.PHONY: help uv install demo serve test test-pg lint fix types contracts migrations-check check bench clean

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

uv: ## Install uv (with pip) if it is missing
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --quiet --user uv || python3 -m pip install --quiet --break-system-packages --user uv

install: uv ## Install ProdOps and its locked dependencies into .venv
	@$(UV) sync --frozen --quiet

demo: install ## Migrate, seed the demo organisation and serve http://127.0.0.1:8000
	@$(UV) run --frozen prodops demo

serve: install ## Serve without seeding
	@$(UV) run --frozen prodops db upgrade && $(UV) run --frozen prodops serve

test: install ## Run the whole test suite (SQLite; PostgreSQL with PRODOPS_DATABASE_URL)
	@$(UV) run --frozen pytest

test-pg: install ## Run the whole test suite against PostgreSQL ($(PG_TEST_URL))
	@createdb -h 127.0.0.1 -U postgres prodops_test 2>/dev/null || true
	@PRODOPS_DATABASE_URL=$(PG_TEST_URL) $(UV) run --frozen pytest

lint: install ## Lint and check formatting
	@$(UV) run --frozen ruff check src tests benchmarks
	@$(UV) run --frozen ruff format --check src tests benchmarks

fix: install ## Fix lint and formatting
	@$(UV) run --frozen ruff check --fix src tests benchmarks
	@$(UV) run --frozen ruff format src tests benchmarks

types: install ## Type-check (strict on the platform)
	@$(UV) run --frozen mypy

contracts: install ## Check the domain tier contracts
	@$(UV) run --frozen lint-imports

migrations-check: install ## Fail when models changed without a migration
	@tmp=$$(mktemp -d) && PRODOPS_DATA_DIR=$$tmp $(UV) run --frozen prodops db upgrade >/dev/null && PRODOPS_DATA_DIR=$$tmp $(UV) run --frozen alembic check; rc=$$?; rm -rf $$tmp; exit $$rc

check: lint types contracts migrations-check ## Everything CI checks besides the tests

bench: install ## Run the benchmarks (prints figures)
	@$(UV) run --frozen python -m benchmarks.accounts_list
	@$(UV) run --frozen python -m benchmarks.feedback_import
	@$(UV) run --frozen python -m benchmarks.feedback_pages
	@$(UV) run --frozen python -m benchmarks.setup_times
	@$(UV) run --frozen python -m benchmarks.analytics_ingest

clean: ## Remove local data and caches
	rm -rf .prodops .pytest_cache .mypy_cache .ruff_cache
