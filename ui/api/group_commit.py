"""The API's store calls: on kept worker-thread connections, and appends stored by a group commit."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from store.engine.db import database
from store.write.ingest import AppendResult, Prepared, append_prepared

T = TypeVar('T')


def kept_connection(fn: Callable[..., T], *args: Any) -> T:
    """Run a store function on this worker thread's connection, opened once and kept for the next call.

    Opening one costs about 0.6 ms (pragmas, schema); the API's worker threads are few and long-lived.
    """
    if database.is_closed():
        database.connect()
    return fn(*args)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Store work in Starlette's thread pool (not NiceGUI's, which the pages use)."""
    return await run_in_threadpool(kept_connection, fn, *args)


class GroupCommit:
    """One writer at a time stores every request that is waiting, in one transaction (group commit).

    A request thread queues its prepared events and waits for the writer's turn. Whoever gets the turn
    takes the whole queue; the others find their request done when their turn comes. A commit costs
    about the same for one request or several, so under load this stores more events per second
    (measured: 44 ms per 1,000 events in the write transaction one request at a time, 34 ms four at
    a time). Each request stays all or nothing: if a shared transaction fails, each is retried alone.
    """

    MAX_GROUP = 8  # requests per transaction: bounds the time a transaction holds the database lock

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiting] = []

    def append(self, prepared: list[Prepared]) -> AppendResult:
        mine = _Waiting(prepared)
        with self._queue_lock:
            self._queue.append(mine)
        while not mine.done:
            with self._turn:
                if mine.done:
                    break
                with self._queue_lock:
                    group, self._queue = self._queue[:self.MAX_GROUP], self._queue[self.MAX_GROUP:]
                self._write(group)
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    @staticmethod
    def _write(group: list[_Waiting]) -> None:
        try:
            results = kept_connection(append_prepared, [waiting.prepared for waiting in group])
        except Exception:
            if len(group) == 1:
                group[0].finish(error=sys.exc_info()[1])
                return
            for waiting in group:  # one request's problem must not refuse the others
                GroupCommit._write([waiting])
            return
        for waiting, result in zip(group, results, strict=True):
            waiting.finish(result=result)


class _Waiting:
    __slots__ = ('prepared', 'result', 'error', 'done')

    def __init__(self, prepared: list[Prepared]) -> None:
        self.prepared = prepared
        self.result: AppendResult | None = None
        self.error: BaseException | None = None
        self.done = False

    def finish(self, result: AppendResult | None = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True


writer = GroupCommit()
