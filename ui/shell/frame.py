"""The frame around every signed-in page: the header and the left sidebar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import app, ui

from store.people.accounts import Account
from ui.shell import theme
from ui.shell.config import config

NAV = (
    ('Audit Logs', '/audit-logs', 'list_alt', None),
    ('Workspaces', '/workspaces', 'workspaces', None),
    ('Policies', '/policies', 'policy', None),
    ('Members', '/members', 'group', 'owner'),
    ('API tokens', '/tokens', 'key', 'owner'),
    ('Integrity', '/integrity', 'verified_user', 'owner'),
    ('Streams', '/streams', 'podcasts', 'owner'),
)


def scope_label(account: Account) -> str:
    """What the viewer is looking at: the whole organization, or named workspaces."""
    if account.role == 'owner':
        return f'All of {config().organization}'
    names = ', '.join(account.workspaces)
    return f'Workspace: {names}' if len(account.workspaces) == 1 else f'Workspaces: {names}'


def dark_mode_key(account: Account) -> str:
    """Where an account's dark-mode choice is kept: NiceGUI's server-side general storage, by account, so it
    outlives signing out (which clears the session's storage) and follows the account to other browsers."""
    return f'dark_mode:{account.email}'


def dark_mode_toggle(account: Account) -> None:
    key = dark_mode_key(account)
    dark = ui.dark_mode(bool(app.storage.general.get(key, False)))

    def icon() -> str:
        return 'light_mode' if dark.value else 'dark_mode'

    def toggle() -> None:
        dark.value = not dark.value
        app.storage.general[key] = dark.value
        button.props(f'icon={icon()}')

    button = ui.button(icon=icon(), on_click=toggle).props('flat round dense color=white aria-label="Dark mode"') \
        .tooltip('Dark mode').mark('dark-mode')


@contextmanager
def frame(account: Account, title: str) -> Iterator[None]:
    """Build the header and sidebar, then let the caller fill the main area."""
    ui.page_title(f'{title} · {theme.PRODUCT}')
    drawer: ui.left_drawer  # the sidebar, made below the header whose menu button toggles it
    with ui.header().classes(theme.HEADER_CLASSES):
        with ui.row().classes('items-center gap-2'):
            ui.button(icon='menu', on_click=lambda: drawer.toggle()).props('flat round dense color=white') \
                .props('aria-label="Toggle sidebar"')
            ui.label(theme.PRODUCT).classes('text-lg font-semibold')
            ui.label(scope_label(account)).classes('text-sm opacity-80').mark('viewing')
        with ui.row().classes('items-center gap-3'):
            dark_mode_toggle(account)
            ui.label(f'{account.email} · {account.role_label}').classes('text-sm').mark('whoami')
            ui.button('Log out', on_click=lambda: ui.navigate.to('/logout')).props('flat dense color=white')
    # value=None: open from 1024 px up, collapsed (opened by the menu button, over the page) below that
    with ui.left_drawer(value=None, bordered=True).props('width=220 breakpoint=1024') as drawer:
        with ui.column().classes('w-full gap-1'):
            for label, path, icon, role in NAV:
                if role and account.role != role:
                    continue
                with ui.link(target=path).classes('flex items-center gap-3 px-3 py-2 rounded no-underline '
                                                  'text-slate-800 hover:bg-slate-100 dark:text-slate-200 '
                                                  'dark:hover:bg-slate-700'):
                    ui.icon(icon)
                    ui.label(label)
    with ui.column().classes('w-full p-4 gap-3'):
        yield
