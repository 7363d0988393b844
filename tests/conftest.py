"""Fixtures shared by every test: a fresh real SQLite file, events, and accounts of each role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from store.derived import search_file
from store.engine.db import database, is_sqlite
from store.ledger import taxonomy
from store.ledger.validation import validate_event
from store.lifecycle.opening import close_database, open_database
from store.people.accounts import Account, create_account
from store.write.ingest import AppendResult, append_events
from tests import pg
from tests.oidc_provider import Provider, running_provider

OWNER = ('owner@acme.io', 'owner-test-pass')
ADMIN_A = ('admin-a@acme.io', 'admin-a-test-pass')  # Workspace Admin of "alpha"
ADMIN_B = ('admin-b@acme.io', 'admin-b-test-pass')  # Workspace Admin of "beta"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'sqlite_only(reason): runs on SQLite only (it tampers with the file, '
                                       'or tests an SQLite feature)')


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The store, API and export tests run on SQLite and on PostgreSQL."""
    path = Path(str(metafunc.definition.path)).relative_to(Path(__file__).parent).as_posix()
    if ('engine' in metafunc.fixturenames and path.startswith(pg.BOTH_ENGINES)
            and not metafunc.definition.get_closest_marker('sqlite_only')):
        metafunc.parametrize('engine', ['sqlite', 'postgresql'], indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    return getattr(request, 'param', 'sqlite')


@pytest.fixture(autouse=True)
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> Iterator[str]:
    """Every test gets its own database; main.py (run by NiceGUI's `user` fixture) reads the same URL."""
    url = pg.fresh_database() if engine == 'postgresql' else f'sqlite:///{tmp_path / "audit.db"}'
    monkeypatch.setenv('DATABASE_URL', url)
    monkeypatch.setenv('AUDIT_SESSION_SECRET', 'test-secret')
    monkeypatch.delenv('AUDIT_TAXONOMY_FILE', raising=False)
    taxonomy.load_extra_categories('')
    open_database(url)
    database.connect(reuse_if_open=True)
    yield url
    close_database()


def event(**fields: Any) -> dict[str, Any]:
    """A valid raw event; keyword arguments override its fields."""
    raw = {'timestamp': '2026-10-01T08:00:00Z', 'user': 'alice@acme.io', 'scope': 'Service',
           'category': 'AI Notebook', 'action': 'Start Notebook', 'target': 'nb-1', 'status': 'SUCCESS',
           'description': 'Started notebook nb-1', 'workspace': 'alpha'}
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not None}


@pytest.fixture(scope='session')
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """A real OpenID Connect provider process (oidc-provider-mock), shared by the sign-in tests."""
    with running_provider(tmp_path_factory.mktemp('oidc-provider') / 'provider.log') as provider:
        yield provider


@pytest.fixture
def add_events() -> Callable[..., AppendResult]:
    """add_events(raw, raw, ...) validates and stores events through the one ingestion path, and (SQLite) waits
    until the search index holds them, so that a search reads them from it (tests of the tail before that
    call `append_events` themselves)."""
    def add(*raws: dict[str, Any]) -> AppendResult:
        result = append_events([validate_event(raw) for raw in raws])
        if is_sqlite():
            search_file.index_all()
        return result
    return add


@pytest.fixture
def accounts() -> dict[str, Account]:
    """An Organization Owner, and Workspace Admins of "alpha" and of "beta"."""
    return {
        'owner': create_account(*OWNER, 'owner'),
        'admin_a': create_account(*ADMIN_A, 'admin', ['alpha']),
        'admin_b': create_account(*ADMIN_B, 'admin', ['beta']),
    }


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def raw_sql(sql: str, params: tuple = ()) -> list[tuple]:
    cursor = database.execute_sql(sql, params)
    return list(cursor) if cursor.description else []
