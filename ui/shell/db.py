"""Running store functions off NiceGUI's event loop, each with its thread's own connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from nicegui import run

from store.engine.db import with_connection

T = TypeVar('T')


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`await call(store_function, ...)`: the store function runs in a worker thread.

    NiceGUI answers None instead of running the call while the app stops (3.x; 4.0 raises CancelledError
    there): the result travels in a 1-tuple, so a store function's own None is told apart, and a call the
    app did not run is cancelled rather than answered with a None the caller would take for a result.
    """
    boxed = await run.io_bound(_boxed, fn, *args, **kwargs)
    if boxed is None:
        raise asyncio.CancelledError('the app is stopping: the store call did not run')
    return boxed[0]


def _boxed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T]:
    return (with_connection(fn, *args, **kwargs),)


def call_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """For code that already runs in a worker thread (FastAPI's sync routes)."""
    return with_connection(fn, *args, **kwargs)
