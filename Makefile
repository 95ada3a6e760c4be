# One script per chore, run the same way by people and CI.
#   make demo   – set up and run the whole system on embedded defaults (SQLite, in-process bus, simulators)
#   make test   – set up and run the whole test suite (PostgreSQL/Redis tests run when reachable)
#   make check  – lint, format check, strict typing
#   make bench  – benchmarks; each prints JSON lines beside a baseline measured in the same run

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: demo test check bench install system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

system-deps:
	./scripts/system-deps.sh

demo: install
	$(VENV)/bin/doorstep demo

test: install system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy tests bench

bench: install system-deps
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis
