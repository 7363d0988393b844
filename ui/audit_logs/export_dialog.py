"""The Export dialog: the current view to Excel or CSV, written off the event loop, then downloaded by URL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial

from nicegui import ui
from nicegui.events import ValueChangeEventArguments

from store.engine.db import StoreError
from store.people.accounts import Account
from store.read.events import EventFilter, Sort, count_events
from store.read.export import MEDIA_TYPES, export_file_name, export_to_file
from ui.audit_logs import export_routes
from ui.shell import db
from ui.shell.config import config

log = logging.getLogger(__name__)

CHOICES = (('xlsx', 'Excel (.xlsx)'), ('csv', 'CSV (.csv)'))
POLL_SECONDS = 0.25


class ExportCancelled(Exception):
    """Raised from the progress callback, in the export's thread, to stop it."""


async def export_view(account: Account, flt: EventFilter, sort: Sort) -> None:
    """Offer both formats for exactly the rows of the current view, as `account` may see them."""
    total = await db.call(count_events, account.viewer(), flt)
    ExportDialog(account, flt, sort, total).dialog.open()


class ExportDialog:
    def __init__(self, account: Account, flt: EventFilter, sort: Sort, total: int) -> None:
        self.account, self.flt, self.sort, self.total = account, flt, sort, total
        self.written = 0
        self.running = False
        self.cancelled = False
        with ui.dialog().props('aria-label="Export audit logs"') as self.dialog, ui.card().classes('w-[28rem]'):
            ui.label('Export audit logs').classes('text-lg font-semibold')
            what = 'event' if total == 1 else 'events'
            ui.label(f'{total:,} {what}: the current filters, sort and visibility, all pages.').mark('export-total')
            with ui.row().classes('gap-2') as self.choices:
                for fmt, label in CHOICES:
                    ui.button(label, icon='download', on_click=partial(self.run, fmt))
            self.progress = ui.linear_progress(0, show_value=False).props('instant-feedback').classes('w-full')
            self.progress.set_visibility(False)
            self.status = ui.label('').classes('text-sm').mark('export-status')
            with ui.row().classes('w-full justify-end'):
                ui.button('Cancel', on_click=self.cancel).props('flat')
        self.dialog.on_value_change(self._opened_or_closed)

    async def run(self, fmt: str) -> None:
        """Write the file in a worker thread with the store's own connection, showing progress meanwhile."""
        if self.running:
            return
        self.running, self.cancelled, self.written = True, False, 0
        self.dialog.props('persistent')  # while it runs, Cancel is the way out
        self.choices.set_visibility(False)
        self.progress.set_visibility(True)
        self._show_progress()
        with self.dialog:
            timer = ui.timer(POLL_SECONDS, self._show_progress)
        tz = config().timezone
        path = export_routes.new_file(export_file_name(fmt, datetime.now(UTC), tz))
        try:
            written = await db.call(export_to_file, path, self.account.viewer(), self.flt, self.sort,
                                    self.account.email, tz=tz, progress=self._progress)
        except ExportCancelled:
            written = None
        except StoreError as exc:
            written = None
            ui.notify(f'Export failed: {exc}', type='negative', multi_line=True)
        except Exception:
            written = None
            log.exception('export of %s for %s failed', self.flt, self.account.email)
            ui.notify('Export failed: the error is in the server log.', type='negative')
        finally:
            timer.delete()
            self.running = False
            self.dialog.props(remove='persistent')
        if written is None or self.cancelled:  # cancelled (perhaps just too late), failed, or the server is stopping
            export_routes.discard(path)
            self._reset('Export cancelled.' if self.cancelled else '')
            return
        url = export_routes.offer(path, path.name, MEDIA_TYPES[fmt], self.account.email)
        ui.download.from_url(url)
        ui.notify(f'Exported {written:,} events to {path.name}.', type='positive')
        self.dialog.close()

    def cancel(self) -> None:
        if self.running:
            self.cancelled = True
            self.status.set_text('Cancelling…')
        else:
            self.dialog.close()

    def _progress(self, written: int) -> None:
        """Called by the export in its thread after every chunk: record progress, or stop when cancelled."""
        self.written = written
        if self.cancelled:
            raise ExportCancelled

    def _show_progress(self) -> None:
        total = max(self.total, self.written, 1)
        self.progress.set_value(self.written / total)
        self.status.set_text(f'Exported {self.written:,} of {self.total:,} events…')

    def _reset(self, message: str) -> None:
        self.choices.set_visibility(True)
        self.progress.set_visibility(False)
        self.status.set_text(message)
        if not self.dialog.value:
            self.dialog.delete()

    def _opened_or_closed(self, event: ValueChangeEventArguments) -> None:
        """A closed dialog is removed, once its export (if any) has stopped."""
        if event.value:
            return
        if self.running:
            self.cancelled = True
        else:
            self.dialog.delete()
