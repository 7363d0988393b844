"""The side panel with one event: every field, the metadata pretty printed, and a link that opens it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from nicegui import ui

from store.engine.timefmt import display
from ui.audit_logs.filter_state import PAGE_PATH
from ui.shell import theme

FIELDS = (('id', 'Event ID'), ('timestamp', 'Timestamp'), ('user', 'User'), ('scope', 'Scope'),
          ('category', 'Category'), ('action', 'Action'), ('target', 'Target'), ('status', 'Status'),
          ('workspace', 'Workspace'), ('description', 'Description'), ('hash', 'Chain hash'))


def event_link(event_id: str) -> str:
    """The page's address that opens this event's detail (for a viewer who may see it)."""
    return f'{PAGE_PATH}?event={quote(event_id, safe="")}'


class EventDetail:
    """One right-hand panel per page, refilled for each event; Esc or a click beside it closes it."""

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self.event: dict[str, Any] | None = None
        with ui.dialog().props('position=right full-height aria-label="Event details"') as self.dialog, \
                ui.card().classes('w-[36rem] max-w-[100vw] h-full no-wrap gap-3').mark('detail') as self.card:
            pass
        self.dialog.on_value_change(lambda e: None if e.value else self._closed())

    @property
    def is_open(self) -> bool:
        return bool(self.dialog.value)

    def _closed(self) -> None:
        self.event = None

    def close(self) -> None:
        self.dialog.close()

    def show(self, event: dict[str, Any]) -> None:
        self.event = event
        self.card.clear()
        with self.card:
            with ui.row().classes('w-full items-start justify-between no-wrap'):
                ui.label(f'{event["action"]} · {event["target"]}').classes('text-lg font-semibold break-all')
                ui.button(icon='close', on_click=self.close).props('flat round dense aria-label="Close"') \
                    .mark('detail-close')
            with ui.scroll_area().classes('w-full grow'):
                with ui.grid(columns='auto 1fr').classes('gap-x-4 gap-y-1 w-full'):
                    for name, label in FIELDS:
                        ui.label(label).classes('text-slate-500 dark:text-slate-400')
                        self._value(name, event.get(name))
                ui.label('Metadata').classes('text-slate-500 dark:text-slate-400 mt-3')
                metadata = event.get('metadata')
                ui.label(json.dumps(metadata, indent=2, ensure_ascii=False, sort_keys=True) if metadata else '—') \
                    .classes('font-mono text-xs whitespace-pre-wrap break-all w-full rounded p-2 '
                             'bg-slate-100 dark:bg-slate-800').mark('metadata')
            link = event_link(event['id'])
            with ui.row().classes('w-full items-center gap-2 no-wrap'):
                ui.icon('link').classes('text-slate-500')
                ui.link(link, link).classes(f'font-mono text-xs break-all grow {theme.LINK}').mark('event-link')
                ui.button('Copy link', icon='content_copy', on_click=lambda: self._copy(link)).props('flat dense')
        self.dialog.open()

    def _value(self, name: str, value: Any) -> None:
        if name == 'status' and value:
            ui.badge(value, color=theme.STATUS_COLORS.get(value, 'grey')).classes('self-center justify-self-start')
            return
        if name == 'timestamp' and value is not None:
            value = f'{display(value, self._tz)} ({self._tz.key})'
        text = str(value) if value not in (None, '') else '—'
        classes = 'break-all whitespace-pre-wrap'
        if name in ('id', 'hash'):
            classes += ' font-mono text-xs self-center'
        ui.label(text).classes(classes).mark(f'detail-{name}')

    def _copy(self, link: str) -> None:
        ui.run_javascript(f'navigator.clipboard.writeText(location.origin + {json.dumps(link)})')
        ui.notify('Link copied', type='positive')
