"""The Workspaces page: each workspace the viewer may see, with its events and failures of the last 7 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Request
from nicegui import ui

from store.people.accounts import Account
from store.read.insight import workspace_activity
from ui.audit_logs.filter_state import FilterState
from ui.shell import db, session, theme
from ui.shell.frame import frame

WINDOW = timedelta(days=7)
HEADER = 'text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400'


def quota_link(workspace: str) -> str:
    return FilterState(scope='Workspace', category='GPU Quota', workspace=workspace).url()


def events_link(workspace: str) -> str:
    return FilterState(workspace=workspace, time='7d').url()


def register() -> None:
    @ui.page('/workspaces')
    async def workspaces_page(request: Request):
        account = await session.page_account(request)
        if not isinstance(account, Account):
            return account
        rows = await db.call(workspace_activity, account.viewer(), datetime.now(UTC) - WINDOW)
        with frame(account, 'Workspaces'):
            theme.page_heading('Workspaces')
            ui.label('Events and failures of the last 7 days, in the workspaces you can see.') \
                .classes('text-slate-500 dark:text-slate-400')
            if not rows:
                ui.label('No workspaces yet: one is created by the first event, account or token that names it.') \
                    .mark('no-workspaces')
                return None
            with ui.grid(columns='minmax(10rem, auto) repeat(2, minmax(6rem, auto)) auto') \
                    .classes('items-center gap-x-8 gap-y-2').mark('workspaces'):
                for text in ('Workspace', 'Events, 7 days', 'Failed, 7 days', ''):
                    ui.label(text).classes(HEADER)
                for row in rows:
                    ui.link(row.name, events_link(row.name)).classes(f'font-medium {theme.LINK}') \
                        .mark(f'workspace-{row.name}')
                    ui.label(f'{row.events:,}').classes('tabular-nums text-right')
                    ui.label(f'{row.failed:,}').classes('tabular-nums text-right' +
                                                        (' text-negative font-semibold' if row.failed else ''))
                    ui.link('Quota changes', quota_link(row.name)).classes(theme.LINK).mark(f'quota-{row.name}')
        return None
