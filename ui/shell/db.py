"""Running store functions off NiceGUI's event loop, each with its thread's own connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from nicegui import run

from store.db import with_connection

T = TypeVar('T')


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`await call(store_function, ...)`: the store function runs in a worker thread."""
    return await run.io_bound(with_connection, fn, *args, **kwargs)


def call_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """For code that already runs in a worker thread (FastAPI's sync routes)."""
    return with_connection(fn, *args, **kwargs)
