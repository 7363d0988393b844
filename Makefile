# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint browser syslog bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py serve --demo

browser:
	bash scripts/ensure-chromium

syslog:
	bash scripts/ensure-rsyslog

lint: $(STAMP)
	$(PY) -m ruff check .

# The store, API and export tests run twice: on SQLite and on a throwaway PostgreSQL server.
test: $(STAMP) browser syslog lint
	bash scripts/with-postgres $(PY) -m pytest -q

# The 1M-event scale table (seeds /tmp/audit-logs-bench-1m.db once); add ARGS=--postgres for PostgreSQL's column.
bench: $(STAMP)
	$(PY) -m tests.benchmarks.bench_store $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
