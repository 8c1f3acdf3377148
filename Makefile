# Understudy: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
# The portal's test database is PostgreSQL (the local server on these machines).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/understudy

.PHONY: run test lint install bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## make run: the portal with its demo on http://127.0.0.1:8000/admin/ (SQLite, two job workers,
## a real WordPress when PHP is installed; logs in var/demo.log, settings for the commands in .env).
## It migrates first; started while the demo runs, it says so and changes nothing.
run: export DEBUG ?= true
run: export STAGING_ALLOW_PRIVATE_DATABASE_ADDRESSES ?= true
run: install
	$(PYTHON) manage.py serve_demo

## make test: every test, against the local PostgreSQL, MariaDB and Redis: pytest, the
## reliability suite in its reduced form (through its report script), the TypeScript client and
## schemathesis against live throwaway portals. Installs the Debian packages the tests use.
test: install
	scripts/install_test_packages.sh
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -m "not reliability" $(PYTEST_ARGS)
	DATABASE_URL=$(TEST_DATABASE_URL) $(PYTHON) scripts/reliability_report.py --reduced \
		--output var/reliability.md
	$(MAKE) --no-print-directory test-ts test-api-contract

## make reliability: the full reliability suite (20 clones of load), rewriting docs/reliability.md
.PHONY: reliability
reliability: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(PYTHON) scripts/reliability_report.py

## make lint: ruff (lint and format), mypy, and the import contracts (pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) db.sqlite3 var .mypy_cache .ruff_cache .pytest_cache

## make test-api-contract: schemathesis against the OpenAPI schema of a live throwaway portal
.PHONY: test-api-contract test-ts bench-api
test-api-contract: install
	scripts/api_contract.sh

## make test-ts: the TypeScript client's tests (Node's test runner) against a live throwaway portal,
## then watchRun following a real clone to the end (a portal with a worker and the Railway sandbox)
test-ts: install
	cd clients/typescript && npm ci --no-audit --no-fund
	$(PYTHON) scripts/live_portal.py -- npm --prefix clients/typescript test
	$(PYTHON) scripts/live_portal.py --with-worker -- npm --prefix clients/typescript run test:worker

## make bench-api: p50/p95 of the API's list and poll endpoints on 1,000 sites (see benchmarks/)
bench-api: install
	$(PYTHON) -m benchmarks.api_bench

## make bench: the database copy engine against pg_dump | psql, mariadb-dump | mariadb, pgcopydb
## and mydumper/myloader (installed when missing, as root) at 100 MB, 500 MB and 1 GB, every copy
## verified (results also in var/bench/dbcopy.json); then whole clones, API request to ready.
.PHONY: bench
bench: install
	$(PYTHON) -m benchmarks.dbcopy_bench --pg-sizes 100,500,1000 --mysql-sizes 100,500,1000 \
		--repeat 3 --json var/bench/dbcopy.json
	$(PYTHON) -m benchmarks.clone_bench
