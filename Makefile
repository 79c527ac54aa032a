# Smart Light: `make run` starts the whole local system, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# PostgreSQL when it answers on loopback (CI), SQLite otherwise.
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_DATABASE_URL ?= $(shell $(PYTHON) -c "import socket; s=socket.socket(); s.settimeout(0.5); print('$(PG_URL)' if s.connect_ex(('127.0.0.1', 5432)) == 0 else '')")
# Test processes (pytest-xdist, each with its own test database): most tests wait on
# subprocesses, brokers and browsers, so one process more than the cores keeps them busy.
# A test module stays in one process (--dist loadscope): its module-scoped browser or
# MicroPython run starts once. TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
PYTEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope)

.PHONY: setup run test test-sqlite lint bench browser lambda clean

$(PY_STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(PY_STAMP) $(NODE_STAMP)

# Debian's chromium for the browser tests; installed when missing and we may (root + apt).
browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium not found: browser tests will be skipped (apt-get install chromium)"; fi; \
	fi

run: setup
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py seed_demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.local start

lint: $(PY_STAMP)
	$(BIN)/ruff check .

test: setup browser lint
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run -v 0
	@echo "database: $${DATABASE_URL:-$(if $(TEST_DATABASE_URL),$(TEST_DATABASE_URL),sqlite)}"
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/pytest -q $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-sqlite: setup browser
	DATABASE_URL= $(BIN)/pytest -q $(PYTEST_PARALLEL) $(PYTEST_ARGS)

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Every Lambda's deployment package: build/lambda.zip (reproducible); the stack deploys it from S3.
lambda: $(PY_STAMP)
	$(PY) lambda/build.py

clean:
	rm -rf $(VENV) node_modules var db.sqlite3 staticfiles build
