"""The Policies page: the policies named by Organization / Policy events, with their last attach and detach."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from nicegui import ui

from store.engine.timefmt import display
from store.people.accounts import Account
from store.read.insight import policy_summaries
from ui.audit_logs.filter_state import FilterState
from ui.shell import db, session, theme
from ui.shell.config import config
from ui.shell.frame import frame

HEADER = 'text-xs uppercase tracking-wide text-slate-500 dark:text-slate-400'


def attachment_link(policy: str) -> str:
    return FilterState(scope='Organization', category='Policy', search=policy).url()


def register() -> None:
    @ui.page('/policies')
    async def policies_page(request: Request):
        account = await session.page_account(request)
        if not isinstance(account, Account):
            return account
        tz = config().timezone
        rows = await db.call(policy_summaries, account.viewer())

        def when(moment: datetime | None) -> str:
            return display(moment, tz) if moment else '—'

        with frame(account, 'Policies'):
            theme.page_heading('Policies')
            ui.label(f'Policies seen in Organization / Policy events you can see; times in {tz.key}.') \
                .classes('text-slate-500 dark:text-slate-400')
            if not rows:
                ui.label('No policy events to show.' if account.role == 'owner' else
                         'No policy events to show: policies belong to the organization, and your view is '
                         'limited to your workspaces.').mark('no-policies')
                return None
            with ui.grid(columns='minmax(10rem, auto) repeat(3, minmax(9rem, auto)) auto auto') \
                    .classes('items-center gap-x-8 gap-y-2').mark('policies'):
                for text in ('Policy', 'Last attached', 'Last detached', 'Last event', 'Events', ''):
                    ui.label(text).classes(HEADER)
                for row in rows:
                    ui.label(row.name).classes('font-medium').mark(f'policy-{row.name}')
                    ui.label(when(row.last_attached)).classes('tabular-nums')
                    ui.label(when(row.last_detached)).classes('tabular-nums')
                    ui.label(when(row.last_event)).classes('tabular-nums')
                    ui.label(f'{row.events:,}').classes('tabular-nums text-right')
                    ui.link('Attachment events', attachment_link(row.name)).classes(theme.LINK) \
                        .mark(f'attachments-{row.name}')
        return None
