"""Connections are pooled: a store call in any thread gets a used connection (SQLite: with its page cache;
PostgreSQL: without starting a server process)."""

from __future__ import annotations

import shutil
import threading

import pytest

from store.engine.db import connection, database, is_sqlite
from store.engine.pools import SqliteStore, empty_log
from store.lifecycle.opening import close_database, open_database
from store.read.events import EventFilter, Viewer, count_events


def in_thread(fn):
    result = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    return result[0]


def current() -> int:
    with connection():
        database.execute_sql('SELECT count(*) FROM event').fetchone()
        return id(database.connection())


def test_a_connection_is_used_again_by_the_next_thread(engine):
    database.close()
    first = in_thread(current)
    assert in_thread(current) == first
    assert current() == first


def test_at_most_a_few_connections_stay_open_unused(engine):
    database.close()
    held, release = threading.Barrier(9), threading.Event()

    def hold() -> None:
        with connection():
            database.execute_sql('SELECT 1').fetchone()
            held.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(8)]
    for thread in threads:
        thread.start()
    held.wait()  # eight connections in use at once
    assert len(database.obj._in_use) == 8
    release.set()
    for thread in threads:
        thread.join()
    assert len(database.obj._in_use) == 0
    assert len(database.obj._connections) == SqliteStore.IDLE_CONNECTIONS


def test_a_transaction_left_open_is_rolled_back_before_the_connection_is_used_again(engine):
    database.close()

    def leave_open() -> int:
        database.connect()
        database.execute_sql('BEGIN IMMEDIATE' if is_sqlite() else 'BEGIN')
        database.execute_sql("INSERT INTO meta (key, value) VALUES ('left', 'open')")
        raw = database.connection()
        database.close()
        return id(raw)

    used = in_thread(leave_open)
    assert in_thread(current) == used
    with connection():
        assert database.execute_sql("SELECT count(*) FROM meta WHERE key = 'left'").fetchone()[0] == 0
        database.execute_sql("INSERT INTO meta (key, value) VALUES ('next', 'writer')")  # the lock was let go


@pytest.mark.sqlite_only('opens a second SQLite file')
def test_opening_another_database_closes_the_unused_connections_of_the_last(database_url, tmp_path):
    database.close()
    old = database.obj
    in_thread(current)
    assert old._connections
    open_database(f'sqlite:///{tmp_path / "other.db"}')
    assert database.obj is not old
    assert not old._connections


@pytest.mark.sqlite_only('replaces the SQLite file')
def test_a_file_replaced_after_closing_is_read_afresh(database_url, tmp_path, add_events):
    """Copying another file over the database (restoring a backup) while the process keeps no connection."""
    add_events({'timestamp': '2026-10-01T08:00:00Z', 'user': 'alice@acme.io', 'scope': 'Billing',
                'category': 'Credit', 'action': 'Add Credit', 'target': 'c-1', 'status': 'SUCCESS',
                'description': 'Added credit'})
    empty_log()
    path = tmp_path / 'audit.db'
    shutil.copyfile(path, tmp_path / 'one-event.db')
    add_events({'timestamp': '2026-10-02T08:00:00Z', 'user': 'bob@acme.io', 'scope': 'Billing',
                'category': 'Credit', 'action': 'Add Credit', 'target': 'c-2', 'status': 'SUCCESS',
                'description': 'Added credit'})
    assert in_thread(lambda: _count()) == 2
    close_database()
    path.unlink()
    for suffix in ('-wal', '-shm'):
        (tmp_path / f'audit.db{suffix}').unlink(missing_ok=True)
    shutil.copyfile(tmp_path / 'one-event.db', path)
    open_database(database_url)
    assert in_thread(lambda: _count()) == 1
    assert _count() == 1


@pytest.mark.sqlite_only('an SQLite setting')
def test_the_server_reads_the_file_through_a_map_and_the_command_line_does_not(tmp_path):
    def mapped() -> int:
        with connection():
            return database.execute_sql('PRAGMA mmap_size').fetchone()[0]

    open_database(f'sqlite:///{tmp_path / "command.db"}')  # as main.py's commands other than serve
    assert in_thread(mapped) == 0
    open_database(f'sqlite:///{tmp_path / "served.db"}', map_mib=8)  # as `serve`, AUDIT_SQLITE_MAP_MIB=8
    assert in_thread(mapped) == mapped() == 8 * 2**20


def test_a_pooled_postgresql_connection_whose_session_ended_is_replaced(engine):
    """A server restart or an administrator ending sessions must not fail the next store call."""
    if engine != 'postgresql':
        pytest.skip('PostgreSQL sessions')
    import psycopg2

    database.close()
    first = in_thread(_backend)
    assert in_thread(_backend) == first  # the pooled connection, used again
    admin = psycopg2.connect(dbname=database.obj.database, **database.obj.connect_params)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute('SELECT pg_terminate_backend(%s)', (first,))
    admin.close()
    assert in_thread(_count) == 0
    assert in_thread(_backend) != first


def _backend() -> int:
    with connection():
        return database.execute_sql('SELECT pg_backend_pid()').fetchone()[0]


def _count() -> int:
    with connection():
        return count_events(Viewer.organization(), EventFilter())
