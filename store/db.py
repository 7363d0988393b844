"""The database connection: opened from a URL, shared through one proxy."""

from __future__ import annotations

import contextlib
import heapq
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import peewee
from playhouse import db_url
from playhouse.pool import PooledDatabase, PooledPostgresqlDatabase, PooledSqliteDatabase

from store.wal import FALLBACK_PAGES, Checkpointer

database = peewee.DatabaseProxy()
T = TypeVar('T')
log = logging.getLogger(__name__)

SQLITE_PRAGMAS = {
    'journal_mode': 'wal',
    'busy_timeout': 10000,
    'foreign_keys': 1,
    'synchronous': 'normal',
    'cache_size': -65536,
    'wal_autocheckpoint': FALLBACK_PAGES,  # the background checkpoints do the rest (store/wal.py)
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

    Each store call in the app runs in a worker thread that takes a connection for the call only (ui/db.py).
    A new connection starts with an empty cache and reads every page it needs from the operating system:
    measured at 1,000,000 events, a search for 'notebook' with its total took 54 ms on a new connection
    against 41 on a used one (counted in one pass). Connections go back to a pool instead, and are shared
    by threads one at a time; at most IDLE_CONNECTIONS stay open unused (each may hold up to `cache_size`
    of pages).
    """

    def __init__(self, path: str, map_mib: int = 0) -> None:
        from store.search_file import Indexer

        pragmas = {**SQLITE_PRAGMAS, 'mmap_size': map_mib * 2**20} if map_mib else SQLITE_PRAGMAS
        super().__init__(path, pragmas=pragmas, check_same_thread=False, max_connections=None)
        self.map_bytes = map_mib * 2**20
        self.checkpointer = Checkpointer(Path(path))
        self.indexer = Indexer(self)

    def _add_conn_hooks(self, conn: Any) -> None:
        from store import search_file

        super()._add_conn_hooks(conn)
        search_file.attach(conn, self.database, self.map_bytes)

    def close_idle(self) -> None:
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
        with peewee.__exception_wrapper__:
            cursor.execute(sql.replace('%', '%%').replace('?', '%s'), params)
        return cursor

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self.cursor() as cursor:
            cursor.executemany(sql.replace('%', '%%').replace('?', '%s'), rows)


class StoreError(Exception):
    """A problem the person at the keyboard can fix; its message is one clear line."""


def sqlite_path(url: str) -> Path | None:
    """The file of an sqlite:/// URL, or None for any other engine."""
    parsed = urlparse(url)
    if parsed.scheme not in {'sqlite', 'sqlite+pool'}:
        return None
    path = parsed.path[1:] if parsed.path.startswith('/') else parsed.path
    if not path or path == ':memory:':
        raise StoreError('an SQLite URL needs a file: sqlite:///data/audit.db (in-memory databases are not shared)')
    return Path(path)


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
    from store import schema, search_file

    if database.obj is not None and getattr(database.obj, 'audit_url', None) == url:
        return database.obj
    if isinstance(database.obj, PooledDatabase):
        database.obj.close_idle()
    path = sqlite_path(url)
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = SqliteStore(str(path), map_mib)
        elif urlparse(url).scheme in {'postgresql', 'postgres'}:
            db = PostgresStore(**db_url.parse(url))
        else:
            db = db_url.connect(url)
    except (ValueError, RuntimeError, peewee.ImproperlyConfigured) as exc:
        raise StoreError(f'cannot use database URL {redact(url)}: {exc}') from exc
    db.audit_url = url
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
        database.obj.indexer.stop()
        _index_the_rest()
    if database.obj is not None and not database.is_closed():
        database.close()
    if isinstance(database.obj, PooledDatabase):
        database.obj.close_idle()


def _index_the_rest() -> None:
    """What a command stored is searchable from the index when it ends; a file removed or locked meanwhile is
    left to the next open, which indexes whatever is missing."""
    from store import search_file

    try:
        with connection():
            search_file.index_all()
    except (peewee.DatabaseError, sqlite3.Error) as exc:
        log.warning('indexing the last events for the search failed: %s', exc)


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


PROGRESS_STEPS = 20_000  # virtual machine steps between checks of the clock (about a millisecond)


_other_ways = ThreadPoolExecutor(max_workers=2, thread_name_prefix='other-way')


def first_done(here: Callable[[], T], elsewhere: Callable[[], T], seconds: float, head_start: float) -> T:
    """SQLite: the result of `here`, run on this thread's connection, or of `elsewhere`, whichever is done first.

    For a plan that is usually fast but has no bound (a walk in some order that stops at a page's worth of
    matches) beside one that has (finding every match and sorting them). Once `here` has run for `head_start`
    seconds, `elsewhere` starts on another pooled connection, on another core; `here` is stopped when
    `elsewhere` is done, or after `seconds`. A page then costs about the quicker of the two, where trying
    one after the other cost up to twice that. Inside a transaction, whose writes another connection would
    not see, `elsewhere` runs on this connection once `here` is out of time.
    """
    raw = database.connection()
    started = time.perf_counter()
    stop = threading.Event()
    other: Future | None = None
    alone = not database.in_transaction()

    def check() -> bool:
        nonlocal other
        elapsed = time.perf_counter() - started
        if other is None and alone and elapsed >= head_start:
            other = _other_ways.submit(with_connection, _until, stop, elsewhere)
        return elapsed > seconds or (other is not None and other.done() and other.exception() is None)

    raw.set_progress_handler(check, PROGRESS_STEPS)
    interrupted = False
    try:
        return here()
    except (peewee.OperationalError, sqlite3.OperationalError) as exc:  # the latter from fetching rows
        if 'interrupted' not in str(exc):
            raise
        interrupted = True
    finally:
        raw.set_progress_handler(None, 0)
        if not interrupted:
            stop.set()
    if other is None or other.cancel():  # not begun: in a transaction, or all helpers busy
        return elsewhere()
    return other.result()


def _until(stop: threading.Event, fn: Callable[[], T]) -> T:
    """`fn()` on this thread's connection, interrupted once `stop` is set."""
    raw = database.connection()
    raw.set_progress_handler(stop.is_set, PROGRESS_STEPS)
    try:
        return fn()
    finally:
        raw.set_progress_handler(None, 0)


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that takes the write lock at once.

    SQLite: deferred transactions that later write lose rows to 'database is locked' under
    concurrent writers (measured: 2,480 of 8,000); a write as the first statement waits for the lock instead.
    BEGIN IMMEDIATE would too, but it locks every attached file, so the search index's (store/search_file.py)
    as well, and an append would wait for the indexer.
    PostgreSQL: a transaction-scoped advisory lock, shared by every app instance on the database,
    so the chain head is read and extended by one writer at a time.
    """
    if is_sqlite():
        with database.atomic():
            database.execute_sql(_CLAIM_WRITE)
            yield
        if isinstance(database.obj, SqliteStore):
            database.obj.checkpointer.committed()
            database.obj.indexer.committed()
        return
    with database.atomic():
        database.execute_sql('SELECT pg_advisory_xact_lock(?)', (WRITE_LOCK,))
        yield


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


_CLAIM_WRITE = 'DELETE FROM main.meta WHERE 0'  # changes nothing; takes the database's write lock
WRITE_LOCK = 0x41554449  # any constant every instance shares ("AUDI")


def insert_id(sql: str, params: tuple | list) -> int:
    """Run an INSERT into a table with an `id` key and return the new row's id."""
    if is_sqlite():
        return database.execute_sql(sql, params).lastrowid
    return database.execute_sql(f'{sql} RETURNING id', params).fetchone()[0]


def stream(sql: str, params: tuple | list = ()) -> Any:
    """A cursor over a large result that does not load it whole (close it when done)."""
    if is_sqlite():
        return database.execute_sql(sql, params)
    return database.obj.stream(sql, params)


def executemany(sql: str, rows: list[tuple]) -> None:
    if is_sqlite():
        database.cursor().executemany(sql, rows)
    else:
        database.obj.executemany(sql, rows)


@contextlib.contextmanager
def connection() -> Iterator[None]:
    """Open (and afterwards close) this thread's connection unless one is open already."""
    if database.is_closed():
        with database.connection_context():
            yield
    else:
        yield


def with_connection(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` on this thread's connection, opened for the call unless one is open already."""
    with connection():
        return fn(*args, **kwargs)


def redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f':{parsed.password}@', ':***@')
    return url


@contextlib.contextmanager
def read_snapshot() -> Iterator[None]:
    """Reads that all see one state of the database, whatever is committed meanwhile.

    SQLite in WAL mode: a deferred transaction, whose first read fixes the snapshot. PostgreSQL: a
    REPEATABLE READ transaction. Inside a transaction already, that one's view is used.
    """
    if database.in_transaction():
        yield
        return
    with database.atomic():
        if not is_sqlite():
            database.execute_sql('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY')
        yield
