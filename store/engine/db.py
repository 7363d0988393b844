"""The database connection: one proxy shared by the whole store, its transactions and the write lock.

The pools behind it are in store/engine/pools.py; opening a store (schema, indexer) is
store/lifecycle/opening.py.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import peewee

database = peewee.DatabaseProxy()
T = TypeVar('T')
log = logging.getLogger(__name__)


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


def found(value: T | None, what: str) -> T:
    """`value`, read back right after it was written in the same call; a StoreError names what went missing."""
    if value is None:
        raise StoreError(f'{what} was not found after it was written')
    return value


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """A transaction that takes the write lock at once.

    SQLite: deferred transactions that later write lose rows to 'database is locked' under
    concurrent writers (measured: 2,480 of 8,000); a write as the first statement waits for the lock instead.
    BEGIN IMMEDIATE would too, but it locks every attached file, so the search index's (store/derived/search_file.py)
    as well, and an append would wait for the indexer.
    PostgreSQL: a transaction-scoped advisory lock, shared by every app instance on the database,
    so the chain head is read and extended by one writer at a time.
    """
    if is_sqlite():
        with database.atomic():
            database.execute_sql(_CLAIM_WRITE)
            yield
        committed = getattr(database.obj, 'committed', None)
        if committed is not None:
            committed()
        return
    with database.atomic():
        database.execute_sql('SELECT pg_advisory_xact_lock(?)', (WRITE_LOCK,))
        yield


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
