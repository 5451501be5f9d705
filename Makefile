# Huanxin: `make run` serves the demo on HOST (default 127.0.0.1:8000) with a worker; `make test` runs the suite.
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
# `make test-clock`: UTC instants the suite starts at — just after midnight in Beijing (UTC+8), New Year in Beijing,
# two minutes before midnight on a month's last day (the run crosses into the next month), a leap day after the plan
CLOCKS ?= 2026-12-06T16:05:00Z 2026-12-31T16:05:00Z 2027-01-31T15:58:00Z 2028-02-29T03:00:00Z

.PHONY: help run test test-clock lint check install assets browser clean

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

run: install ## migrate, load the plan and demo data, serve on HOST (127.0.0.1:8000) with a background worker
	$(BIN)/huanxin migrate --no-input
	$(BIN)/huanxin demo
	@# runserver takes HOST as address:port or a bare port (then on 127.0.0.1). The worker runs the background jobs
	@# beside it and is stopped with it (Ctrl-C, or the server exiting).
	@case "$(HOST)" in *:*) address="$(HOST)";; *) address="127.0.0.1:$(HOST)";; esac; \
	echo "焕新 运行于 http://$$address/ （后台任务进程同时运行；Ctrl-C 一起停止）"; \
	$(BIN)/huanxin worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/huanxin runserver $(HOST)

test: install browser ## run the whole test suite (DATABASE_URL=postgres://… to run it on PostgreSQL)
	$(BIN)/pytest $(PYTEST_ARGS)

test-clock: install browser ## the suite under shifted clocks (faketime; CLOCKS=… to choose), not part of `make test`
	@command -v faketime >/dev/null || { echo "需要 faketime (apt-get install faketime)"; exit 1; }
	@# a relative offset, not faketime's '@date': Django sets TZ=Asia/Shanghai and xdist's workers, which inherit
	@# it, would read '@date' as Beijing time and run 8 hours behind the parent
	@for at in $(CLOCKS); do \
		offset=$$(( $$(date -ud "$$at" +%s) - $$(date +%s) )); [ $$offset -ge 0 ] && offset=+$$offset; \
		echo "== $$at: faketime -f $$offset"; \
		faketime -f "$$offset" $(BIN)/pytest $(PYTEST_ARGS) || exit 1; \
	done

lint: install ## ruff, mypy and the migrations check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/huanxin makemigrations --check --dry-run

check: lint test ## everything CI runs

clean: ## remove the virtualenv, node_modules and the local database
	rm -rf $(VENV) node_modules var staticfiles
