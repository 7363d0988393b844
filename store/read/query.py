"""The one query of every read: a viewer's visibility, then the filter, as a WHERE clause on `event e`.

Every reader (the table, its total, the chart, the export, the API, the command line) goes through
`select_events`; the daily and hourly counts are read through `rollup_where`, which applies the same
visibility and facets. Nothing else in the project reads the event table for a viewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.derived import event_days, search_file, search_index
from store.engine.db import database, is_sqlite
from store.engine.dialect import substring_clause, substring_param
from store.engine.timefmt import to_millis
from store.ledger.buckets import DAY

MIN_INDEXED_TERM = 3  # a term of this many characters or more is found by all of its trigrams


def is_indexed(term: str) -> bool:
    """Whether the search index (SQLite) narrows `term`'s candidates: three characters or more, or two ASCII ones
    (store/derived/search_file.py `starting_with`)."""
    return len(term) >= MIN_INDEXED_TERM or (len(term) == 2 and term.isascii())


def term_query(term: str) -> str:
    """The search index's query for the candidates of an indexed term (`is_indexed`)."""
    return search_file.starting_with(term) if len(term) < MIN_INDEXED_TERM else trigram_query(term)


def exact_query(term: str) -> str:
    """The search index's query for exactly the indexed events holding an indexed ASCII term, whose text is ASCII
    (the index folds other letters as the search's lower-casing may not): the term as one phrase, its trigrams
    side by side at their positions; two characters by the trigrams starting with them.

    For reading pages `term_query` stays: without positions to read, a common term's candidates come quicker
    (measured at 1M events: 'notebook' 63 against 104 ms, 'service' 138 against 180), and the few that are not
    matches are dropped on their rows anyway."""
    return search_file.starting_with(term) if len(term) < MIN_INDEXED_TERM else search_index.phrase(term)


@dataclass(frozen=True)
class Viewer:
    """Whose eyes: the whole organization (workspaces is None) or only the named workspaces."""

    name: str
    workspaces: frozenset[str] | None = None

    @property
    def is_organization(self) -> bool:
        return self.workspaces is None

    @classmethod
    def organization(cls, name: str = 'organization') -> Viewer:
        return cls(name, None)

    @classmethod
    def of_workspaces(cls, name: str, workspaces: set[str] | frozenset[str] | list[str]) -> Viewer:
        return cls(name, frozenset(workspaces))


@dataclass(frozen=True)
class EventFilter:
    search: str = ''
    scope: str | None = None
    category: str | None = None
    status: str | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    workspace: str | None = None

    def active(self) -> dict[str, str]:
        """The filters that narrow the view, by name, for chips, file headers and self-audit."""
        values = {'search': self.search.strip(), 'scope': self.scope, 'category': self.category,
                  'status': self.status, 'user': self.user, 'workspace': self.workspace,
                  'since': self.since.isoformat() if self.since else None,
                  'until': self.until.isoformat() if self.until else None}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Query:
    where: str
    params: list[Any] = field(default_factory=list)


def _visible_facets(viewer: Viewer, flt: EventFilter, table: str) -> tuple[list[str], list[Any]] | None:
    """Visibility, workspace, scope, category and status as conditions on `table` (the events or their
    daily counts, which share these columns); None when the viewer may see nothing."""
    clauses: list[str] = []
    params: list[Any] = []
    if viewer.workspaces is not None:
        names = sorted(viewer.workspaces)
        if not names:
            return None
        clauses.append(f'{table}.workspace_id IN (SELECT id FROM workspace WHERE name IN ({_marks(names)}))')
        params += names
    if flt.workspace:
        clauses.append(f'{table}.workspace_id = (SELECT id FROM workspace WHERE name = ?)')
        params.append(flt.workspace)
    for column, value in (('scope', flt.scope), ('category', flt.category), ('status', flt.status)):
        if value:
            clauses.append(f'{table}.{column} = ?')
            params.append(value)
    return clauses, params


Span = tuple[int, int]  # the events at positions lo < seq <= hi


def select_events(viewer: Viewer, flt: EventFilter, *, narrow_search: bool = True, span: Span | None = None) -> Query:
    """The WHERE clause of every read: the viewer's visibility first, then the filter.

    With `narrow_search` off, a search is tested row by row without the trigram index: faster when
    a page of newest matches of a common term is found after a few hundred rows in time order. With a
    `span`, only the events at those positions (store/read/counts.py counts a store in parts side by side).
    """
    facets = _visible_facets(viewer, flt, 'e')
    if facets is None:
        return Query('0 = 1')
    clauses, params = facets
    if span:
        clauses.append('e.seq > ? AND e.seq <= ?')
        params += span
    if flt.user:
        clauses.append('e.actor = ?')
        params.append(flt.user)
    add_time_range(flt, 'e', clauses, params)
    term = normalize_search(flt.search)
    if term:
        names = search_file.names(term) if narrow_search and is_indexed(term) and is_sqlite() else None
        if names and not names.too_many:  # the index holds no names: their events are found by their markers
            match, match_params = index_query('?', [names.matching(term_query(term))], viewer, flt)
            found, found_params = search_file.candidates(match, match_params, span, names.upto)
            clauses.append(f'e.seq IN ({found})')
            params += found_params
        # PostgreSQL: LIKE with the trigram GIN index; it chooses between index and time order itself.
        clauses.append(substring_clause('e.search_text'))
        params.append(substring_param(term))
    return Query(' AND '.join(clauses) or WHOLE_STORE, params)


WHOLE_STORE = '1 = 1'  # the WHERE clause of a view without any condition


def within(viewer: Viewer, flt: EventFilter) -> event_days.Within | None:
    """The view `viewer` and `flt` (its keyword aside) as the values of the events' entries held in memory
    (store/derived/event_days.py): the ids of the pairs and workspaces it holds, and its status; None when it has
    another condition (a user, a time range), which they cannot answer. SQLite: the pairs' ids are the search
    index's (store/derived/search_index.py)."""
    if flt.user or flt.since or flt.until or flt.status not in (None, '', 'SUCCESS', 'FAILED'):
        return None
    pairs = search_index.pair_ids(flt.scope, flt.category) if flt.scope or flt.category else None
    workspaces: frozenset[int] | None = None
    for names in (viewer.workspaces, {flt.workspace} if flt.workspace else None):
        if names is not None:
            ids = _workspace_ids(sorted(names))
            workspaces = ids if workspaces is None else workspaces & ids
    return event_days.Within(pairs, workspaces, flt.status == 'FAILED' if flt.status else None)


def _workspace_ids(names: list[str]) -> frozenset[int]:
    if not names:
        return frozenset()
    rows = database.execute_sql(f'SELECT id FROM workspace WHERE name IN ({_marks(names)})', names)
    return frozenset(row[0] for row in rows)


def index_query(match_sql: str, match_params: list[Any], viewer: Viewer, flt: EventFilter) -> tuple[str, list[Any]]:
    """A trigram index query (SQL of a string, and its parameters) narrowed to the workspaces the viewer or the
    filter limits the read to, by their markers (store/derived/search_index.py)."""
    names = [flt.workspace] if flt.workspace else sorted(viewer.workspaces or ())
    if not names or len(names) > search_index.MAX_WORKSPACES:
        return match_sql, match_params
    narrowed, names = search_index.in_workspaces(match_sql, names)
    return narrowed, [*match_params, *names]


def add_time_range(flt: EventFilter, table: str, clauses: list[str], params: list[Any]) -> None:
    """The filter's [since, until) as conditions on `table`.ts (milliseconds)."""
    if flt.since:
        clauses.append(f'{table}.ts >= ?')
        params.append(to_millis(flt.since))
    if flt.until:
        clauses.append(f'{table}.ts < ?')
        params.append(to_millis(flt.until))


def normalize_search(search: str | None) -> str:
    """The search as matched: lower-cased, trimmed, with control characters removed."""
    if not search:
        return ''
    return ''.join(ch for ch in search if ch >= ' ').strip().lower()


def trigram_query(term: str) -> str:
    """An FTS5 query for rows holding every trigram of `term`, a superset of the substring matches."""
    grams = dict.fromkeys(term[i:i + 3] for i in range(len(term) - 2))
    return ' AND '.join(search_index.phrase(gram) for gram in grams)


def _marks(values: list[Any]) -> str:
    return ','.join('?' * len(values))


def days_touched_where(viewer: Viewer, flt: EventFilter, by_user: bool = False) -> tuple[str, list] | None:
    """`rollup_where` over every whole UTC day the filter's range touches: a superset of the view's events."""
    first = to_millis(flt.since) // DAY if flt.since else None
    end = -(-to_millis(flt.until) // DAY) if flt.until else None
    return rollup_where(viewer, flt, first, end, by_user)


def rollup_where(viewer: Viewer, flt: EventFilter, first: int | None, end: int | None,
                 by_user: bool = False) -> tuple[str, list] | None:
    """The daily counts (`event_count c`) the viewer may see that match `flt`, for UTC days [first, end);
    None when the viewer may see nothing. A search cannot be answered from these counts, and a user filter
    only from the counts per user (`event_user_count c`, `by_user`); the others leave it out."""
    facets = _visible_facets(viewer, flt, 'c')
    if facets is None:
        return None
    clauses, params = facets
    if by_user and flt.user:
        clauses.append('c.actor = ?')
        params.append(flt.user)
    if first is not None:
        clauses.append('c.day >= ?')
        params.append(first)
    if end is not None:
        clauses.append('c.day < ?')
        params.append(end)
    return ' AND '.join(clauses) or '1 = 1', params
