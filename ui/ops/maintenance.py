"""Store upkeep the app does in the background while it serves: filling the sort tables when idle."""

from __future__ import annotations

import asyncio
import logging

from nicegui import app, background_tasks

from store.derived import sort_index
from ui.shell import db

CHECK_SECONDS = 2.0
log = logging.getLogger(__name__)


async def _fill_sort_tables() -> None:
    """Every few seconds, fill the sort tables' tail if no event arrived since the last look
    (store/derived/sort_index.py)."""
    seen = None
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        try:
            seen, filled = await db.call(sort_index.flush_when_idle, seen)
        except Exception:  # e.g. the database went away: the next round tries again; reads stay exact meanwhile
            log.exception('filling the sort tables failed')
            continue
        if filled:
            log.info('sort tables: %s events filled', f'{filled:,}')


def register() -> None:
    app.on_startup(lambda: background_tasks.create(_fill_sort_tables(), name='fill sort tables'))
