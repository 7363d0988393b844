"""The two engines' connection pools: SQLite with its pragmas and page caches kept, PostgreSQL running the
store's SQL as written."""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import peewee
from playhouse import db_url
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase, PooledSqliteDatabase

from store.engine.background import WokenThread
from store.engine.db import StoreError, database, redact, sqlite_path
from store.engine.wal import FALLBACK_PAGES, Checkpointer

WAL_SIZE_LIMIT = 64 * 2**20
SQLITE_PRAGMAS = {
    'journal_mode': 'wal',
    'busy_timeout': 10000,
    'foreign_keys': 1,
    'synchronous': 'normal',
    'cache_size': -65536,
    'wal_autocheckpoint': FALLBACK_PAGES,  # the background checkpoints do the rest (store/engine/wal.py)
    # A log grown by a large transaction (a part of a seed or an import) is cut back to this once checkpointed,
    # instead of keeping its largest size on disk for good.
    'journal_size_limit': WAL_SIZE_LIMIT,
}


class _FewIdle(PooledDatabase):
    """A pool that keeps at most IDLE_CONNECTIONS open unused, the oldest: they were used the most."""

    IDLE_CONNECTIONS = 4

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        super()._close(conn, close_conn)
        with self._pool_lock:
            if len(self._connections) > self.IDLE_CONNECTIONS:
                self._connections.sort()
                for _, _, extra in self._connections[self.IDLE_CONNECTIONS:]:
                    self._close_raw(extra)
                del self._connections[self.IDLE_CONNECTIONS:]
                heapq.heapify(self._connections)


class SqliteStore(_FewIdle, PooledSqliteDatabase):
    """SQLite whose connections outlive the calls that use them, and with them their page caches.

    Each store call in the app runs in a worker thread that takes a connection for the call only (ui/shell/db.py).
    A new connection starts with an empty cache and reads every page it needs from the operating system:
    measured at 1,000,000 events, a search for 'notebook' with its total took 54 ms on a new connection
    against 41 on a used one (counted in one pass). Connections go back to a pool instead, and are shared
    by threads one at a time; at most IDLE_CONNECTIONS stay open unused (each may hold up to `cache_size`
    of pages).

    The engine knows nothing of what is built on it: whoever opens the store (store/lifecycle/opening.py)
    adds `on_connect` hooks (the search index's file is attached to every connection) and the `indexer`
    thread that a commit wakes, before the first connection is made.
    """

    def __init__(self, path: str, map_mib: int = 0) -> None:
        pragmas = {**SQLITE_PRAGMAS, 'mmap_size': map_mib * 2**20} if map_mib else SQLITE_PRAGMAS
        super().__init__(path, pragmas=pragmas, check_same_thread=False, max_connections=None)
        self.map_bytes = map_mib * 2**20
        self.checkpointer = Checkpointer(Path(path))
        self.indexer: WokenThread | None = None
        self.on_connect: list[Callable[[Any], None]] = []

    def _add_conn_hooks(self, conn: Any) -> None:
        super()._add_conn_hooks(conn)
        for hook in self.on_connect:
            hook(conn)

    def committed(self) -> None:
        """Wake the threads that follow the commits: the checkpointer and the indexer."""
        self.checkpointer.committed()
        if self.indexer is not None:
            self.indexer.committed()

    def close_idle(self) -> None:
        if self.indexer is not None:
            self.indexer.stop()
        super().close_idle()
        self.checkpointer.stop()


class PostgresStore(_FewIdle, PooledPostgresqlDatabase):
    """PostgreSQL that runs the store's SQL as written (`?` placeholders, `%` as itself), on pooled connections.

    Every statement of the store passes through here, so one spelling of each query serves both
    engines (none of them has a `?` inside a string literal). Opening a connection costs about 2 ms on
    loopback (a new server process), a few times per filter change. Peewee's pool checks a connection with
    a round trip before handing it out again, so a server restarted or a session ended meanwhile costs a
    new connection, not a failed request.
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(max_connections=None, **params)

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        return super().execute_sql(sql.replace('%', '%%').replace('?', '%s'), params)

    def stream(self, sql: str, params: Any = ()) -> Any:
        """A server-side cursor: a large read arrives in chunks instead of all at once."""
        cursor = self.connection().cursor(name=f'audit_{uuid.uuid4().hex}', withhold=True)
        cursor.itersize = 5000
        with peewee.__exception_wrapper__:  # type: ignore[attr-defined]  # peewee's own wrapper, not in its stubs
            cursor.execute(sql.replace('%', '%%').replace('?', '%s'), params)
        return cursor

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self.cursor() as cursor:
            cursor.executemany(sql.replace('%', '%%').replace('?', '%s'), rows)


def connect(url: str, map_mib: int = 0) -> peewee.Database:
    """A pool for `url`, not yet connected: SQLite (the file's folder is made), PostgreSQL, or what Peewee
    knows of another scheme; a StoreError names a URL that can't be used."""
    path = sqlite_path(url)
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            db: peewee.Database = SqliteStore(str(path), map_mib)
        elif urlparse(url).scheme in {'postgresql', 'postgres'}:
            db = PostgresStore(**db_url.parse(url))
        else:
            db = db_url.connect(url)
    except (ValueError, RuntimeError, peewee.ImproperlyConfigured) as exc:
        raise StoreError(f'cannot use database URL {redact(url)}: {exc}') from exc
    db.audit_url = url  # type: ignore[attr-defined]  # which URL the shared proxy is open on
    return db


def empty_log() -> None:
    """SQLite: copy the whole write-ahead log into the database file and empty it, e.g. before the file alone
    is copied. SQLite refuses a checkpoint while another runs, so the background one is stopped first (the
    next commit starts it again)."""
    if not isinstance(database.obj, SqliteStore):
        return
    database.obj.checkpointer.stop()
    busy, _, _ = database.execute_sql('PRAGMA main.wal_checkpoint(TRUNCATE)').fetchone()
    if busy:
        raise StoreError('the write-ahead log could not be emptied: a read or a checkpoint is under way')
