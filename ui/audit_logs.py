"""The Audit Logs page: the filter bar, the events table, and the URL that carries the filters."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from store.accounts import Account
from store.events import EventPage, Sort, find_events
from ui import db, session
from ui.config import config
from ui.event_table import DEFAULT_PAGE_SIZE, EventTable
from ui.filter_bar import FilterBar
from ui.filter_state import FilterState
from ui.frame import frame


class AuditLogsView:
    """One open page: its filter state, and the widgets that show and change it."""

    def __init__(self, account: Account, state: FilterState, first: EventPage) -> None:
        self.account = account
        self.state = state
        self.bar = FilterBar(state, self.apply)
        with self.bar.actions:
            ui.button('Refresh', icon='refresh', on_click=self.refresh).props('outline')
            ui.button('Export', icon='download', on_click=self.export).props('outline')
        self.table = EventTable(self.fetch, config().timezone, first)
        with self.table.table.add_slot('no-data'):
            with ui.column().classes('w-full items-center py-8 gap-2').mark('empty-state'):
                ui.icon('search_off', size='lg').classes('text-slate-400')
                self.empty_label = ui.label()
                self.clear_button = ui.button('Clear filters', on_click=lambda: self.bar.clear()).props('flat')
        self._show_empty_state()

    async def fetch(self, sort: Sort, offset: int, limit: int) -> EventPage | None:
        """One page for the current filter, as the signed-in account may see it now (re-read every time,
        so a disabled account or changed workspaces take effect at the next click)."""
        flt = self.state.to_filter()
        account = await session.current_account()
        if account is None:
            ui.navigate.to(f'/login?redirect_to={quote(self.state.url(), safe="")}')
            return None
        self.account = account
        return await db.call(find_events, account.viewer(), flt, sort, offset, limit)

    async def apply(self, state: FilterState) -> None:
        """A filter changed: show it, put it in the URL, and load the first page."""
        if state == self.state:
            return
        self.state = state
        self.bar.show(state)
        self._show_empty_state()
        ui.navigate.history.replace(state.url())
        await self.table.load(first_page=True)

    async def refresh(self) -> None:
        await self.table.load()

    async def export(self) -> None:
        account = await session.current_account()
        if account is None:
            ui.navigate.to('/login')
            return
        try:
            from ui.export_dialog import export_view  # written in the export issue; imported when used
        except ModuleNotFoundError as exc:
            if exc.name != 'ui.export_dialog':
                raise
            ui.notify('Export is not available yet.', type='warning')
            return
        await export_view(account, self.state.to_filter(), self.table.sort)

    def _show_empty_state(self) -> None:
        filtered = not self.state.is_empty()
        self.empty_label.set_text('No events match these filters.' if filtered else 'No events to show yet.')
        self.clear_button.set_visibility(filtered)


def register() -> None:
    @ui.page('/audit-logs')
    async def audit_logs_page(request: Request) -> RedirectResponse | None:
        account = await session.current_account()
        if account is None:
            return session.login_redirect(request)
        state, notices = FilterState.from_query(request.query_params)
        first = await db.call(find_events, account.viewer(), state.to_filter(), Sort(), 0, DEFAULT_PAGE_SIZE)
        with frame(account, 'Audit Logs'):
            AuditLogsView(account, state, first)
        if notices:
            ui.navigate.history.replace(state.url())
        for notice in notices:
            ui.notify(notice, type='warning', multi_line=True)
        return None
