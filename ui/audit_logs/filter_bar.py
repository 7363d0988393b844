"""The filter bar: Search, Scope, Category, Status, User, Workspace, Time range, a place for the page's
buttons, and a chip per active filter.

Every change made by the user becomes a new FilterState handed to `on_change`; the page then calls
`show(state)`, which sets the widgets to it. Setting a widget fires its change handler again, but the
state it computes equals the current one, so nothing is loaded twice.

Search is set only when the state's search is not the text the input itself reported last (a chip or
Clear filters cleared it). The input's value on the server follows the browser's debounce, so right after
Enter it may still hold the search before; setting it then to the text the browser already shows raced with
the browser's own report of that text, NiceGUI kept the browser's older copy of the value and sent that back,
and the search before replaced the one just entered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from nicegui import ui
from nicegui.events import GenericEventArguments

from store.ledger import taxonomy
from ui.audit_logs.filter_state import MAX_SEARCH, PRESETS, STATUSES, UTC_ZONE, FilterState

OnChange = Callable[[FilterState], Awaitable[None]]
LoadUsers = Callable[[], Awaitable[list[str]]]
SEARCH_DEBOUNCE_MS = 300
CUSTOM = 'custom'
SEARCH_CLASS = 'audit-search'  # the `/` key focuses the input inside this element
LOCAL_INPUT = '%Y-%m-%dT%H:%M'  # what <input type="datetime-local"> reads and writes


def scope_options() -> dict[str | None, str]:
    return {None: '', **{scope: scope for scope in taxonomy.SCOPES}}


def category_options(scope: str | None) -> dict[str | None, str]:
    return {None: '', **{name: name for name in taxonomy.categories(scope or '')}}


def time_options() -> dict[str | None, str]:
    return {None: 'All time', **{key: text.capitalize() for key, (text, _) in PRESETS.items()},
            CUSTOM: 'Custom range…'}


def time_value(state: FilterState) -> str | None:
    return state.time or (CUSTOM if state.since or state.until else None)


def parse_local(text: str | None, tz: ZoneInfo) -> datetime | None:
    """A value of a datetime-local input, read in the display time zone; ValueError when it is not one."""
    text = (text or '').strip()
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=tz)


class FilterBar:
    def __init__(self, state: FilterState, on_change: OnChange, tz: ZoneInfo = UTC_ZONE,
                 workspaces: list[str] | None = None, load_users: LoadUsers | None = None) -> None:
        self.state = state
        self._on_change = on_change
        self._tz = tz
        self._load_users = load_users
        with ui.row().classes('w-full items-center gap-x-3 gap-y-2'):
            self.search = ui.input('Search', value=state.search, on_change=self._search_changed) \
                .props(f'clearable debounce={SEARCH_DEBOUNCE_MS} maxlength={MAX_SEARCH} dense outlined') \
                .classes(f'w-64 {SEARCH_CLASS}').mark('search')
            self.search.tooltip('Press / to search')
            self._typed = state.search  # the search the input's text stands for, as the browser reported it last
            # Enter searches at once with what is typed, instead of after the debounce (the model the debounce
            # updates later then holds the same search, which changes nothing).
            self.search.on('keydown.enter', self._search_entered, js_handler='(e) => emit(e.target.value)')
            self.scope = ui.select(scope_options(), label='Scope', value=state.scope,
                                   on_change=lambda e: self._changed(self.state.with_scope(e.value))) \
                .props('dense outlined').classes('w-40').mark('scope')
            self.category = ui.select(category_options(state.scope), label='Category', value=state.category,
                                      on_change=lambda e: self._changed(self.state.with_category(e.value))) \
                .props('dense outlined').classes('w-40').mark('category')
            self.category.set_enabled(state.scope is not None)
            self.status = ui.select({None: '', **{s: s for s in STATUSES}}, label='Status', value=state.status,
                                    on_change=lambda e: self._changed(self.state.with_status(e.value))) \
                .props('dense outlined').classes('w-32').mark('status')
            self.user = ui.select(self._user_options([]), label='User', value=state.user,
                                  new_value_mode='add-unique', clearable=True,
                                  on_change=lambda e: self._changed(self.state.with_user(e.value))) \
                .props('dense outlined input-debounce=0 hide-dropdown-icon').classes('w-56').mark('user')
            self.user.on('focus', self._fill_users)
            self._users_for: FilterState | None = None  # the state whose users the list holds
            self.workspace = ui.select({None: '', **{w: w for w in workspaces or []}}, label='Workspace',
                                       value=state.workspace,
                                       on_change=lambda e: self._changed(self.state.with_workspace(e.value))) \
                .props('dense outlined').classes('w-40').mark('workspace')
            with ui.row().classes('items-center gap-0 no-wrap'):
                self.time = ui.select(time_options(), label='Time range', value=time_value(state),
                                      on_change=self._time_changed) \
                    .props('dense outlined').classes('w-44').mark('time')
                ui.button(icon='edit_calendar', on_click=self.open_custom_range) \
                    .props('flat round dense aria-label="Custom time range"').tooltip('Custom time range') \
                    .mark('custom-range-button')
            ui.space()
            self.actions = ui.row().classes('items-center gap-2')
        self.chips = ui.row().classes('w-full items-center gap-1 min-h-[2rem]').mark('chips')
        self._show_chips()

    def _user_options(self, users: list[str]) -> list[str]:
        return sorted(set(users) | ({self.state.user} if self.state.user else set()))

    async def _fill_users(self) -> None:
        """The users in view, read when the field gets the focus and the filters changed since the last read
        (reading them scans the matching events; typing a user needs no list)."""
        if self._load_users is None or self._users_for == self.state:
            return
        self._users_for = self.state
        users = await self._load_users()
        self.user.set_options(self._user_options(users), value=self.state.user)

    async def _search_changed(self, e) -> None:
        await self._search_typed(e.value)

    async def _search_entered(self, e: GenericEventArguments) -> None:
        await self._search_typed(e.args if isinstance(e.args, str) else '')

    async def _search_typed(self, text: str | None) -> None:
        state = self.state.with_search(text)
        self._typed = state.search
        await self._changed(state)

    async def _time_changed(self, e) -> None:
        if e.value == CUSTOM:
            if time_value(self.state) != CUSTOM:
                self.open_custom_range()
            return
        await self._changed(self.state.with_time(e.value))

    async def _changed(self, state: FilterState) -> None:
        if state != self.state:
            await self._on_change(state)

    async def clear(self, name: str | None = None) -> None:
        """Clear one filter, or all of them."""
        await self._changed(self.state.without(name) if name else FilterState())

    def open_custom_range(self) -> None:
        """A dialog for a from-to range in the display time zone; either side may stay empty."""
        def local(moment: datetime | None) -> str:
            return moment.astimezone(self._tz).strftime(LOCAL_INPUT) if moment else ''

        async def apply() -> None:
            try:
                state = self.state.with_range(parse_local(since.value, self._tz), parse_local(until.value, self._tz))
            except ValueError as exc:
                error.set_text(str(exc) if 'before' in str(exc) else 'Enter a date and time, or leave it empty.')
                return
            dialog.close()
            await self._changed(state)

        with ui.dialog().props('aria-label="Custom time range"') as dialog, \
                ui.card().classes('min-w-[22rem]').mark('custom-range'):
            ui.label('Custom time range').classes('text-lg font-semibold')
            ui.label(f'In time zone {self._tz.key}; leave a side empty to keep it open.').classes('text-sm')
            props = 'type=datetime-local dense outlined stack-label'
            since = ui.input('From', value=local(self.state.since)).props(props).classes('w-full').mark('range-from')
            until = ui.input('To', value=local(self.state.until)).props(props).classes('w-full').mark('range-to')
            error = ui.label().classes('text-negative text-sm')
            with ui.row().classes('w-full justify-end'):
                ui.button('Cancel', on_click=dialog.close).props('flat')
                ui.button('Apply', on_click=apply)

        def closed() -> None:
            dialog.delete()
            self.show(self.state)
        dialog.on('hide', closed)
        dialog.open()

    def take(self, state: FilterState) -> None:
        """Make `state` the one the next change starts from, before `show` sets the widgets and chips to it."""
        self.state = state

    def show(self, state: FilterState) -> None:
        """Set the widgets and chips to `state`."""
        self.state = state
        if self.scope.value != state.scope:
            self.scope.value = state.scope
        self.category.set_options(category_options(state.scope), value=state.category)
        self.category.set_enabled(state.scope is not None)
        if self.status.value != state.status:
            self.status.value = state.status
        if self.user.value != state.user:
            self.user.set_options(self._user_options(list(self.user.options)), value=state.user)
        if self.workspace.value != state.workspace:
            self.workspace.value = state.workspace
        if self.time.value != time_value(state):
            self.time.value = time_value(state)
        if self._typed != state.search:  # a cleared chip (see the module); a trailing space typed is left alone
            self._typed = state.search
            self.search.value = state.search
        self._show_chips()

    def _show_chips(self) -> None:
        self.chips.clear()
        with self.chips:
            for name, text in self.state.chips(self._tz):
                ui.chip(text, removable=True, color='blue-1', text_color='blue-10',
                        on_value_change=lambda e, name=name: None if e.value else self.clear(name)) \
                    .mark(f'chip-{name}')
