"""Readiness: named checks of what the server needs to do its work, each answered within a bound.

A check is a function that returns None when all is well, else a short reason (no secrets: it is served to
anyone who asks). Any part of the app registers its own (`register('streams', check)`); `run_checks` runs
them side by side, each in a thread of its own, and a check that has not answered within the bound counts as
failed. A check still running from an earlier call is waited for again, not started twice, so a database
that hangs ties up one thread per check, not one per probe.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_futures
from pathlib import Path

import peewee

from store.engine.db import database, with_connection
from store.engine.pools import SqliteStore
from store.lifecycle import schema

Check = Callable[[], str | None]
BOUND_SECONDS = 1.0  # the longest a check may take before it counts as failed

log = logging.getLogger(__name__)

_checks: dict[str, Check] = {}
_running: dict[str, Future] = {}
_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix='readiness')


def register(name: str, check: Check) -> None:
    """Add (or replace) the check called `name`."""
    with _lock:
        _checks[name] = check


def unregister(name: str) -> None:
    with _lock:
        _checks.pop(name, None)


def names() -> list[str]:
    with _lock:
        return list(_checks)


def run_checks(bound: float = BOUND_SECONDS) -> dict[str, str | None]:
    """Every registered check's answer: None when it passed, else why not."""
    with _lock:
        futures = {name: _running.get(name) or _pool.submit(_answer, check) for name, check in _checks.items()}
        _running.update(futures)
    wait_futures(list(futures.values()), timeout=bound)
    answers: dict[str, str | None] = {}
    for name, future in futures.items():
        try:
            answers[name] = future.result(timeout=0)
        except FutureTimeout:
            answers[name] = f'no answer within {bound:g} s'
            continue
        with _lock:
            if _running.get(name) is future:
                del _running[name]
    return answers


def _answer(check: Check) -> str | None:
    try:
        return check()
    except Exception as exc:  # a check that raises has failed; its reason is the exception's first line
        return _first_line(exc)


# ---- the store's own checks ----

def database_answers() -> str | None:
    """The database answers a query and its schema is the one this release writes.

    SQLite reads through a new connection to the file, since a pooled one keeps a moved or deleted file open;
    PostgreSQL through the pool, which checks a kept connection with a round trip before handing it out."""
    store = database.obj
    if store is None:
        return 'the database is not open'
    if isinstance(store, SqliteStore):
        return _sqlite_answers(store.database)
    try:
        version = with_connection(_schema_version)
    except peewee.DatabaseError as exc:
        return _unreachable(exc)
    return _schema_reason(version)


def _sqlite_answers(path: str) -> str | None:
    try:
        conn = sqlite3.connect(f'{Path(path).resolve().as_uri()}?mode=rw', uri=True, timeout=BOUND_SECONDS)
    except sqlite3.Error as exc:
        return _unreachable(exc)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        return _unreachable(exc)
    finally:
        conn.close()
    return _schema_reason(int(row[0]) if row else 0)


_last_logged = ''


def _unreachable(exc: BaseException) -> str:
    """The public reason; the error itself (which may name hosts and paths) goes to the log, once a change."""
    global _last_logged
    detail = _first_line(exc)
    if detail != _last_logged:
        _last_logged = detail
        log.warning('readiness: the database does not answer: %s', detail)
    return 'the database does not answer'


def _schema_version() -> int:
    row = database.execute_sql("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _schema_reason(version: int) -> str | None:
    if version != schema.LATEST:
        return f'the schema is at version {version}, this release needs {schema.LATEST}'
    return None


def background_threads_alive() -> str | None:
    """SQLite: the search indexer and the checkpointer (store/derived/search_file.py, store/engine/wal.py)
    have not died."""
    store = database.obj
    if not isinstance(store, SqliteStore):
        return None
    dead = [name for name, thread in (('search indexer', store.indexer), ('checkpointer', store.checkpointer))
            if thread is None or not thread.alive()]
    return f'stopped: {", ".join(dead)}' if dead else None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


register('database', database_answers)
register('background', background_threads_alive)
