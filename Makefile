# Huanxin: `make run` serves the demo at http://127.0.0.1:8000; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Django 6 needs Python 3.12 or newer: take the first interpreter that qualifies.
PYTHON_CANDIDATES := python3.13 python3.12 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3) \
	$(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3) python3
PYTHON ?= $(shell for p in $(PYTHON_CANDIDATES); do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
PYTEST_ARGS ?=

.PHONY: help run test lint check install assets browser clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "需要 Python 3.12 或更高版本 (Django 6)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(VENV)/.installed assets ## create .venv and install Python and front-end packages

assets: node_modules/.installed ## front-end packages from the npm registry (htmx, ECharts)

browser: ## Debian's Chromium for the browser tests (installed with apt when run as root)
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
		else echo "没有 /usr/bin/chromium：浏览器测试将跳过 (sudo apt-get install chromium)"; fi; \
	fi

run: install ## migrate, load the plan and demo data, serve http://127.0.0.1:8000
	$(BIN)/huanxin migrate --no-input
	$(BIN)/huanxin demo
	$(BIN)/huanxin runserver $(HOST)

test: install browser ## run the whole test suite (DATABASE_URL=postgres://… to run it on PostgreSQL)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install ## ruff, mypy and the migrations check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/huanxin makemigrations --check --dry-run

check: lint test ## everything CI runs

clean: ## remove the virtualenv, node_modules and the local database
	rm -rf $(VENV) node_modules var staticfiles
