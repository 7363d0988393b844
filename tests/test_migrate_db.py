"""migrate-db: an SQLite store copied into PostgreSQL with every event, id and hash, verified."""

from __future__ import annotations

import subprocess
import sys

import pytest

from store.engine.db import database
from store.engine.meta import session_secret
from store.ledger.chain import verify
from store.ledger.validation import validate_event
from store.lifecycle.opening import close_database, open_database
from store.people.accounts import authenticate, create_account
from store.people.tokens import authenticate_token, create_token
from store.read.events import EventFilter, Viewer, count_events, find_events
from store.write.ingest import append_events
from store.write.seed import demo_events
from tests import pg
from tests.conftest import event


@pytest.fixture
def sqlite_store(tmp_path):
    """A filled SQLite store (the autouse database), closed so the command can read it."""
    url = f'sqlite:///{tmp_path / "source.db"}'
    close_database()
    open_database(url)
    with database.connection_context():
        append_events(list(demo_events(3000, seed=7)))
        create_account('owner@acme.io', 'owner-pass-123', 'owner')
        create_account('admin@acme.io', 'admin-pass-123', 'admin', ['research'])
        token = create_token('ci', workspace='research', created_by='owner@acme.io')
        rows = database.execute_sql('SELECT seq, uid, hash FROM event ORDER BY seq').fetchall()
        secret = session_secret()
    close_database()
    return url, rows, token, secret


def test_an_sqlite_store_moves_to_postgresql_whole(sqlite_store):
    source, rows, token, secret = sqlite_store
    target = pg.fresh_database()
    result = subprocess.run([sys.executable, 'main.py', '--db', source, 'migrate-db', '--to', target],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f'event {len(rows):,}' in result.stdout
    assert 'verify on the copy: OK' in result.stdout

    open_database(target)
    with database.connection_context():
        assert database.execute_sql('SELECT seq, uid, hash FROM event ORDER BY seq').fetchall() == rows
        assert verify().ok
        # vacuumed (the trigram indexes' pending lists merged) and analyzed: the events and each part of event_text
        assert database.execute_sql(
            'SELECT count(*) FILTER (WHERE last_vacuum IS NOT NULL AND last_analyze IS NOT NULL), count(*) '
            "FROM pg_stat_user_tables WHERE relname = 'event' OR relname LIKE 'event_text_%'").fetchone() == (14, 14)
        assert session_secret() == secret
        assert authenticate('admin@acme.io', 'admin-pass-123').workspaces == ('research',)
        stored_token = authenticate_token(token)
        assert stored_token is not None and stored_token.viewer().workspaces == frozenset({'research'})
        org = Viewer.organization()
        assert count_events(org, EventFilter()) == len(rows)
        assert count_events(org, EventFilter(scope='Billing')) == find_events(
            org, EventFilter(scope='Billing'), limit=1000).total
        # the copy goes on: new ids follow the copied ones and the chain extends
        create_account('new@acme.io', 'new-pass-12345', 'admin', ['fresh'])
        append_events([validate_event(event(workspace='fresh'))])
        assert verify().ok

    again = subprocess.run([sys.executable, 'main.py', '--db', source, 'migrate-db', '--to', target],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and 'not empty' in again.stderr and 'Traceback' not in again.stderr


def test_migrate_db_refuses_a_postgresql_source(tmp_path):
    result = subprocess.run([sys.executable, 'main.py', '--db', 'postgresql://u@127.0.0.1:1/x', 'migrate-db',
                             '--to', f'sqlite:///{tmp_path / "x.db"}'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and 'copies an SQLite store' in result.stderr
