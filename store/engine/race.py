"""Two ways to the same page, the quicker one taken: `first_done` on either engine.

SQLite stops a statement from its progress handler (`_sqlite_first_done`). PostgreSQL has no such hook in
the client, but a running statement can be cancelled from another thread (libpq's cancel request): here the
way on this thread's connection runs inside a savepoint, the other way on another pooled connection, and a
watcher thread cancels whichever is still running when the other is done or time is up. A cancelled way
raises in its own thread and its savepoint is rolled back, so a transaction around the call goes on.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import peewee

from store.engine.db import connection, database, is_sqlite, with_connection

T = TypeVar('T')

PROGRESS_STEPS = 20_000  # virtual machine steps between checks of the clock (about a millisecond)

_other_ways = ThreadPoolExecutor(max_workers=2, thread_name_prefix='other-way')
_other_ways_pg = ThreadPoolExecutor(max_workers=2, thread_name_prefix='other-way-pg')
_watchers = ThreadPoolExecutor(max_workers=8, thread_name_prefix='race-watch')  # one per race under way


def first_done(here: Callable[[], T], elsewhere: Callable[[], T], seconds: float, head_start: float) -> T:
    """The result of `here` (run on this thread's connection) or of `elsewhere`, whichever is done first: once
    `here` has run for `head_start` seconds, `elsewhere` starts on another connection; `here` is stopped when
    `elsewhere` is done, or after `seconds`. Inside a transaction, whose writes another connection would not
    see, `elsewhere` runs on this connection once `here` is out of time."""
    if is_sqlite():
        return _sqlite_first_done(here, elsewhere, seconds, head_start)
    return _Race(here, elsewhere, seconds, head_start).run()


class _Cancellable:
    """A connection whose running statement may be cancelled, until the way using it is over: a cancel request
    never reaches a statement of whoever takes the connection from the pool next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: Any = None
        self._over = False

    def begin(self, raw: Any) -> bool:
        with self._lock:
            if self._over:
                return False
            self._raw = raw
            return True

    def end(self) -> None:
        with self._lock:
            self._raw, self._over = None, True

    def cancel(self) -> None:
        with self._lock:
            if self._raw is not None and not self._over:
                self._raw.cancel()
            self._over = True


class _Race:
    def __init__(self, here: Callable[[], Any], elsewhere: Callable[[], Any], seconds: float,
                 head_start: float) -> None:
        self.here, self.elsewhere = here, elsewhere
        self.seconds, self.head_start = seconds, head_start
        self.alone = not database.in_transaction()
        self.here_way, self.other_way = _Cancellable(), _Cancellable()
        self.wake = threading.Event()  # `here` ended, or the other way did
        self.other: Future | None = None

    def run(self) -> Any:
        self.here_way.begin(database.connection())
        watcher = _watchers.submit(self._watch, time.perf_counter())
        cancelled = False
        try:
            with database.atomic():  # a savepoint inside a transaction: a cancel rolls back this way only
                return self.here()
        except peewee.OperationalError as exc:
            if 'canceling statement' not in str(exc):
                raise
            cancelled = True
        finally:
            self.here_way.end()
            self.wake.set()
            watcher.result()
            if not cancelled:
                self.other_way.cancel()
        if self.other is None or self.other.cancel():  # not begun: in a transaction, or all helpers busy
            return self.elsewhere()
        return self.other.result()

    def _watch(self, started: float) -> None:
        if self.wake.wait(self.head_start):
            return
        if self.alone:
            self.other = _other_ways_pg.submit(self._elsewhere)
            self.other.add_done_callback(self._other_done)
        self.wake.wait(max(0.0, started + self.seconds - time.perf_counter()))
        self.here_way.cancel()  # done already (ignored) or out of time, or the other way is done

    def _other_done(self, other: Future) -> None:
        if not other.cancelled() and other.exception() is None:
            self.wake.set()

    def _elsewhere(self) -> Any:
        with connection():
            if not self.other_way.begin(database.connection()):
                raise _Stopped
            try:
                return self.elsewhere()
            finally:
                self.other_way.end()


class _Stopped(Exception):
    """The other way was not needed any more before it began."""


def _sqlite_first_done(here: Callable[[], T], elsewhere: Callable[[], T], seconds: float, head_start: float) -> T:
    """The result of `here`, run on this thread's connection, or of `elsewhere`, whichever is done first.

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
