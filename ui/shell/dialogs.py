"""The buttons of a dialog that changes something: Cancel, and a button that runs a store call. A refusal
(`StoreError`) shows under the form and keeps the dialog open; success closes it, notifies and refreshes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from store.engine.db import StoreError


def action_buttons(dialog: ui.dialog, error: ui.label, label: str, action: Callable[[], Awaitable[object]],
                   done: str, refresh: Callable[[], object], *, props: str = '') -> None:
    async def run() -> None:
        try:
            await action()
        except StoreError as exc:
            error.set_text(str(exc))
            return
        dialog.close()
        ui.notify(done, type='positive')
        refresh()

    with ui.row().classes('justify-end w-full'):
        ui.button('Cancel', on_click=dialog.close).props('flat')
        ui.button(label, on_click=run).props(props)


def show_secret_once(container: ui.element, heading: str, label: str, value: str, mark: str) -> None:
    """A card in `container` showing a secret the server keeps only a hash of (or never shows again): read-only,
    with a Copy button."""
    container.clear()
    with container, ui.card().classes('w-full bg-amber-50 dark:bg-slate-700'):
        ui.label(heading).classes('font-semibold')
        with ui.row().classes('w-full items-center gap-2'):
            ui.input(label, value=value).props('readonly outlined dense').classes('grow font-mono').mark(mark)
            ui.button('Copy', icon='content_copy', on_click=lambda: ui.clipboard.write(value)).props('flat')
