"""The Audit Logs page's filters as one value: to the store's EventFilter, to and from the URL, to chips.

Later filters (Status, User, Time range) are added here as fields, each with its URL parameter,
its chip label and its check of a value read from a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote, urlencode

from store import taxonomy
from store.events import EventFilter

MAX_SEARCH = 200  # longer text is cut: nobody types more, and it keeps links and queries bounded
PAGE_PATH = '/audit-logs'

# field name (also the URL parameter) -> chip label, in the order chips and URL parameters appear
LABELS: dict[str, str] = {'scope': 'Scope', 'category': 'Category', 'search': 'Search'}


def clean_search(text: str | None) -> str:
    return ''.join(ch for ch in (text or '') if ch >= ' ').strip()[:MAX_SEARCH]


@dataclass(frozen=True)
class FilterState:
    search: str = ''
    scope: str | None = None
    category: str | None = None

    def to_filter(self) -> EventFilter:
        return EventFilter(search=self.search, scope=self.scope, category=self.category)

    def values(self) -> dict[str, str]:
        """The active filters by field name, in display order."""
        return {name: value for name in LABELS if (value := getattr(self, name))}

    def chips(self) -> list[tuple[str, str]]:
        """(field, text) for each active filter, e.g. ('scope', 'Scope: Billing')."""
        return [(name, f'{LABELS[name]}: {value}') for name, value in self.values().items()]

    def is_empty(self) -> bool:
        return not self.values()

    def with_search(self, text: str | None) -> FilterState:
        return replace(self, search=clean_search(text))

    def with_scope(self, scope: str | None) -> FilterState:
        """A new scope keeps the category only when the category belongs to it."""
        scope = scope or None
        category = self.category if scope and self.category in taxonomy.categories(scope) else None
        return replace(self, scope=scope, category=category)

    def with_category(self, category: str | None) -> FilterState:
        if category and (not self.scope or category not in taxonomy.categories(self.scope)):
            return replace(self, category=None)
        return replace(self, category=category or None)

    def without(self, name: str) -> FilterState:
        """The state with one filter cleared; clearing the scope clears the category too."""
        if name == 'scope':
            return self.with_scope(None)
        if name == 'category':
            return self.with_category(None)
        if name == 'search':
            return self.with_search('')
        raise ValueError(f'unknown filter {name!r}')

    def query_string(self) -> str:
        return urlencode(self.values(), quote_via=quote)

    def url(self) -> str:
        query = self.query_string()
        return f'{PAGE_PATH}?{query}' if query else PAGE_PATH

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> tuple[FilterState, list[str]]:
        """The state a link asks for, and a notice for each value that was ignored (never an error)."""
        notices: list[str] = []
        state = cls().with_search(params.get('search'))
        scope = (params.get('scope') or '').strip()
        if scope:
            if scope in taxonomy.SCOPES:
                state = state.with_scope(scope)
            else:
                notices.append(f'Ignored unknown scope "{scope[:60]}" from the link.')
        category = (params.get('category') or '').strip()
        if category:
            if state.scope and category in taxonomy.categories(state.scope):
                state = state.with_category(category)
            elif state.scope:
                notices.append(f'Ignored category "{category[:60]}" from the link: it is not a category of '
                               f'{state.scope}.')
            else:
                notices.append(f'Ignored category "{category[:60]}" from the link: choose a scope first.')
        return state, notices
