# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint browser proxy syslog bench clean

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

proxy:
	bash scripts/ensure-nginx

# Style, the import layers and cycles (pyproject.toml's [tool.importlinter]), and the types.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# The store, API and export tests run twice: on SQLite and on a throwaway PostgreSQL server.
test: $(STAMP) browser proxy syslog lint
	bash scripts/with-postgres $(PY) -m pytest -q

# The scale tables: every read through the store, then GET /api/v1/events through HTTP, on SQLite and on a
# throwaway PostgreSQL (filled from the SQLite file). BENCH_EVENTS=10000000 for the 10M mode; each size is
# seeded once into /tmp/audit-logs-bench-<size>.db and reused. PostgreSQL gets shared_buffers of 2GB, as a server
# holding 1M events should (README, Running on PostgreSQL); its default of 128MB holds less than `event_text`.
BENCH_EVENTS ?= 1000000
bench: $(STAMP)
	PG_SHARED_BUFFERS=2GB bash scripts/with-postgres sh -c '$(PY) -m tests.benchmarks.bench_store --events $(BENCH_EVENTS) \
	  --postgres "$$AUDIT_TEST_POSTGRES_URL" $(ARGS) && \
	  $(PY) -m tests.benchmarks.bench_api --events $(BENCH_EVENTS) --postgres "$$AUDIT_TEST_POSTGRES_URL"'

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
