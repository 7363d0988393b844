"""Online backups: complete, consistent and verifiable while writers carry on."""

import sqlite3
import threading

import pytest

from store.engine.backup import backup_sqlite
from store.engine.db import StoreError, connection
from store.ledger.chain import verify
from store.lifecycle.opening import close_database, open_database
from store.write.ingest import append_events
from store.write.seed import demo_events

pytestmark = pytest.mark.sqlite_only  # SQLite's online backup; PostgreSQL's is pg_dump


def test_backup_while_writing_is_consistent(database_url, tmp_path):
    append_events(list(demo_events(3000, seed=1)))
    stop = threading.Event()

    def writer() -> None:
        with connection():
            seed = 100
            while not stop.is_set():
                append_events(list(demo_events(50, seed=seed)))
                seed += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        events = backup_sqlite(database_url, tmp_path / 'copy.db', pages_per_step=8)
    finally:
        stop.set()
        thread.join()
    assert events >= 3000
    close_database()
    open_database(f'sqlite:///{tmp_path / "copy.db"}')
    with connection():
        report = verify()
    assert report.ok and report.checked == events
    close_database()
    assert not list(tmp_path.glob('.copy.db.partial'))


def test_backup_refuses_bad_targets(database_url, tmp_path):
    with pytest.raises(StoreError, match='must not overwrite'):
        backup_sqlite(database_url, database_url.removeprefix('sqlite:///'))
    with pytest.raises(StoreError, match='no such folder'):
        backup_sqlite(database_url, tmp_path / 'missing' / 'x.db')
    with pytest.raises(StoreError, match='pg_dump'):
        backup_sqlite('postgresql://u@localhost/x', tmp_path / 'x.db')
    assert sqlite3.connect(database_url.removeprefix('sqlite:///')).execute('PRAGMA integrity_check').fetchone()[0] \
        == 'ok'
