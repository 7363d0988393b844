"""Two ways to read one result, raced: the quicker one answers (SQLite)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import peewee

from store.engine.db import database, with_connection

T = TypeVar('T')

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
