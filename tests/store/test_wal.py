"""SQLite's log is copied into the database file by a background checkpoint (store/engine/wal.py), not by the
commits."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from store.engine import wal
from store.engine.db import database, sqlite_path
from store.engine.pools import SQLITE_PRAGMAS, WAL_SIZE_LIMIT, empty_log
from store.lifecycle.opening import close_database, open_database
from tests.conftest import event

pytestmark = pytest.mark.sqlite_only('checkpoints of the SQLite log')


def in_file_alone(path: Path, scratch: Path) -> int | None:
    """The events the database file itself holds, without its log: what checkpoints have copied into it.
    None while it holds no events table yet, or a copy taken during a checkpoint is not whole."""
    copy = scratch / 'file-alone.db'
    shutil.copyfile(path, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute('SELECT count(*) FROM event').fetchone()[0]
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()
        copy.unlink()


@pytest.fixture
def store_events(add_events):
    return lambda count: add_events(*(event(target=f'nb-{n}') for n in range(count)))


def checkpoint_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith('checkpoint ')]


def test_commits_reach_the_database_file_while_the_store_stays_open(database_url, tmp_path, store_events):
    path = sqlite_path(database_url)
    store_events(30)
    deadline = time.monotonic() + 10
    while in_file_alone(path, tmp_path) != 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_file_alone(path, tmp_path) == 30
    assert database.obj.checkpointer.passes >= 1


def test_a_commit_leaves_its_pages_in_the_log_for_the_background_pass(database_url, tmp_path, monkeypatch,
                                                                   store_events):
    path = sqlite_path(database_url)
    database.obj.checkpointer.stop()
    database.obj.checkpointer.checkpoint()
    before = in_file_alone(path, tmp_path)
    monkeypatch.setattr(wal.Checkpointer, 'committed', lambda self: None)
    for _ in range(5):
        store_events(20)
    assert in_file_alone(path, tmp_path) == before  # the writers did not checkpoint
    # A passive pass copies only what no reader's snapshot still needs (a background reader of the store
    # may hold one for a moment), so the pass is repeated, as the checkpointer's thread would.
    deadline = time.monotonic() + 10
    database.obj.checkpointer.checkpoint()
    while in_file_alone(path, tmp_path) != before + 100 and time.monotonic() < deadline:
        time.sleep(0.05)
        database.obj.checkpointer.checkpoint()
    assert in_file_alone(path, tmp_path) == before + 100


def test_the_checkpoint_never_creates_a_missing_file(tmp_path):
    missing = tmp_path / 'gone' / 'audit.db'
    missing.parent.mkdir()
    checkpointer = wal.Checkpointer(missing)
    checkpointer.checkpoint()
    assert not missing.exists()
    assert checkpointer.passes == 0


def test_closing_the_store_ends_its_thread_and_the_next_commit_starts_another(database_url, store_events):
    store_events(1)
    assert len(checkpoint_threads()) == 1
    close_database()
    assert checkpoint_threads() == []
    open_database(database_url)
    store_events(1)
    assert len(checkpoint_threads()) == 1


def test_opening_another_database_ends_the_thread_of_the_last(database_url, tmp_path, store_events):
    store_events(1)
    first = checkpoint_threads()
    open_database(f'sqlite:///{tmp_path / "other.db"}')
    assert not any(thread.is_alive() for thread in first)


def test_emptying_the_log_puts_every_commit_in_the_file_even_beside_the_background_pass(database_url, tmp_path,
                                                                                         store_events):
    path = sqlite_path(database_url)
    for _ in range(20):
        store_events(10)
        empty_log()
        assert in_file_alone(path, tmp_path) == database.execute_sql('SELECT count(*) FROM event').fetchone()[0]
        assert path.with_name(path.name + '-wal').stat().st_size == 0


def test_the_log_starts_again_under_steady_commits(tmp_path, monkeypatch, add_events):
    """A pass beside a stream of commits rarely catches up with it; the writers' own checkpoint, at a threshold,
    lets the log start again (without it, this run's log reached 2,994 pages)."""
    monkeypatch.setitem(SQLITE_PRAGMAS, 'wal_autocheckpoint', 100)
    path = tmp_path / 'steady.db'
    open_database(f'sqlite:///{path}')
    for round_ in range(60):
        add_events(*(event(target=f'nb-{round_}-{n}', description=f'Started notebook nb-{round_}-{n} ' * 3)
                     for n in range(50)))
    largest = path.with_name(path.name + '-wal').stat().st_size // 4096  # a log file keeps its largest size
    assert largest < 500



def test_a_log_grown_by_a_large_transaction_is_cut_back_once_checkpointed(database_url, store_events):
    """A part of a large seed or import grows the log; after its checkpoint the file shrinks to the limit
    instead of keeping that size for good (without the limit it stays at its largest)."""
    open_database(database_url)
    log = Path(f'{sqlite_path(database_url)}-wal')
    limit = 64 * 1024
    with database.connection_context():
        assert database.execute_sql('PRAGMA main.journal_size_limit').fetchone()[0] == WAL_SIZE_LIMIT
        assert database.execute_sql('PRAGMA search.journal_size_limit').fetchone()[0] == WAL_SIZE_LIMIT
        database.execute_sql(f'PRAGMA main.journal_size_limit = {limit}')  # the writer's, smaller for the test
        store_events(3000)
        grown = log.stat().st_size
        database.execute_sql('PRAGMA main.wal_checkpoint(PASSIVE)')
        store_events(1)  # the first write after a complete checkpoint starts the log again, cut to the limit
    assert grown > 16 * limit
    assert log.stat().st_size <= 4 * limit
