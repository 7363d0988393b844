"""The schema: read-only events at the database, and upgrades that keep every event."""

import sqlite3

import peewee
import pytest

from store.derived import sort_index
from store.engine.db import connection, database
from store.lifecycle import schema
from store.lifecycle.opening import close_database, open_database
from store.read.events import EventFilter, Viewer, count_events, find_events
from tests.conftest import event


def db_file(url: str) -> str:
    return url.removeprefix('sqlite:///')


@pytest.mark.sqlite_only  # raw sqlite3 on the file; PostgreSQL: tests/store/test_postgres.py
def test_update_and_delete_fail_at_the_database(add_events, database_url):
    add_events(event(id='a'))
    with pytest.raises(peewee.DatabaseError, match='append-only'):
        database.execute_sql("UPDATE event SET description = 'edited'")
    with pytest.raises(peewee.DatabaseError, match='append-only'):
        database.execute_sql('DELETE FROM event')
    raw = sqlite3.connect(db_file(database_url))
    with pytest.raises(sqlite3.DatabaseError, match='append-only'):
        raw.execute("UPDATE event SET status = 'FAILED'")
    with pytest.raises(sqlite3.DatabaseError, match='append-only'):
        raw.execute('DELETE FROM event WHERE 1')
    raw.close()
    assert find_events(Viewer.organization(), EventFilter()).events[0]['description'] == 'Started notebook nb-1'


@pytest.mark.sqlite_only  # REPLACE is SQLite's; PostgreSQL: tests/store/test_postgres.py
def test_insert_or_replace_over_an_event_fails(add_events, database_url):
    add_events(event(id='a'))
    seq, uid, stored_hash = database.execute_sql('SELECT seq, uid, hash FROM event').fetchone()
    raw = sqlite3.connect(db_file(database_url))
    columns = 'seq, uid, ts, actor, scope, category, action, target, status, description, search_text, hash'
    with pytest.raises(sqlite3.DatabaseError, match='append-only'):
        raw.execute(f"INSERT OR REPLACE INTO event ({columns}) VALUES (?, 'other', 0, 'x', 'Billing', 'Credit', "
                    "'a', 't', 'SUCCESS', 'd', 's', 'h')", (seq,))
    with pytest.raises(sqlite3.DatabaseError, match='append-only'):
        raw.execute(f"REPLACE INTO event ({columns}) VALUES (999, ?, 0, 'x', 'Billing', 'Credit', "
                    "'a', 't', 'SUCCESS', 'd', 's', 'h')", (uid,))
    raw.close()
    assert database.execute_sql('SELECT seq, uid, hash FROM event').fetchall() == [(seq, uid, stored_hash)]


def test_upgrade_is_idempotent_and_recorded(database_url):
    assert schema.current_version() == schema.LATEST
    assert schema.upgrade() == schema.LATEST
    close_database()
    open_database(database_url)
    with connection():
        assert schema.current_version() == schema.LATEST


def test_a_database_of_an_earlier_version_opens_with_every_event(tmp_path):
    """A version-1 file (before the search index) is upgraded in place; its events stay and become searchable."""
    close_database()
    old = tmp_path / 'old.db'
    url = f'sqlite:///{old}'
    raw = sqlite3.connect(old)
    raw.execute('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
    for sql in schema.V1_TABLES[1:]:
        raw.execute(sql)
    raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    raw.executemany(
        'INSERT INTO event (uid, ts, actor, scope, category, action, target, status, description, search_text, hash) '
        "VALUES (?, ?, 'old@acme.io', 'Billing', 'Credit', 'Add Credit', ?, 'SUCCESS', 'Added credit', ?, 'h')",
        [(f'old-{i}', 1_700_000_000_000 + i, f'credit-{i}', f'billing\x1fcredit\x1fold@acme.io\x1fadd credit'
          f'\x1fcredit-{i}\x1fadded credit') for i in range(50)])
    raw.commit()
    raw.close()

    open_database(url)
    with connection():
        assert schema.current_version() == schema.LATEST
        assert count_events(Viewer.organization(), EventFilter()) == 50
        assert count_events(Viewer.organization(), EventFilter(search='credit-4')) == 11  # credit-4, -40..-49
        assert count_events(Viewer.organization(), EventFilter(search='credit')) == 50  # the category's name
        assert count_events(Viewer.organization(), EventFilter(search='old@')) == 50  # the user's name
        assert database.execute_sql('SELECT scope, category FROM facet_marker').fetchall() == [('Billing', 'Credit')]
        assert database.execute_sql('SELECT actor FROM actor_marker').fetchall() == [('old@acme.io',)]
        marked = database.execute_sql("SELECT count(*) FROM search.event_search WHERE event_search MATCH ?",
                                      ('"\x01\ue001\ue000" AND "\x02\ue001\ue000"',)).fetchone()
        assert marked == (50,)  # every event's entry carries the markers of its pair and its user
        merge = database.execute_sql("SELECT v FROM search.event_search_config WHERE k = 'automerge'").fetchone()
        assert merge == (8,)
        in_main = database.execute_sql("SELECT name FROM main.sqlite_master WHERE name LIKE 'event_search%'")
        assert in_main.fetchall() == []  # the index moved to a file of its own (store/derived/search_file.py)
        assert sort_index.flush() == 50  # the sort tables, in the search index's file since step 13
        for table, column in (('search.sort_target', 'target'), ('search.sort_description', 'description')):
            rows = database.execute_sql(f'SELECT {column}, ts, seq FROM {table}').fetchall()
            assert rows == sorted(database.execute_sql(f'SELECT {column}, ts, seq FROM event').fetchall())
        assert sort_index.sorted_upto() == 50
        in_main = database.execute_sql("SELECT name FROM main.sqlite_master WHERE name LIKE 'sort_%'").fetchall()
        assert in_main == []
        indexes = {row[0] for row in database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert 'event_target_ts' not in indexes  # replaced by the sort table
    close_database()


def test_a_newer_database_is_refused(tmp_path):
    from store.engine.db import StoreError

    close_database()
    path = tmp_path / 'future.db'
    raw = sqlite3.connect(path)
    raw.execute('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
    raw.execute("INSERT INTO meta VALUES ('schema_version', '999')")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match='newer than this release'):
        open_database(f'sqlite:///{path}')


@pytest.mark.sqlite_only  # SQLite pragmas
def test_wal_mode_and_pragmas(database_url):
    assert database.execute_sql('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert database.execute_sql('PRAGMA foreign_keys').fetchone()[0] == 1
    assert database.execute_sql('PRAGMA busy_timeout').fetchone()[0] >= 5000


def test_bad_database_urls_are_clear_errors():
    from store.engine.db import StoreError

    with pytest.raises(StoreError, match='needs a file'):
        open_database('sqlite:///:memory:')
    with pytest.raises(StoreError, match='cannot use database URL'):
        open_database('nosuchengine://x/y')
