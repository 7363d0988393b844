"""The filter bar: Search, Scope, Category, a place for the page's buttons, and a chip per active filter.

Every change made by the user becomes a new FilterState handed to `on_change`; the page then calls
`show(state)`, which sets the widgets to it. Setting a widget fires its change handler again, but the
state it computes equals the current one, so nothing is loaded twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from store import taxonomy
from ui.filter_state import MAX_SEARCH, FilterState

OnChange = Callable[[FilterState], Awaitable[None]]
SEARCH_DEBOUNCE_MS = 300


def scope_options() -> dict[str | None, str]:
    return {None: '', **{scope: scope for scope in taxonomy.SCOPES}}


def category_options(scope: str | None) -> dict[str | None, str]:
    return {None: '', **{name: name for name in taxonomy.categories(scope or '')}}


class FilterBar:
    def __init__(self, state: FilterState, on_change: OnChange) -> None:
        self.state = state
        self._on_change = on_change
        with ui.row().classes('w-full items-center gap-3'):
            self.search = ui.input('Search', value=state.search, on_change=self._search_changed) \
                .props(f'clearable debounce={SEARCH_DEBOUNCE_MS} maxlength={MAX_SEARCH} dense outlined') \
                .classes('w-72').mark('search')
            self.scope = ui.select(scope_options(), label='Scope', value=state.scope,
                                   on_change=lambda e: self._changed(self.state.with_scope(e.value))) \
                .props('dense outlined').classes('w-44').mark('scope')
            self.category = ui.select(category_options(state.scope), label='Category', value=state.category,
                                      on_change=lambda e: self._changed(self.state.with_category(e.value))) \
                .props('dense outlined').classes('w-44').mark('category')
            self.category.set_enabled(state.scope is not None)
            ui.space()
            self.actions = ui.row().classes('items-center gap-2')
        self.chips = ui.row().classes('w-full items-center gap-1 min-h-[2rem]').mark('chips')
        self._show_chips()

    async def _search_changed(self, e) -> None:
        await self._changed(self.state.with_search(e.value))

    async def _changed(self, state: FilterState) -> None:
        if state != self.state:
            await self._on_change(state)

    async def clear(self, name: str | None = None) -> None:
        """Clear one filter, or all of them."""
        await self._changed(self.state.without(name) if name else FilterState())

    def show(self, state: FilterState) -> None:
        """Set the widgets and chips to `state`."""
        self.state = state
        if self.scope.value != state.scope:
            self.scope.value = state.scope
        self.category.set_options(category_options(state.scope), value=state.category)
        self.category.set_enabled(state.scope is not None)
        if FilterState().with_search(self.search.value).search != state.search:
            self.search.value = state.search  # a cleared chip; typing a trailing space is left alone
        self._show_chips()

    def _show_chips(self) -> None:
        self.chips.clear()
        with self.chips:
            for name, text in self.state.chips():
                ui.chip(text, removable=True, color='blue-1', text_color='blue-10',
                        on_value_change=lambda e, name=name: None if e.value else self.clear(name)) \
                    .mark(f'chip-{name}')
