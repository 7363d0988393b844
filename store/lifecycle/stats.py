"""Figures about the store for monitoring: its size on disk and how far the search index is behind."""

from __future__ import annotations

from pathlib import Path

from store.derived import search_file
from store.engine.db import database
from store.engine.pools import SqliteStore

SQLITE_FILES = ('', '-wal', '.search', '.search-wal')  # the database, its log, the search index's file and log


def database_bytes() -> int:
    """SQLite: the size of its files (the search index's included); PostgreSQL: pg_database_size."""
    store = database.obj
    if isinstance(store, SqliteStore):
        return sum(_size(Path(f'{store.database}{suffix}')) for suffix in SQLITE_FILES)
    return database.execute_sql('SELECT pg_database_size(current_database())').fetchone()[0]


def search_lag() -> int:
    """Events stored but not yet in the search index (SQLite); PostgreSQL indexes each event as it is inserted."""
    if not isinstance(database.obj, SqliteStore):
        return 0
    newest = database.execute_sql('SELECT coalesce(max(seq), 0) FROM main.event').fetchone()[0]
    return max(0, newest - search_file.indexed_upto())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
