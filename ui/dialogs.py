"""The buttons of a dialog that changes something: Cancel, and a button that runs a store call. A refusal
(`StoreError`) shows under the form and keeps the dialog open; success closes it, notifies and refreshes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from store.db import StoreError


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
