"""The Audit Logs page: the filter bar, the timeline, the events table, the event detail, live tail, and
the URL that carries the filters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from store.people.accounts import Account
from store.read.events import EventFilter, EventPage, Sort, Viewer, find_events, visible_users
from store.read.insight import Timeline, find_event, timeline, visible_workspaces
from ui.audit_logs import export_dialog
from ui.audit_logs.event_detail import EventDetail, event_link
from ui.audit_logs.event_table import DEFAULT_PAGE_SIZE, ROW_KEYS_JS, TABLE_CSS, EventTable
from ui.audit_logs.filter_bar import SEARCH_CLASS, FilterBar
from ui.audit_logs.filter_state import FilterState
from ui.audit_logs.timeline import TimelineChart
from ui.shell import db, session, theme
from ui.shell.config import config
from ui.shell.frame import frame

LIVE_SECONDS = 3.0
# A filter change shows the filter bar's widgets and chips with the table, or after this long if the load takes
# longer: NiceGUI has the browser draw the whole page for each update, and one update less made keyword + Enter
# at 1M events quicker (bench_page --keywords side by side: p95 250 -> 179 ms, a first search 212-253 -> 155-180).
SHOW_FILTERS_AFTER = 0.15
USER_OPTIONS = 200
# `/` outside a text field focuses the search; Esc closing the detail is the dialog's own behaviour
SLASH_FOCUSES_SEARCH = f"""<script>
document.addEventListener('keydown', (e) => {{
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
  const target = e.target;
  if (target.closest && target.closest('input, textarea, select, [contenteditable="true"], .q-dialog')) return;
  const input = document.querySelector('.{SEARCH_CLASS} input');
  if (!input) return;
  e.preventDefault();
  input.focus();
}});
</script>"""


class AuditLogsView:
    """One open page: its filter state, and the widgets that show and change it."""

    def __init__(self, account: Account, state: FilterState, first: EventPage, chart: Timeline,
                 workspaces: list[str], tz: ZoneInfo) -> None:
        self.account = account
        self.state = state
        self.client = ui.context.client
        self._filters_shown = state
        self._chart_generation = 0
        self.bar = FilterBar(state, self.apply, tz, workspaces, self.users)
        with self.bar.actions:
            self.live = ui.switch('Live', on_change=lambda e: self.set_live(bool(e.value))).mark('live') \
                .tooltip(f'Reload every {LIVE_SECONDS:g} s while on the first page')
            self.live_state = ui.label().classes('text-xs text-slate-500 dark:text-slate-400 w-40') \
                .mark('live-state')
            ui.button('Refresh', icon='refresh', on_click=self.refresh).props('outline')
            ui.button('Export', icon='download', on_click=self.export).props('outline')
            if account.role == 'owner':
                ui.button('Stream this view', icon='podcasts',
                          on_click=lambda: ui.navigate.to(self.state.stream_url())).props('outline') \
                    .tooltip('Deliver the events of these filters to a webhook, chat, syslog or a file')
        self.timeline = TimelineChart(chart, tz, self.pick_range)
        self.detail = EventDetail(tz)
        self.table = EventTable(self.fetch, tz, first, on_select=self.detail.show)
        with self.table.table.add_slot('no-data'):
            with ui.column().classes('w-full items-center py-8 gap-2').mark('empty-state'):
                ui.icon('search_off', size='lg').classes(theme.MUTED)
                self.empty_label = ui.label()
                self.clear_button = ui.button('Clear filters', on_click=lambda: self.bar.clear()).props('flat')
        self._show_empty_state()
        self.timer = ui.timer(LIVE_SECONDS, self.tick, active=False, immediate=False)

    async def viewer(self) -> Viewer | None:
        """Who is looking, re-read every time, so a disabled account or changed workspaces take effect at
        the next click; None (and off to the login page) when the session ended."""
        account = await session.current_account()
        if account is None:
            self.set_live(False)
            ui.navigate.to(f'/login?redirect_to={quote(self.state.url(), safe="")}')
            return None
        self.account = account
        return account.viewer()

    async def fetch(self, sort: Sort, offset: int, limit: int) -> EventPage | None:
        flt = self.state.to_filter()
        viewer = await self.viewer()
        return None if viewer is None else await db.call(find_events, viewer, flt, sort, offset, limit)

    async def load_timeline(self, flt: EventFilter | None = None, after: asyncio.Future | None = None) -> None:
        """Read the timeline and draw it, once `after` (the table's load) is done if given."""
        self._chart_generation += 1
        generation = self._chart_generation
        flt = flt or self.state.to_filter()
        viewer = await self.viewer()
        if viewer is None:
            return
        result = await db.call(timeline, viewer, flt)
        if after is not None:
            await asyncio.wait({after})
        if generation == self._chart_generation:
            self.timeline.show(result)

    async def users(self) -> list[str]:
        viewer = await self.viewer()
        return [] if viewer is None else await db.call(visible_users, viewer, self.state.to_filter(), USER_OPTIONS)

    async def apply(self, state: FilterState) -> None:
        """A filter changed: put it in the URL, load the first page and the timeline, and show it in the filter
        bar with the table's new rows (in the same update), or after SHOW_FILTERS_AFTER if they take longer."""
        if state == self.state:
            return
        self.state = state
        self.bar.take(state)
        ui.navigate.history.replace(state.url())
        later = asyncio.get_running_loop().call_later(SHOW_FILTERS_AFTER, self._show_filters)
        try:
            await self._load_view(first_page=True, on_rows=self._show_filters)
        finally:
            later.cancel()
            self._show_filters()

    def _show_filters(self) -> None:
        """The filter bar and the empty state set to the current state, unless they show it already."""
        if self._filters_shown is self.state:
            return
        self._filters_shown = self.state
        with self.client:
            self.bar.show(self.state)
            self._show_empty_state()

    async def pick_range(self, since, until) -> None:
        await self.apply(self.state.with_range(since, until))

    async def refresh(self) -> None:
        await self._load_view()

    async def _load_view(self, first_page: bool = False, on_rows: Callable[[], None] | None = None) -> None:
        """The table and the timeline, read side by side; the chart is shown with the table's rows or after
        them, never before. The browser draws one update after the other, and NiceGUI draws the whole page for
        each: a chart that came first held the table back by the time that took (30-50 ms measured at 1M
        events). `on_rows` runs just before the table shows its new rows."""
        table = asyncio.ensure_future(self._within_client(self.table.load(first_page=first_page, on_rows=on_rows)))
        try:
            await self.load_timeline(after=table)
        finally:
            await table

    async def _within_client(self, load: Awaitable[None]) -> None:
        """Run a load inside this page's client (a task of its own would start without the page's context,
        which the session and notifications need)."""
        with self.client:
            await load

    def set_live(self, on: bool) -> None:
        if self.live.value != on:
            self.live.value = on
        self.timer.active = on
        self.live_state.set_text('Live' if on else '')

    def paused_because(self) -> str | None:
        if self.table.page != 1:
            return 'not on the first page'
        if self.detail.is_open:
            return 'reading an event'
        if self.table.busy:
            return 'loading'
        return None

    async def tick(self) -> None:
        """One live refresh: the current first page, new rows highlighted; the timeline when the total moved."""
        reason = self.paused_because()
        self.live_state.set_text(f'Paused: {reason}' if reason else 'Live')
        if reason:
            return
        total = self.table.total
        await self.table.load(mark_new=True)
        if self.table.total != total:
            await self.load_timeline()

    async def export(self) -> None:
        account = await session.current_account()
        if account is None:
            ui.navigate.to('/login')
            return
        await export_dialog.export_view(account, self.state.to_filter(), self.table.sort)

    def _show_empty_state(self) -> None:
        filtered = not self.state.is_empty()
        self.empty_label.set_text('No events match these filters.' if filtered else 'No events to show yet.')
        self.clear_button.set_visibility(filtered)


def _first_view(viewer: Viewer, params: dict[str, str]) -> tuple:
    """Everything the page opens with, read in one worker call: the viewer's workspaces, the state the link
    asks for, the first page, the timeline, and the linked event if there is one and the viewer may see it."""
    workspaces = visible_workspaces(viewer)
    state, notices = FilterState.from_query(params, workspaces)
    flt = state.to_filter()
    first = find_events(viewer, flt, Sort(), 0, DEFAULT_PAGE_SIZE)
    chart = timeline(viewer, flt)
    event_id = (params.get('event') or '').strip()
    event = find_event(viewer, event_id) if event_id else None
    if event_id and event is None:
        notices.append('Event not found: the link names no event you can see.')
    return workspaces, state, notices, first, chart, event


def register() -> None:
    @ui.page('/audit-logs')
    async def audit_logs_page(request: Request) -> RedirectResponse | None:
        account = await session.current_account()
        if account is None:
            return session.login_redirect(request)
        tz = config().timezone
        workspaces, state, notices, first, chart, event = \
            await db.call(_first_view, account.viewer(), dict(request.query_params))
        ui.add_css(TABLE_CSS)
        ui.add_body_html(SLASH_FOCUSES_SEARCH + ROW_KEYS_JS)
        with frame(account, 'Audit Logs'):
            theme.page_heading('Audit Logs', visible=False)
            view = AuditLogsView(account, state, first, chart, workspaces, tz)
        if event is not None:
            view.detail.show(event)
        if notices:
            url = state.url()
            if event is not None:  # the link keeps opening this event
                url += ('&' if '?' in url else '?') + event_link(event['id']).split('?', 1)[1]
            ui.navigate.history.replace(url)
        for notice in notices:
            ui.notify(notice, type='warning', multi_line=True)
        return None
