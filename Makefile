# Two commands do everything on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
export WEB_HOST WEB_PORT

.PHONY: install run test lint check pytest migrate demo worker bench-pricing bench-api clean

# The virtual environment is rebuilt from the lock file whenever the lock file changes.
$(VENV)/.installed: requirements/dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@$(BIN)/uv pip install -q --python $(BIN)/python -r requirements/dev.lock
	@touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput -v0

demo: migrate
	$(BIN)/python manage.py load_demo_data

## make run: install, migrate, load demo data, start web + worker + scheduler (Ctrl-C stops all)
run: demo
	@$(BIN)/python manage.py collectstatic --noinput -v0
	@echo ""
	@echo "  Admin:   http://$(WEB_HOST):$(WEB_PORT)/admin/"
	@echo "  Health:  http://$(WEB_HOST):$(WEB_PORT)/healthz"
	@echo "  Demo login and password: see the line 'demo login' above."
	@echo "  Ctrl-C stops every process."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile start

## make test: lint, boundaries, migrations check, type check of the pure core, whole test suite
test: lint pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run -v1

pytest: install
	$(BIN)/pytest

bench-pricing: install
	$(BIN)/python bench/bench_pricing.py

## make bench-api: REST API on 1,000,000 CDRs in PostgreSQL (database `benchapi`), see docs/benchmarks.md
bench-api: install
	$(BIN)/python bench/bench_api.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
