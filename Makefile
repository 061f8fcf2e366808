# Two commands do everything on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
WEB_HOST ?= 127.0.0.1
WEB_PORT ?= 8000
GATEWAY_HOST ?= 127.0.0.1
GATEWAY_PORT ?= 9000
export WEB_HOST WEB_PORT GATEWAY_HOST GATEWAY_PORT

.PHONY: install run test lint check pytest migrate demo worker bench-pricing bench-cdr-pipeline \
	bench-kill bench-api bench-rating bench-worker-cost bench-portal bench-gateway callgrind-pricing \
	bench-rule-match bench-invoicing bench-ocpi clean

# The virtual environment is rebuilt from the lock file whenever the lock file changes.
$(VENV)/.installed: requirements/dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@$(BIN)/uv pip install -q --python $(BIN)/python -r requirements/dev.lock
	@touch $@

# The independently written OCPP client the journeys also run (npm: ocpp-rpc), if node exists.
tests/js/node_modules/.package-lock.json: tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/js --no-audit --no-fund --silent; \
	else echo "npm not found: the ocpp-rpc journey will be skipped"; fi

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput -v0

demo: migrate
	$(BIN)/python manage.py load_demo_data

## make run: install, migrate, load demo data, start web + worker + scheduler + OCPP gateway +
## a gentle station simulator (4 stations on OCPP 1.6, 4 on 2.0.1, live time) (Ctrl-C stops all)
run: demo
	@$(BIN)/python manage.py collectstatic --noinput -v0
	@echo ""
	@echo "  Portal:  http://$(WEB_HOST):$(WEB_PORT)/portal/  (demo login below; the first sign-in"
	@echo "           enrols an authenticator app: scan the QR code, then save the recovery codes)"
	@echo "  Admin:   http://$(WEB_HOST):$(WEB_PORT)/admin/  (asks for the app's code too)"
	@echo "  Health:  http://$(WEB_HOST):$(WEB_PORT)/healthz"
	@echo "  OCPP:    ws://$(GATEWAY_HOST):$(GATEWAY_PORT)/ocpp/{identity}  (OCPP 1.5, 1.6 and 2.0.1)"
	@echo "  Simulated stations (sim16, sim201): passwords in $${DATA_DIR:-var}/demo-stations.json"
	@echo "  Demo login and password: see the line 'demo login' above."
	@echo "  Ctrl-C stops every process."
	@echo ""
	@# Ctrl-C: honcho stops every process (SIGTERM; config/processes.py gives them 20 s, not
	@# 5) and exits 130; the recipe's shell waits for that instead of dying with the SIGINT,
	@# so the stop ends with one line, not "Error 130". Another exit (a process failed) stays
	@# an error. Webhooks and OCPI partners on loopback are allowed on this development start (ADR
	@# 0017); our OCPI versions URL is this web address unless OCPI_BASE_URL says otherwise.
	@trap 'true' INT; OUTBOUND_HTTP_ALLOW_LOOPBACK=$${OUTBOUND_HTTP_ALLOW_LOOPBACK:-1} \
		OCPI_BASE_URL=$${OCPI_BASE_URL:-http://$(WEB_HOST):$(WEB_PORT)} \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m config.processes -f Procfile start; \
		rc=$$?; if [ $$rc -eq 130 ]; then echo "  Stopped."; else exit $$rc; fi

## make test: lint, boundaries, types (whole project; the pricing core strict), migrations check,
## all tests
test: lint pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/mypy --strict billing/pricing billing/rating
	$(BIN)/python manage.py makemigrations --check --dry-run -v1

# Tests keep their SQLite file and broker folders apart from `make run`'s.
pytest: install tests/js/node_modules/.package-lock.json
	DATA_DIR=$${DATA_DIR:-$(CURDIR)/var/test} $(BIN)/pytest

bench-pricing: install
	$(BIN)/python bench/bench_pricing.py

## make bench-rule-match: billing rule matching, 10,000 rules per engine, 100,000 sessions (no
## database): p50 / p99 µs per match per engine (target p99 <= 50 µs)
bench-rule-match: install
	$(BIN)/python bench/bench_rule_match.py

## make callgrind-pricing: instructions per CDR of the pricing hot path (valgrind), the A/B
## evidence on this shared machine; CALLGRIND_ROOT=/work/main measures another tree
CALLGRIND_ROOT ?= $(CURDIR)
callgrind-pricing: install
	@rm -rf var/callgrind && mkdir -p var/callgrind
	cd var/callgrind && PYTHONHASHSEED=0 valgrind --tool=callgrind --dump-before=getppid \
		$(CURDIR)/$(BIN)/python $(CURDIR)/bench/callgrind_pricing.py --root $(CALLGRIND_ROOT) \
		> valgrind.log 2>&1
	$(BIN)/python bench/callgrind_pricing.py --report var/callgrind

## make bench-api: REST API on 1,000,000 CDRs in PostgreSQL (database `benchapi`), see docs/benchmarks.md
bench-api: install
	$(BIN)/python bench/bench_api.py

## make bench-portal: portal page times with 100,000 sessions and 1,000,000 CDRs in PostgreSQL
## (database `benchportal`), see docs/benchmarks.md
bench-portal: install
	$(BIN)/python bench/bench_portal.py

# Gateway benchmarks: PostgreSQL + Redis, their own database and Redis dbs (docs/benchmarks.md).
BENCH_PG ?= postgres://postgres@127.0.0.1:5432
BENCH_REDIS ?= redis://127.0.0.1:6379

## make bench-rating: 1,000,000 CDRs through the three billing engines with 10,000 rules on
## PostgreSQL (template database hbench_rating_tpl, cloned per run), see docs/benchmarks.md
bench-rating: install
	$(BIN)/python bench/bench_rating.py --pg $(BENCH_PG)

## make bench-invoicing: issue 18's targets on 100,000 customers and 1,000,000 rated CDRs of one
## month in PostgreSQL (template database hbench_invoicing_tpl, cloned per run): drafts, finalize,
## UBL, PDF, ERP export; BENCH_INVOICING_ARGS adds flags (--phases, --sample, ...)
bench-invoicing: install
	$(BIN)/python bench/bench_invoicing.py --pg $(BENCH_PG) $(BENCH_INVOICING_ARGS)

bench-cdr-pipeline: install
	$(BIN)/python bench/bench_cdr_pipeline.py --pg $(BENCH_PG) --redis $(BENCH_REDIS)

## make bench-worker-cost: CPU time and SQL statements per CDR of the charging worker's batch path
bench-worker-cost: install
	$(BIN)/python bench/worker_cost.py --pg $(BENCH_PG) --redis $(BENCH_REDIS)

bench-kill: install
	$(BIN)/python bench/kill_test.py --pg $(BENCH_PG) --redis $(BENCH_REDIS)

## make bench-gateway: one gateway process holding 10,000 stations (database simbench_gw,
## Redis dbs 14/15, ports 9400-9401), against a baseline on the ocpp library; docs/benchmarks.md
bench-gateway: install
	$(BIN)/python bench/bench_gateway.py --pg $(BENCH_PG) --redis $(BENCH_REDIS)

## make bench-ocpi: issue 19's OCPI Speed targets (database bench_ocpi, built once and kept:
## 10,000 locations / 50,000 EVSEs): locations pull, CDR push, CDR receive; docs/benchmarks.md.
## BENCH_OCPI_ARGS adds flags (--phases pull,push --cdrs 5000 --rebuild ...)
bench-ocpi: install
	$(BIN)/python bench/bench_ocpi.py $(BENCH_OCPI_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
