"""The Integrity page: Organization Owners run the hash-chain check that `python main.py verify` runs."""

from __future__ import annotations

import time

from fastapi import Request
from nicegui import ui

from store.ledger.chain import ChainReport, verify
from store.people.accounts import Account
from ui.shell import db, session, theme
from ui.shell.frame import frame


def register() -> None:
    @ui.page('/integrity')
    async def integrity_page(request: Request):
        me = await session.page_account(request, owner_only=True)
        if not isinstance(me, Account):
            return me

        with frame(me, 'Integrity'):
            theme.page_heading('Integrity')
            ui.label('Every event carries a SHA-256 hash over its content and the previous event\'s hash. The '
                     'check walks the whole chain and names the first event that was edited, deleted, inserted '
                     'or reordered behind the application\'s back.').classes(f'text-sm {theme.MUTED} max-w-3xl')
            result = ui.column().classes('w-full max-w-3xl')

            def show(report: ChainReport, seconds: float) -> None:
                result.clear()
                with result, ui.card().classes('w-full'):
                    with ui.row().classes('items-center gap-2'):
                        if report.ok:
                            ui.icon('verified', color='positive', size='md')
                            ui.label('Intact').classes('text-lg font-semibold text-positive')
                        else:
                            ui.icon('report', color='negative', size='md')
                            ui.label('Tampered').classes('text-lg font-semibold text-negative')
                    ui.label(report.summary()).classes('break-all').mark('integrity-result')
                    ui.label(f'Checked {report.checked:,} events in {seconds:.1f} s.').classes('text-sm')

            async def run_check() -> None:
                button.disable()
                spinner.set_visibility(True)
                result.clear()
                started = time.perf_counter()
                try:
                    report = await db.call(verify)
                finally:
                    spinner.set_visibility(False)
                    button.enable()
                if report is not None:
                    show(report, time.perf_counter() - started)

            with ui.row().classes('items-center gap-3'):
                button = ui.button('Run check', icon='fact_check', on_click=run_check)
                spinner = ui.spinner(size='md')
                spinner.set_visibility(False)
        return None
