"""The API tokens page: Organization Owners create tokens (shown once) and revoke them."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from store.engine.db import StoreError
from store.engine.timefmt import display, from_millis
from store.people.accounts import Account
from store.people.tokens import ApiToken, create_token, list_tokens, revoke_token
from store.read.events import workspace_names
from ui.shell import db, session, theme
from ui.shell.config import config
from ui.shell.dialogs import action_buttons, show_secret_once
from ui.shell.frame import frame

ORGANIZATION = 'Whole organization'
COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left'} for n, label in (
    ('name', 'Name'), ('reach', 'Access'), ('created', 'Created'), ('created_by', 'Created by'),
    ('status', 'Status'), ('revoke', ''))]


def token_row(token: ApiToken) -> dict[str, object]:
    tz = config().timezone
    revoked = token.revoked_at
    status = 'Active' if revoked is None else f'Revoked {display(from_millis(revoked), tz)}'
    return {'id': token.id, 'name': token.name, 'reach': token.reach, 'created_by': token.created_by,
            'created': display(from_millis(token.created_at), tz), 'status': status, 'active': token.active}


def register() -> None:
    @ui.page('/tokens')
    async def tokens_page(request: Request):
        me = await session.page_account(request, owner_only=True)
        if not isinstance(me, Account):
            return me
        known_workspaces = await db.call(workspace_names)

        with frame(me, 'API tokens'):
            theme.page_heading('API tokens')
            ui.label('Scripts send and read events through /api/v1 with a token in the header '
                     '"Authorization: Bearer <token>". An organization token reads and writes every event; '
                     'a workspace token only its workspace. Interactive docs: /docs.') \
                .classes(f'text-sm {theme.MUTED} max-w-3xl')

            @ui.refreshable
            async def token_list() -> None:
                tokens = await db.call(list_tokens)
                if not tokens:
                    ui.label('No API tokens yet.').classes(theme.MUTED).mark('no-tokens')
                    return
                table = ui.table(columns=COLUMNS, rows=[token_row(t) for t in tokens], row_key='id') \
                    .classes('w-full max-w-5xl').mark('tokens')
                table.add_slot('body-cell-revoke', '''
                    <q-td :props="props">
                        <q-btn v-if="props.row.active" flat dense color="negative" label="Revoke"
                               :aria-label="'Revoke ' + props.row.name"
                               @click="$parent.$emit('revoke', props.row.id)" />
                    </q-td>''')
                by_id = {t.id: t for t in tokens}
                table.on('revoke', lambda e: confirm_revoke(by_id[e.args]) if e.args in by_id else None)

            def confirm_revoke(token: ApiToken) -> None:
                with ui.dialog().props('aria-label="Revoke API token"') as dialog, ui.card():
                    ui.label(f'Revoke API token "{token.name}"?').classes('text-lg font-semibold')
                    ui.label('Scripts that use it get 401 from the next request on. This cannot be undone.')
                    error = ui.label('').classes('text-negative text-sm')
                    action_buttons(dialog, error, 'Revoke token', lambda: db.call(revoke_token, token.id, me.email),
                                   f'Revoked {token.name}', token_list.refresh, props='color=negative')
                dialog.open()

            await token_list()

            with ui.card().classes('w-full max-w-3xl'):
                ui.label('Create a token').classes('text-lg font-semibold')
                with ui.row().classes('w-full items-start gap-3'):
                    name = ui.input('Token name').props('autocomplete=off').classes('w-64')
                    reach = ui.select([ORGANIZATION, *known_workspaces], label='Access', value=ORGANIZATION,
                                      new_value_mode='add-unique').classes('w-64')
                error = ui.label('').classes('text-negative text-sm').mark('token-error')
                shown = ui.column().classes('w-full')

                async def create() -> None:
                    workspace = None if reach.value in (None, ORGANIZATION) else reach.value
                    try:
                        token = await db.call(create_token, name.value or '', workspace, me.email)
                    except StoreError as exc:
                        error.set_text(str(exc))
                        return
                    error.set_text('')
                    created = name.value.strip()
                    name.value = ''
                    show_secret_once(shown, f'Token "{created}": copy it now, it is not shown again.',
                                     'New token', token, 'new-token')
                    ui.notify(f'Created {created}', type='positive')
                    token_list.refresh()

                ui.button('Create token', on_click=create)
        return None
