"""Opening and closing the store: connect, bring the schema up to date, start the threads that keep derived
data in step (the search indexer; the checkpointer is the engine's own).

This sits at the top of the store because opening touches every layer below: the connection module
(store/engine/db.py) knows nothing of schema steps or indexes.
"""

from __future__ import annotations

import logging
import sqlite3

import peewee
from playhouse.pool import PooledDatabase

from store.derived import search_file
from store.engine.db import StoreError, connection, database, redact
from store.engine.pools import SqliteStore, connect
from store.lifecycle import schema
from store.streams import progress as stream_progress

log = logging.getLogger(__name__)


def open_database(url: str, map_mib: int = 0) -> peewee.Database:
    """Connect the store to `url` and bring its schema up to date.

    SQLite: with `map_mib`, each connection reads up to that much of the file through a memory map instead of a
    system call per page (the server's setting, AUDIT_SQLITE_MAP_MIB). Pages in the map are shared by every
    connection and come from the operating system's file cache, where a connection's own page cache holds
    64 MiB and is emptied whenever another connection writes. Measured at 1M events, a search for 'failed'
    with its total: 76 → 44 ms; with a write before each search, 'notebook' 42 → 29 ms. The mapped pages a
    process has read count in its resident memory, so the command line's commands (an export's memory is kept
    low) do not map.
    """
    if database.obj is not None and getattr(database.obj, 'audit_url', None) == url:
        return database.obj
    if isinstance(database.obj, PooledDatabase):
        database.obj.close_idle()
    db = connect(url, map_mib)
    if isinstance(db, SqliteStore):
        db.on_connect.append(lambda conn: search_file.attach(conn, db.database, db.map_bytes))
        db.on_connect.append(lambda conn: stream_progress.attach(conn, db.database))
        db.indexer = search_file.Indexer(db)
    database.initialize(db)
    try:
        with database.connection_context():
            schema.upgrade()
            if isinstance(db, SqliteStore):
                search_file.index_all()
    except peewee.OperationalError as exc:
        database.initialize(None)
        if isinstance(db, PooledDatabase):
            db.close_idle()
        raise StoreError(f'cannot open database {redact(url)}: {str(exc).strip()}') from exc
    return db


def close_database() -> None:
    """Index the events not yet in the search index, then close this thread's connection and the unused ones of
    the pool: a file replaced afterwards at the same path (a restored backup) is then read afresh, not through
    a connection to the file it replaced."""
    if isinstance(database.obj, SqliteStore):
        if database.obj.indexer is not None:
            database.obj.indexer.stop()
        _index_the_rest()
    if database.obj is not None and not database.is_closed():
        database.close()
    if isinstance(database.obj, PooledDatabase):
        database.obj.close_idle()


def _index_the_rest() -> None:
    """What a command stored is searchable from the index when it ends; a file removed or locked meanwhile is
    left to the next open, which indexes whatever is missing."""
    try:
        with connection():
            search_file.index_all()
    except (peewee.DatabaseError, sqlite3.Error) as exc:
        log.warning('indexing the last events for the search failed: %s', exc)
