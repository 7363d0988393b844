"""Readers in progress, per process: the doors' reads (a page, a count, the chart, an API page) mark themselves,
so that work that can wait yields to them.

A stream catching up a backlog keeps a core and the GIL busy; the app's reads share that process, so a page
read during a catch-up took half as long again (at 1M events: 'failed' 95 ms against 65 ms quiet). A catching-up
deliverer (store/streams/delivery.py) calls `wait_for_readers` between batches: it starts its next batch once no
read has been in progress for a short quiet spell, or after a longest wait, so nonstop reading slows a catch-up
but never stops it. Reads in other processes (another app instance) are not seen. This serves delivery in the
server's own threads (AUDIT_STREAM_DELIVERY=thread); the server's delivery process runs at idle CPU priority
instead (cli/delivery.py).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec('P')
R = TypeVar('R')

_changed = threading.Condition()
_reading = 0  # reads in progress
_last_end = float('-inf')  # time.monotonic() when the last read ended
_waiting = 0  # callers of wait_for_readers waiting now
POLL_SECONDS = 0.05  # how often a waiter looks at its stop event


@contextmanager
def reading() -> Iterator[None]:
    """Mark a read in progress for its duration (nested and concurrent reads are counted)."""
    global _reading, _last_end
    with _changed:
        _reading += 1
    try:
        yield
    finally:
        with _changed:
            _reading -= 1
            _last_end = time.monotonic()
            _changed.notify_all()


def marks_read(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a reader's function so that each call is marked as a read in progress."""
    @functools.wraps(fn)
    def marked(*args: P.args, **kwargs: P.kwargs) -> R:
        with reading():
            return fn(*args, **kwargs)
    return marked


def wait_for_readers(stop: threading.Event, quiet: float, longest: float) -> bool:
    """Wait until no read has been in progress for `quiet` seconds, for at most `longest` seconds, or until
    `stop` is set. True when it waited (a read was in progress or recent)."""
    global _waiting
    deadline = time.monotonic() + longest
    waited = False
    with _changed:
        _waiting += 1
        try:
            while not stop.is_set():
                now = time.monotonic()
                still = quiet - (now - _last_end)
                if (_reading == 0 and still <= 0) or now >= deadline:
                    break
                waited = True
                _changed.wait(min(POLL_SECONDS, deadline - now, still if _reading == 0 else POLL_SECONDS))
        finally:
            _waiting -= 1
    return waited


def last_read_ended() -> float:
    """When (time.monotonic()) the last marked read ended; -inf before any."""
    with _changed:
        return _last_end


def waiting() -> int:
    """How many callers are waiting for readers now (what a test observes)."""
    with _changed:
        return _waiting
