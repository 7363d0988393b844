"""The Members page: Organization Owners list, add, change and disable accounts."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from store.engine.db import StoreError
from store.people.accounts import ROLES, Account, create_account, list_accounts, update_account
from store.read.events import workspace_names
from store.write import self_audit
from ui.shell import db, session, theme
from ui.shell.dialogs import action_buttons
from ui.shell.frame import frame

ROLE_OPTIONS = {'owner': ROLES['owner'], 'admin': ROLES['admin']}


def describe(account: Account) -> str:
    where = f' of {", ".join(account.workspaces)}' if account.workspaces else ''
    state = ' (disabled)' if account.disabled else ''
    return f'{account.role_label}{where}{state}'


def _create_and_record(actor: str, email: str, password: str, role: str, workspaces: list[str]) -> Account:
    account = create_account(email, password, role, workspaces)
    self_audit.record(actor, 'Create Account', account.email, f'Created account {account.email}: {describe(account)}')
    return account


def _update_and_record(actor: str, email: str, role: str, workspaces: list[str], disabled: bool) -> Account:
    before = next((a for a in list_accounts() if a.email == email), None)
    account = update_account(email, role=role, workspaces=workspaces, disabled=disabled)
    if before and before.disabled != account.disabled:
        action = 'Disable Account' if account.disabled else 'Enable Account'
    else:
        action = 'Change Account'
    self_audit.record(actor, action, account.email,
                      f'{action.split()[0]}d account {account.email}: {describe(before)} → {describe(account)}'
                      if before else f'Changed account {account.email}')
    return account


def register() -> None:
    @ui.page('/members')
    async def members_page(request: Request):
        me = await session.page_account(request, owner_only=True)
        if not isinstance(me, Account):
            return me
        known_workspaces = await db.call(workspace_names)

        with frame(me, 'Members'):
            theme.page_heading('Members')

            @ui.refreshable
            async def member_list() -> None:
                accounts = await db.call(list_accounts)
                columns = [{'name': n, 'label': n.title(), 'field': n, 'align': 'left'}
                           for n in ('email', 'role', 'workspaces', 'status')]
                rows = [{'email': a.email, 'role': a.role_label, 'workspaces': ', '.join(a.workspaces) or '—',
                         'status': 'Disabled' if a.disabled else 'Active'} for a in accounts]
                table = ui.table(columns=columns + [{'name': 'edit', 'label': '', 'field': 'email'}], rows=rows,
                                 row_key='email').classes('w-full').mark('members')
                table.add_slot('header-cell-edit', '<q-th :props="props"><span class="sr-only">Edit</span></q-th>')
                table.add_slot('body-cell-edit', '''
                    <q-td :props="props">
                        <q-btn flat dense icon="edit" :aria-label="'Edit ' + props.row.email"
                               @click="$parent.$emit('edit', props.row.email)" />
                    </q-td>''')
                by_email = {a.email: a for a in accounts}
                table.on('edit', lambda e: edit(by_email[e.args]))

            async def edit(account: Account) -> None:
                with ui.dialog() as dialog, ui.card().classes('w-[28rem]'):
                    dialog.props['aria-label'] = f'Edit {account.email}'
                    ui.label(f'Edit {account.email}').classes('text-lg font-semibold')
                    role = ui.select(ROLE_OPTIONS, label='Role', value=account.role).classes('w-full')
                    spaces = ui.select(sorted(set(known_workspaces) | set(account.workspaces)), label='Workspaces',
                                       value=list(account.workspaces), multiple=True, new_value_mode='add-unique') \
                        .classes('w-full').props('use-chips')
                    spaces.bind_visibility_from(role, 'value', value='admin')
                    disabled = ui.checkbox('Disabled', value=account.disabled)
                    error = ui.label('').classes('text-negative text-sm')
                    action_buttons(dialog, error, 'Save', lambda: db.call(
                        _update_and_record, me.email, account.email, role.value, list(spaces.value or []),
                        disabled.value), f'Saved {account.email}', member_list.refresh)
                dialog.open()

            await member_list()

            with ui.card().classes('w-full max-w-2xl'):
                ui.label('Add a member').classes('text-lg font-semibold')
                with ui.row().classes('w-full items-start gap-3'):
                    email = ui.input('New member email').props('autocomplete=off').classes('w-64')
                    password = ui.input('Initial password', password=True).props('autocomplete=new-password') \
                        .classes('w-48')
                    role = ui.select(ROLE_OPTIONS, label='Role', value='admin').classes('w-48')
                    spaces = ui.select(known_workspaces, label='Workspaces', value=[], multiple=True,
                                       new_value_mode='add-unique').props('use-chips').classes('w-64')
                    spaces.bind_visibility_from(role, 'value', value='admin')
                add_error = ui.label('').classes('text-negative text-sm').mark('add-error')

                async def add() -> None:
                    try:
                        created = await db.call(_create_and_record, me.email, email.value or '',
                                                password.value or '', role.value, list(spaces.value or []))
                    except StoreError as exc:
                        add_error.set_text(str(exc))
                        return
                    add_error.set_text('')
                    email.value, password.value, spaces.value = '', '', []
                    ui.notify(f'Added {created.email}', type='positive')
                    member_list.refresh()

                ui.button('Add member', on_click=add)
        return None
