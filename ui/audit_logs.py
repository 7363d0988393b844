"""The Audit Logs page (a first plain version; the page issue builds the real one)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from store.events import EventFilter, find_events
from store.timefmt import display
from ui import db, session
from ui.config import config
from ui.frame import frame


def register() -> None:
    @ui.page('/audit-logs')
    async def audit_logs_page(request: Request):
        account = await session.current_account()
        if account is None:
            return session.login_redirect(request)
        page = await db.call(find_events, account.viewer(), EventFilter())
        tz = config().timezone
        with frame(account, 'Audit Logs'):
            ui.table(rows=[{**e, 'timestamp': display(e['timestamp'], tz), 'metadata': None}
                           for e in page.events],
                     columns=[{'name': c, 'label': c.title(), 'field': c} for c in
                              ('timestamp', 'user', 'scope', 'category', 'action', 'target', 'status',
                               'description')],
                     row_key='id')
        return None
