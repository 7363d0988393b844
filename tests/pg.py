"""PostgreSQL for the tests: a server given by AUDIT_TEST_POSTGRES_URL (scripts/with-postgres starts one).

The store, API and export tests run once per engine. Each PostgreSQL run gets an empty database
(the public schema dropped and recreated) and a URL of its own, so no connection of an earlier
test is reused.
"""

from __future__ import annotations

import itertools
import os

import psycopg2
import pytest

ENV = 'AUDIT_TEST_POSTGRES_URL'
# Test folders and files whose tests run on both engines (paths relative to tests/).
BOTH_ENGINES = ('store/', 'ui/test_api.py', 'ui/test_api_pages.py', 'ui/test_export_ui.py',
                'browser/test_two_instances.py')
_runs = itertools.count(1)


def server_url() -> str:
    """The PostgreSQL test server's URL; skips the test (fails under CI=true) without one."""
    url = os.environ.get(ENV, '')
    if not url:
        reason = (f'PostgreSQL tests need a server: {ENV} is not set (`make test` or '
                  '`bash scripts/with-postgres .venv/bin/python -m pytest` start one)')
        if os.environ.get('CI') == 'true':
            pytest.fail(f'CI=true: {reason}')
        pytest.skip(reason)
    return url


def fresh_database(name: str = '') -> str:
    """Empty the test database and return a URL for it that no earlier test used."""
    url = server_url()
    raw = psycopg2.connect(url)
    raw.autocommit = True
    with raw.cursor() as cursor:
        cursor.execute('SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                       'WHERE datname = current_database() AND pid <> pg_backend_pid()')
        cursor.execute('DROP SCHEMA public CASCADE')
        cursor.execute('CREATE SCHEMA public')
    raw.close()
    separator = '&' if '?' in url else '?'
    return f'{url}{separator}application_name=audit-test-{os.getpid()}-{next(_runs)}{name}'
