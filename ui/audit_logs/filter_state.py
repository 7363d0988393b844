"""The Audit Logs page's filters as one value: to the store's EventFilter, to and from the URL, to chips.

A new filter is added here as a field, with its URL parameter, its chip label and its check of a
value read from a link.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from store.ledger import taxonomy
from store.ledger.validation import ValidationError, parse_timestamp
from store.read.events import EventFilter

MAX_SEARCH = 200  # longer text is cut: nobody types more, and it keeps links and queries bounded
PAGE_PATH = '/audit-logs'
STREAMS_PATH = '/streams'  # the Streams page (ui/pages/streams.py): "Stream this view" fills its add form
STREAM_FILTERS = ('scope', 'category', 'status', 'search', 'user', 'workspace')  # a stream has no time range
STATUSES = ('SUCCESS', 'FAILED')
# URL value -> (chip text, length), newest first: the time range runs from `now - length` on
PRESETS: dict[str, tuple[str, timedelta]] = {
    '1h': ('last hour', timedelta(hours=1)),
    '24h': ('last 24 hours', timedelta(hours=24)),
    '7d': ('last 7 days', timedelta(days=7)),
    '30d': ('last 30 days', timedelta(days=30)),
}

# chip name -> chip label, in the order chips appear; 'time' stands for a preset or a custom since/until
LABELS: dict[str, str] = {'scope': 'Scope', 'category': 'Category', 'search': 'Search', 'status': 'Status',
                          'user': 'User', 'workspace': 'Workspace', 'time': 'Time'}
TIME_FORMAT = '%Y-%m-%d %H:%M'
UTC_ZONE = ZoneInfo('UTC')


def clean_text(text: str | None) -> str:
    return ''.join(ch for ch in (text or '') if ch >= ' ').strip()[:MAX_SEARCH]



def iso_utc(moment: datetime) -> str:
    """A time for the URL: ISO 8601 in UTC with a Z, milliseconds only when there are any."""
    moment = moment.astimezone(UTC)
    spec = 'milliseconds' if moment.microsecond else 'seconds'
    return moment.isoformat(timespec=spec).replace('+00:00', 'Z')


def show_time(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return local.strftime(TIME_FORMAT if not local.second and not local.microsecond else TIME_FORMAT + ':%S')


@dataclass(frozen=True)
class FilterState:
    search: str = ''
    scope: str | None = None
    category: str | None = None
    status: str | None = None
    user: str | None = None
    workspace: str | None = None
    time: str | None = None  # a key of PRESETS; exclusive with since/until
    since: datetime | None = None
    until: datetime | None = None

    def to_filter(self, now: datetime | None = None) -> EventFilter:
        """The store's filter; a preset time range ends now (a later call, a later window)."""
        since, until = self.since, self.until
        if self.time:
            since, until = (now or datetime.now(UTC)) - PRESETS[self.time][1], None
        return EventFilter(search=self.search, scope=self.scope, category=self.category, status=self.status,
                           user=self.user, since=since, until=until, workspace=self.workspace)

    def time_text(self, tz: ZoneInfo = UTC_ZONE) -> str | None:
        if self.time:
            return PRESETS[self.time][0]
        if self.since and self.until:
            return f'{show_time(self.since, tz)} – {show_time(self.until, tz)}'
        if self.since:
            return f'from {show_time(self.since, tz)}'
        if self.until:
            return f'until {show_time(self.until, tz)}'
        return None

    def values(self, tz: ZoneInfo = UTC_ZONE) -> dict[str, str]:
        """The active filters by chip name, in display order."""
        values = {name: getattr(self, name) for name in LABELS if name != 'time'}
        values['time'] = self.time_text(tz)
        return {name: value for name, value in values.items() if value}

    def chips(self, tz: ZoneInfo = UTC_ZONE) -> list[tuple[str, str]]:
        """(name, text) for each active filter, e.g. ('scope', 'Scope: Billing'), ('time', 'Time: last 7 days')."""
        return [(name, f'{LABELS[name]}: {value}') for name, value in self.values(tz).items()]

    def is_empty(self) -> bool:
        return not self.values()

    def with_search(self, text: str | None) -> FilterState:
        return replace(self, search=clean_text(text))

    def with_scope(self, scope: str | None) -> FilterState:
        """A new scope keeps the category only when the category belongs to it."""
        scope = scope or None
        category = self.category if scope and self.category in taxonomy.categories(scope) else None
        return replace(self, scope=scope, category=category)

    def with_category(self, category: str | None) -> FilterState:
        if category and (not self.scope or category not in taxonomy.categories(self.scope)):
            return replace(self, category=None)
        return replace(self, category=category or None)

    def with_status(self, status: str | None) -> FilterState:
        return replace(self, status=status if status in STATUSES else None)

    def with_user(self, user: str | None) -> FilterState:
        return replace(self, user=clean_text(user) or None)

    def with_workspace(self, workspace: str | None) -> FilterState:
        return replace(self, workspace=clean_text(workspace) or None)

    def with_time(self, preset: str | None) -> FilterState:
        """A preset range (or None for all time); it replaces a custom range."""
        return replace(self, time=preset if preset in PRESETS else None, since=None, until=None)

    def with_range(self, since: datetime | None, until: datetime | None) -> FilterState:
        """A custom range [since, until); either side may be open. Raises ValueError when it is empty."""
        if since and until and since >= until:
            raise ValueError('the start of the time range must be before its end')
        return replace(self, time=None, since=since, until=until)

    def without(self, name: str) -> FilterState:
        """The state with one filter cleared; clearing the scope clears the category too."""
        if name == 'scope':
            return self.with_scope(None)
        if name == 'category':
            return self.with_category(None)
        if name == 'search':
            return self.with_search('')
        if name == 'time':
            return self.with_time(None)
        if name == 'status':
            return replace(self, status=None)
        if name == 'user':
            return replace(self, user=None)
        if name == 'workspace':
            return replace(self, workspace=None)
        raise ValueError(f'unknown filter {name!r}')

    def params(self) -> dict[str, str]:
        """The URL parameters, in a fixed order."""
        params = {name: getattr(self, name) for name in ('scope', 'category', 'search', 'status', 'user',
                                                         'workspace', 'time')}
        params['since'] = iso_utc(self.since) if self.since else None
        params['until'] = iso_utc(self.until) if self.until else None
        return {name: value for name, value in params.items() if value}

    def query_string(self) -> str:
        return urlencode(self.params(), quote_via=quote)

    def url(self) -> str:
        query = self.query_string()
        return f'{PAGE_PATH}?{query}' if query else PAGE_PATH

    def stream_url(self) -> str:
        """The Streams page with its add form filled from this view's filters."""
        params = {name: value for name, value in self.params().items() if name in STREAM_FILTERS}
        return f'{STREAMS_PATH}?{urlencode(params, quote_via=quote)}' if params else STREAMS_PATH

    @classmethod
    def from_query(cls, params: Mapping[str, str],
                   workspaces: Collection[str] | None = None) -> tuple[FilterState, list[str]]:
        """The state a link asks for, and a notice for each value that was ignored (never an error).

        `workspaces` are the workspaces the viewer may see; a link naming another one is ignored.
        """
        notices: list[str] = []

        def given(name: str) -> str:
            return clean_text(params.get(name))

        state = cls().with_search(params.get('search'))
        scope = given('scope')
        if scope:
            if scope in taxonomy.SCOPES:
                state = state.with_scope(scope)
            else:
                notices.append(f'Ignored unknown scope "{scope[:60]}" from the link.')
        category = given('category')
        if category:
            if state.scope and category in taxonomy.categories(state.scope):
                state = state.with_category(category)
            elif state.scope:
                notices.append(f'Ignored category "{category[:60]}" from the link: it is not a category of '
                               f'{state.scope}.')
            else:
                notices.append(f'Ignored category "{category[:60]}" from the link: choose a scope first.')
        status = given('status')
        if status:
            if status.upper() in STATUSES:
                state = state.with_status(status.upper())
            else:
                notices.append(f'Ignored unknown status "{status[:60]}" from the link: use SUCCESS or FAILED.')
        state = state.with_user(given('user'))
        workspace = given('workspace')
        if workspace:
            if workspaces is None or workspace in workspaces:
                state = state.with_workspace(workspace)
            else:
                notices.append(f'Ignored workspace "{workspace[:60]}" from the link: it is not a workspace you '
                               'can see.')
        state, time_notices = _time_from_query(state, given('time'), given('since'), given('until'))
        return state, notices + time_notices


def _time_from_query(state: FilterState, preset: str, since_text: str, until_text: str) -> tuple[FilterState, list]:
    notices: list[str] = []
    if preset:
        if preset in PRESETS:
            if since_text or until_text:
                notices.append(f'Ignored since/until from the link: it also names the time range "{preset}".')
            return state.with_time(preset), notices
        notices.append(f'Ignored unknown time range "{preset[:60]}" from the link: use '
                       f'{", ".join(PRESETS)}, or since and until.')
    bounds: dict[str, datetime | None] = {'since': None, 'until': None}
    for name, text in (('since', since_text), ('until', until_text)):
        if text:
            try:  # a '+' of an offset arrives as a space when the link was not encoded
                bounds[name] = parse_timestamp(text.replace(' ', '+') if 'T' in text else text, name)
            except ValidationError:
                notices.append(f'Ignored {name} "{text[:60]}" from the link: use an ISO 8601 time such as '
                               '2026-10-01T08:00:00Z.')
    try:
        return state.with_range(bounds['since'], bounds['until']), notices
    except ValueError:
        notices.append('Ignored the time range from the link: since must be before until.')
        return state, notices
