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

## make run: the portal with its demo on http://127.0.0.1:8000/admin/ (SQLite, a job worker)
run: export DEBUG ?= true
run: install
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py serve_demo

## make test: the whole test suite, against the local PostgreSQL, MariaDB and Redis
test: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest $(PYTEST_ARGS)

## make lint: ruff (lint and format) and mypy
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

clean:
	rm -rf $(VENV) db.sqlite3 var .mypy_cache .ruff_cache .pytest_cache
