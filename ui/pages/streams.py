"""The Streams page (Organization Owners only): each stream's state, lag and delivery record; add, edit, pause,
resume, replay from a time, send a test event, remove. The Audit Logs page's "Stream this view" opens it with
the add form filled from that page's filters."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from nicegui import background_tasks, ui

from store.engine.db import StoreError
from store.engine.timefmt import display, from_millis
from store.ledger import taxonomy
from store.ledger.validation import ValidationError, parse_timestamp
from store.people.accounts import Account
from store.read.events import EventFilter, workspace_names
from store.streams import registry as streams
from store.streams.delivery import send_test
from store.streams.destinations import DeliveryError
from ui.audit_logs.filter_state import STREAMS_PATH
from ui.shell import db, session, theme
from ui.shell.config import config
from ui.shell.dialogs import action_buttons, show_secret_once
from ui.shell.frame import frame

PATH = STREAMS_PATH
REFRESH_SECONDS = 2.0
FORMATS = {'json': 'JSON (the API\'s event)', 'ocsf': 'OCSF 1.1', 'slack': 'Chat alert (Slack)',
           'cef': 'CEF (syslog only)'}
COLUMNS = [{'name': n, 'label': label, 'field': n, 'align': 'left'} for n, label in (
    ('name', 'Name'), ('destination', 'Destination'), ('format', 'Format'), ('filter', 'Filter'),
    ('state', 'State'), ('lag', 'Lag'), ('last_success', 'Last success'), ('last_error', 'Last error'),
    ('next_retry', 'Next retry'), ('delivered', 'Delivered'), ('actions', ''))]
ACTIONS_SLOT = '''
    <q-td :props="props">
        <q-btn v-if="props.row.state !== 'paused'" flat dense label="Pause" :aria-label="'Pause ' + props.row.name"
               @click="$parent.$emit('pause', props.row.name)" />
        <q-btn v-else flat dense label="Resume" :aria-label="'Resume ' + props.row.name"
               @click="$parent.$emit('resume', props.row.name)" />
        <q-btn flat dense label="Edit" :aria-label="'Edit ' + props.row.name"
               @click="$parent.$emit('edit', props.row.name)" />
        <q-btn flat dense label="Replay" :aria-label="'Replay ' + props.row.name"
               @click="$parent.$emit('replay', props.row.name)" />
        <q-btn flat dense label="Send test" :aria-label="'Send test to ' + props.row.name"
               @click="$parent.$emit('test', props.row.name)" />
        <q-btn flat dense color="negative" label="Remove" :aria-label="'Remove ' + props.row.name"
               @click="$parent.$emit('remove', props.row.name)" />
    </q-td>'''


def _when(ms: int | None) -> str:
    return display(from_millis(ms), config().timezone) if ms else ''


def _lag_text(lag: streams.Lag) -> str:
    if not lag.events:
        return 'up to date'
    return str(lag)


def stream_rows() -> list[dict[str, Any]]:
    """What the table shows of each stream (read in a worker thread)."""
    rows = []
    for stream in streams.list_streams():
        error = f'{_when(stream.last_error_at)}: {stream.last_error}' if stream.last_error else ''
        rows.append({
            'name': stream.name, 'destination': streams.shown_destination(stream),
            'format': stream.format + (f', digest {stream.digest_minutes} min' if stream.digest_minutes else ''),
            'filter': stream.filter_text(), 'state': stream.state, 'lag': _lag_text(streams.lag(stream)),
            'last_success': _when(stream.last_success), 'last_error': error,
            'next_retry': _when(stream.next_retry) if stream.state == 'failing' else '',
            'delivered': f'{stream.delivered:,}'})
    return rows


def _test(name: str) -> str:
    return send_test(streams.get_stream(name))


def _change(name: str, by: str, to: str | None, fmt: str, flt: EventFilter, digest: int) -> str | None:
    """Change the stream; the webhook signing secret the change made (a new webhook destination), else None."""
    before = streams.get_stream(name)
    after = streams.change_stream(name, by, to=to, fmt=fmt, flt=flt, digest_minutes=digest)
    return streams.new_secret(before, after)


class StreamFields:
    """The inputs the add form and the edit dialog share: destination, format, digest, and the page's filters."""

    def __init__(self, flt: EventFilter, workspaces: list[str]) -> None:
        self.flt, self.workspaces = flt, workspaces

    def destination(self, *, fmt: str = 'json', digest: int = 0, keep: str | None = None) -> None:
        """Destination URL, format and digest, in the caller's row; with `keep` an empty URL keeps that one."""
        hint = 'https:// or http:// (loopback) webhook, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT, ' \
               'file:///PATH.jsonl'
        self.to = ui.input('Destination URL', placeholder=f'unchanged: {keep}' if keep
                           else 'https://siem.example.com/hook').classes('grow').tooltip(hint)
        self.fmt = ui.select(FORMATS, label='Format', value=fmt).classes('w-48')
        self.digest = ui.number('Digest (minutes)', value=digest, min=0, precision=0).classes('w-36') \
            .tooltip('Chat alerts: at most one message per N minutes (0: one per event)')

    def filters(self) -> None:
        """The filter's inputs, in a row of their own."""
        flt, workspaces = self.flt, self.workspaces
        with ui.row().classes('w-full items-start gap-3'):
            self.scope = ui.select({None: '', **{s: s for s in taxonomy.SCOPES}}, label='Scope',
                                   value=flt.scope).classes('w-40')
            self.category = ui.select({None: '', **{c: c for c in taxonomy.all_categories()}}, label='Category',
                                      value=flt.category).classes('w-40')
            self.status = ui.select({None: '', 'SUCCESS': 'SUCCESS', 'FAILED': 'FAILED'}, label='Status',
                                    value=flt.status).classes('w-32')
            self.search = ui.input('Search', value=flt.search).classes('w-40')
            self.user = ui.input('User', value=flt.user or '').classes('w-48')
            self.workspace = ui.select({None: '', **{w: w for w in workspaces}}, label='Workspace',
                                       value=flt.workspace if flt.workspace in workspaces else None).classes('w-40')

    def filter(self) -> EventFilter:
        return EventFilter(search=self.search.value or '', scope=self.scope.value, category=self.category.value,
                           status=self.status.value, user=(self.user.value or '').strip() or None,
                           workspace=self.workspace.value)

    def digest_minutes(self) -> int:
        return int(self.digest.value or 0)


class StreamsView:
    def __init__(self, account: Account, rows: list[dict[str, Any]], prefill: EventFilter,
                 workspaces: list[str]) -> None:
        self.account = account
        theme.page_heading('Streams')
        ui.label('A stream delivers every event its filter matches, in order and at least once, to a webhook, a chat '
                 'channel, a syslog server or a JSON Lines file; a destination that is down catches up when it '
                 'returns. New streams start with the events stored from now on; Replay resends history.') \
            .classes(f'text-sm max-w-3xl {theme.MUTED}')
        self.empty = ui.label('No streams yet.').classes(theme.MUTED).mark('no-streams')
        self.table = ui.table(columns=COLUMNS, rows=rows, row_key='name').props('wrap-cells flat bordered') \
            .classes('w-full').mark('streams')
        self.table.add_slot('body-cell-actions', ACTIONS_SLOT)
        for action, handler in (('pause', self.pause), ('resume', self.resume), ('edit', self.ask_edit),
                                ('replay', self.ask_replay),
                                ('test', self.send_test), ('remove', self.ask_remove)):
            self.table.on(action, lambda e, handler=handler: handler(e.args))
        self._show(rows)
        self.workspaces = workspaces
        self.add_form(prefill, workspaces)
        ui.timer(REFRESH_SECONDS, self.refresh)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        self.table.rows = rows
        self.table.set_visibility(bool(rows))
        self.empty.set_visibility(not rows)

    async def refresh(self) -> None:
        self._show(await db.call(stream_rows))

    def refresh_soon(self) -> None:
        background_tasks.create(self.refresh(), name='streams-refresh')

    async def _change(self, fn, name: str, done: str) -> None:
        try:
            await db.call(fn, name, self.account.email)
        except StoreError as exc:
            ui.notify(str(exc), type='negative')
            return
        ui.notify(done, type='positive')
        await self.refresh()

    async def pause(self, name: str) -> None:
        await self._change(streams.pause_stream, name, f'Paused {name}')

    async def resume(self, name: str) -> None:
        await self._change(streams.resume_stream, name, f'Resumed {name}')

    async def ask_edit(self, name: str) -> None:
        try:
            stream = await db.call(streams.get_stream, name)
        except StoreError as exc:
            ui.notify(str(exc), type='negative')
            return
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-4xl').mark('edit-stream'):
            ui.label(f'Edit stream "{name}"').classes('text-lg font-semibold')
            ui.label('Its position stays: the change applies to the events it has not delivered yet (Replay '
                     'resends history). Leave the URL empty to keep the destination.').classes(f'text-sm {theme.MUTED}')
            fields = StreamFields(stream.filter, self.workspaces)
            with ui.row().classes('w-full items-start gap-3'):
                fields.destination(fmt=stream.format, digest=stream.digest_minutes,
                                   keep=streams.shown_destination(stream))
            fields.filters()
            error = ui.label('').classes('text-negative text-sm').mark('edit-error')
            shown = ui.column().classes('w-full')

            async def save() -> None:
                try:
                    secret = await db.call(_change, name, self.account.email, (fields.to.value or '').strip() or None,
                                           fields.fmt.value, fields.filter(), fields.digest_minutes())
                except StoreError as exc:
                    error.set_text(str(exc))
                    return
                ui.notify(f'Changed {name}', type='positive')
                self.refresh_soon()
                if not secret:
                    dialog.close()
                    return
                error.set_text('')
                show_secret_once(shown, f'Signing secret of "{name}": copy it now, it is not shown again.',
                                 'Signing secret', secret, 'new-secret')
                buttons.clear()
                with buttons:
                    ui.button('Close', on_click=dialog.close).props('flat')

            with ui.row().classes('justify-end w-full') as buttons:
                ui.button('Cancel', on_click=dialog.close).props('flat')
                ui.button('Save changes', on_click=save)
        dialog.open()

    def ask_replay(self, name: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f'Replay stream "{name}"').classes('text-lg font-semibold')
            ui.label('Resends every matching event from this time on (UTC unless the time names a zone).')
            since = ui.input('Since', placeholder='2026-10-01T00:00:00Z').classes('w-72')
            error = ui.label('').classes('text-negative text-sm')

            async def replay() -> None:
                try:
                    moment = parse_timestamp((since.value or '').strip(), 'Since')
                except ValidationError as exc:
                    raise StoreError(str(exc)) from None
                await db.call(streams.replay_stream, name, moment, self.account.email)

            action_buttons(dialog, error, 'Replay', replay, f'Replaying {name}', self.refresh_soon)
        dialog.open()

    def ask_remove(self, name: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f'Remove stream "{name}"?').classes('text-lg font-semibold')
            ui.label('It stops delivering. Its history stays in the log.')
            error = ui.label('').classes('text-negative text-sm')
            action_buttons(dialog, error, 'Remove stream',
                           lambda: db.call(streams.remove_stream, name, self.account.email),
                           f'Removed {name}', self.refresh_soon, props='color=negative')
        dialog.open()

    async def send_test(self, name: str) -> None:
        try:
            sent, failed = await db.call(_test, name), None
        except (DeliveryError, StoreError) as exc:
            sent, failed = None, str(exc)
        with ui.dialog() as dialog, ui.card().classes('max-w-3xl'):
            if failed is None:
                ui.label(f'Sent a test event to "{name}"').classes('text-lg font-semibold')
                ui.code(sent or '', language='json').classes('w-full max-h-96 overflow-auto').mark('test-sent')
            else:
                ui.label(f'The test event to "{name}" failed').classes('text-lg font-semibold text-negative')
                ui.label(failed).classes('text-negative').mark('test-error')
            ui.button('Close', on_click=dialog.close).props('flat')
        dialog.open()

    def add_form(self, prefill: EventFilter, workspaces: list[str]) -> None:
        with ui.card().classes('w-full max-w-4xl').mark('add-stream'):
            ui.label('Add a stream').classes('text-lg font-semibold')
            fields = StreamFields(prefill, workspaces)
            with ui.row().classes('w-full items-start gap-3'):
                name = ui.input('Stream name').props('autocomplete=off').classes('w-56')
                fields.destination()
            fields.filters()
            error = ui.label('').classes('text-negative text-sm').mark('stream-error')
            shown = ui.column().classes('w-full')

            async def create() -> None:
                try:
                    stream, secret = await db.call(streams.create_stream, name.value or '', fields.to.value or '',
                                                   fields.fmt.value, fields.filter(), self.account.email,
                                                   digest_minutes=fields.digest_minutes())
                except StoreError as exc:
                    error.set_text(str(exc))
                    return
                error.set_text('')
                name.value = ''
                shown.clear()
                if secret:
                    show_secret_once(shown, f'Signing secret of "{stream.name}": copy it now, it is not shown again. '
                                     'Each request carries X-Audit-Signature: sha256=HMAC-SHA256(secret, body).',
                                     'Signing secret', secret, 'new-secret')
                ui.notify(f'Created stream {stream.name}', type='positive')
                await self.refresh()

            ui.button('Create stream', on_click=create)


def prefill_from(params: dict[str, str]) -> EventFilter:
    """The add form's filter from the URL (what "Stream this view" passes); unknown values are left out."""
    scope = params.get('scope') if params.get('scope') in taxonomy.SCOPES else None
    category = params.get('category') if params.get('category') in taxonomy.all_categories() else None
    status = params.get('status') if params.get('status') in ('SUCCESS', 'FAILED') else None
    return EventFilter(search=params.get('search', ''), scope=scope, category=category, status=status,
                       user=params.get('user') or None, workspace=params.get('workspace') or None)


def register() -> None:
    @ui.page(PATH)
    async def streams_page(request: Request):
        me = await session.page_account(request, owner_only=True)
        if not isinstance(me, Account):
            return me
        rows = await db.call(stream_rows)
        workspaces = await db.call(workspace_names)
        with frame(me, 'Streams'):
            StreamsView(me, rows, prefill_from(dict(request.query_params)), workspaces)
        return None
