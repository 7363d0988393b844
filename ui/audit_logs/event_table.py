"""The events table: one page at a time from the server, sorted by the server, newest response wins."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from nicegui import ui

from store.engine.timefmt import display
from store.read.events import SORTABLE, EventPage, Sort
from ui.shell import theme

log = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
COLUMNS = (('timestamp', 'Timestamp'), ('user', 'User'), ('scope', 'Scope'), ('category', 'Category'),
           ('action', 'Action'), ('target', 'Target'), ('status', 'Status'), ('description', 'Description'))

# Quasar's footer reads "1-50 of 12345"; the page shows the exact total with thousands separators.
PAGINATION_LABEL = ("(first, last, total) => first.toLocaleString('en-US') + '-' + last.toLocaleString('en-US')"
                    " + ' of ' + total.toLocaleString('en-US')")
TRUNCATED = ('user', 'action', 'target', 'description')
# Fixed column widths that fit all eight columns in the page beside the sidebar at 1280 px; Description
# takes what is left. Below the table's minimum width (a phone) the table scrolls sideways in its own box.
WIDTHS = {'timestamp': '10.25rem', 'user': '8rem', 'scope': '6.25rem', 'category': '7rem', 'action': '7.5rem',
          'target': '6.5rem', 'status': '5.5rem'}
TABLE_CLASS = 'events-table'
# Rows a live refresh brought carry `fresh` for a few seconds; the class fades their background in CSS.
ROW_CLASS = "row => row.fresh ? 'row-fresh' : ''"
FRESH_SECONDS = 8
PROGRESS_AFTER = 0.15  # seconds a load runs before the loading bar shows (a quicker one sends no update for it)
TABLE_CSS = f"""
.q-table tbody tr.row-fresh td {{ animation: row-fresh 6s ease-out; }}
@keyframes row-fresh {{ from {{ background-color: rgba(250, 204, 21, 0.5); }} to {{ background-color: transparent; }} }}
.{TABLE_CLASS} table {{ table-layout: fixed; width: 100%; min-width: 54rem; }}
.{TABLE_CLASS} th, .{TABLE_CLASS} td {{ white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  padding-left: 8px; padding-right: 8px; }}
.{TABLE_CLASS} tbody tr {{ cursor: pointer; }}
.{TABLE_CLASS} tbody tr:focus-visible {{ outline: 2px solid var(--q-primary); outline-offset: -2px; }}
"""
# Keyboard: each row is a tab stop, and Enter on a focused row opens its detail as a click does.
ROW_KEYS_JS = f"""<script>
new MutationObserver(() => {{
  document.querySelectorAll('.{TABLE_CLASS} tbody tr:not([tabindex])').forEach((row) => {{ row.tabIndex = 0; }});
}}).observe(document.body, {{childList: true, subtree: true}});
document.addEventListener('keydown', (e) => {{
  if (e.key !== 'Enter' || !e.target.matches || !e.target.matches('.{TABLE_CLASS} tbody tr')) return;
  e.preventDefault();
  e.target.click();
}});
</script>"""

Fetch = Callable[[Sort, int, int], Awaitable[EventPage | None]]
OnSelect = Callable[[dict[str, Any]], None]


def columns(timezone_name: str) -> list[dict[str, Any]]:
    result = [{'name': name, 'label': label, 'field': name, 'sortable': True, 'align': 'left',
               'headerStyle': f'width: {WIDTHS[name]}' if name in WIDTHS else ''}
              for name, label in COLUMNS]
    result[0]['tooltip'] = f'Shown in time zone {timezone_name}'
    return result


def table_row(event: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """What the browser gets for one event: the eight columns as text, keyed by seq."""
    row = {name: event[name] for name, _ in COLUMNS}
    row['timestamp'] = display(event['timestamp'], tz)
    row['seq'] = event['seq']
    return row


class EventsQTable(ui.table, component='events_table.js'):
    """A ui.table whose header and cell templates are part of its component (events_table.js), compiled once.

    Given as slots, NiceGUI made each templated cell anew whenever the page drew, and it draws the whole page on
    every update of any element. Measured at 1M events, the browser's time for a search's first update (the
    filter bar) went from 60-80 ms to 12-47 ms, and keyword + Enter (bench_page --keywords, side by side) from
    p50 190 / p95 334 ms to 125 / 212 ms.
    """


def read_pagination(pagination: dict[str, Any]) -> tuple[Sort, int, int]:
    """(sort, page, page size) from Quasar's pagination, with anything unexpected replaced by a default."""
    column = pagination.get('sortBy')
    column = column if column in SORTABLE else 'timestamp'
    descending = pagination.get('descending')
    sort = Sort(column, True if descending is None else bool(descending))
    size = pagination.get('rowsPerPage')
    size = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
    page = pagination.get('page')
    page = page if isinstance(page, int) and page >= 1 else 1
    return sort, page, size


class EventTable:
    """A QTable in server-side mode; `fetch(sort, offset, limit)` returns the page or None to show nothing new."""

    def __init__(self, fetch: Fetch, tz: ZoneInfo, first: EventPage, sort: Sort = Sort(),
                 page_size: int = DEFAULT_PAGE_SIZE, on_select: OnSelect | None = None) -> None:
        self._fetch = fetch
        self._tz = tz
        self._generation = 0
        self._loading = False
        self._fresh_until: dict[int, float] = {}
        self._on_select = on_select
        self.events: dict[int, dict[str, Any]] = {}
        pagination = {'page': 1, 'rowsPerPage': page_size, 'sortBy': sort.column, 'descending': sort.descending,
                      'rowsNumber': first.total}
        with ui.element('div').classes('relative w-full'):
            # the table's own `loading` prop would send the whole table (its rows too) and have the browser draw
            # it again, before and after each load
            self.progress = ui.linear_progress(show_value=False, size='2px') \
                .props('indeterminate track-color=transparent').classes('absolute top-0 left-0 z-10') \
                .mark('loading')
            self.progress.set_visibility(False)
            self.table = EventsQTable(rows=self._rows(first), columns=columns(tz.key), row_key='seq',
                                      pagination=pagination).classes(f'w-full {TABLE_CLASS}').mark('events')
        self.table.props['rows-per-page-options'] = list(PAGE_SIZES)
        self.table.props[':pagination-label'] = PAGINATION_LABEL
        self.table.props[':table-row-class-fn'] = ROW_CLASS
        self.table.props('binary-state-sort flat bordered')
        self.table.props['status-colors'] = {status: theme.STATUS_COLORS[status] for status in ('SUCCESS', 'FAILED')}
        self.table.props['truncated'] = list(TRUNCATED)
        self.table.on('request', lambda e: self.load(e.args.get('pagination') or {}))
        self.table.on('rowClick', lambda e: self.select(e.args[1].get('seq')), [[], ['seq'], None])

    @property
    def sort(self) -> Sort:
        return read_pagination(self.table.pagination)[0]

    @property
    def page(self) -> int:
        return read_pagination(self.table.pagination)[1]

    @property
    def page_size(self) -> int:
        return read_pagination(self.table.pagination)[2]

    @property
    def total(self) -> int:
        return int(self.table.pagination.get('rowsNumber') or 0)

    @property
    def busy(self) -> bool:
        """A page, sort or filter change is still loading."""
        return self._loading

    def _rows(self, page: EventPage, mark_new: bool = False) -> list[dict[str, Any]]:
        now = time.monotonic()
        if mark_new:
            for event in page.events:
                if event['seq'] not in self.events:
                    self._fresh_until[event['seq']] = now + FRESH_SECONDS
        self._fresh_until = {seq: until for seq, until in self._fresh_until.items() if until > now}
        self.events = {event['seq']: event for event in page.events}
        rows = [table_row(event, self._tz) for event in page.events]
        for row in rows:
            if row['seq'] in self._fresh_until:
                row['fresh'] = True
        return rows

    async def load(self, pagination: dict[str, Any] | None = None, *, first_page: bool = False,
                   mark_new: bool = False, on_rows: Callable[[], None] | None = None) -> None:
        """Fetch the page that `pagination` asks for (default: the current one) and show it, unless a
        newer load started meanwhile: then this response is dropped. `mark_new` highlights the rows that
        were not on the page before (a live refresh, which shows no loading bar); `on_rows` runs just before
        the rows are shown."""
        sort, page, size = read_pagination({**self.table.pagination, **(pagination or {})})
        if first_page:
            page = 1
        self._generation += 1
        generation = self._generation
        self._loading = True
        progress = None if mark_new else \
            asyncio.get_running_loop().call_later(PROGRESS_AFTER, self._show_progress, generation)
        try:
            result = await self._fetch(sort, (page - 1) * size, size)
            if generation == self._generation and result is not None and not result.events and page > 1:
                page = max(1, math.ceil(result.total / size))  # the view shrank below this page: show its last
                result = await self._fetch(sort, (page - 1) * size, size)
        except Exception:
            log.exception('loading events failed')
            if generation == self._generation:
                ui.notify('Could not load events. Try Refresh.', type='negative')
            result = None
        finally:
            if progress is not None:
                progress.cancel()
            if generation == self._generation:
                self._loading = False
                self.progress.set_visibility(False)
        if generation != self._generation or result is None:
            return
        if on_rows is not None:
            on_rows()
        self.table.rows = self._rows(result, mark_new)
        self.table.pagination = {'page': page, 'rowsPerPage': size, 'sortBy': sort.column,
                                 'descending': sort.descending, 'rowsNumber': result.total}

    def _show_progress(self, generation: int) -> None:
        if generation == self._generation and self._loading:
            self.progress.set_visibility(True)

    def select(self, seq: Any) -> None:
        event = self.events.get(seq) if isinstance(seq, int) else None
        if event is not None and self._on_select is not None:
            self._on_select(event)
