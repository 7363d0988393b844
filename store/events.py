"""Reading events: the one query that applies a viewer's visibility and a filter.

Every reader (the table, its total, the chart, the export, the API, the command line) goes
through `select_events`; nothing else in the project reads the event table for a viewer.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from store import rollup
from store.db import database, is_sqlite, stream
from store.dialect import substring_clause, substring_param
from store.timefmt import from_millis, to_millis

SORTABLE = {
    'timestamp': 'e.ts', 'user': 'e.actor', 'scope': 'e.scope', 'category': 'e.category', 'action': 'e.action',
    'target': 'e.target', 'status': 'e.status', 'description': 'e.description',
}
MIN_INDEXED_TERM = 3  # the trigram index narrows terms of three characters or more


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
class Sort:
    column: str = 'timestamp'
    descending: bool = True

    def __post_init__(self) -> None:
        if self.column not in SORTABLE:
            raise ValueError(f'cannot sort by {self.column!r}; sortable columns are {", ".join(SORTABLE)}')


@dataclass
class EventPage:
    events: list[dict[str, Any]]
    total: int
    offset: int = 0


@dataclass(frozen=True)
class _Query:
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


def select_events(viewer: Viewer, flt: EventFilter, *, narrow_search: bool = True) -> _Query:
    """The WHERE clause of every read: the viewer's visibility first, then the filter.

    With `narrow_search` off, a search is tested row by row without the trigram index: faster when
    a page of newest matches of a common term is found after a few hundred rows in time order.
    """
    facets = _visible_facets(viewer, flt, 'e')
    if facets is None:
        return _Query('0 = 1')
    clauses, params = facets
    if flt.user:
        clauses.append('e.actor = ?')
        params.append(flt.user)
    if flt.since:
        clauses.append('e.ts >= ?')
        params.append(to_millis(flt.since))
    if flt.until:
        clauses.append('e.ts < ?')
        params.append(to_millis(flt.until))
    term = normalize_search(flt.search)
    if term:
        if narrow_search and len(term) >= MIN_INDEXED_TERM and is_sqlite():
            clauses.append('e.seq IN (SELECT rowid FROM event_search WHERE event_search MATCH ?)')
            params.append(trigram_query(term))
        # PostgreSQL: LIKE with the trigram GIN index; it chooses between index and time order itself.
        clauses.append(substring_clause('e.search_text'))
        params.append(substring_param(term))
    return _Query(' AND '.join(clauses) or '1 = 1', params)


def normalize_search(search: str | None) -> str:
    """The search as matched: lower-cased, trimmed, with control characters removed."""
    if not search:
        return ''
    return ''.join(ch for ch in search if ch >= ' ').strip().lower()


def trigram_query(term: str) -> str:
    """An FTS5 query for rows holding every trigram of `term`, a superset of the substring matches."""
    grams = dict.fromkeys(term[i:i + 3] for i in range(len(term) - 2))
    return ' AND '.join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _marks(values: list[Any]) -> str:
    return ','.join('?' * len(values))


COLUMNS = """e.seq, e.uid, e.ts, e.actor, e.scope, e.category, e.action, e.target, e.status, e.description,
             (SELECT name FROM workspace w WHERE w.id = e.workspace_id), e.metadata, e.hash"""


def _order(sort: Sort) -> str:
    direction = 'DESC' if sort.descending else 'ASC'
    column = SORTABLE[sort.column]
    if column == 'e.ts':
        return f'e.ts {direction}, e.seq {direction}'
    if column == 'e.category':  # categories repeat across scopes; one index serves this order and the filter
        return f'e.category {direction}, e.scope {direction}, e.ts {direction}, e.seq {direction}'
    return f'{column} {direction}, e.ts {direction}, e.seq {direction}'


def _event(row: tuple) -> dict[str, Any]:
    return {
        'seq': row[0], 'id': row[1], 'timestamp': from_millis(row[2]), 'user': row[3], 'scope': row[4],
        'category': row[5], 'action': row[6], 'target': row[7], 'status': row[8], 'description': row[9],
        'workspace': row[10], 'metadata': json.loads(row[11]) if row[11] else None, 'hash': row[12],
    }


def count_events(viewer: Viewer, flt: EventFilter) -> int:
    """The exact number of events `viewer` may see that match `flt`.

    Without a search or user filter, whole UTC days are summed from the daily counts and only the
    partial days at the edges of a time range are counted row by row.
    """
    if normalize_search(flt.search) or flt.user:
        return _count_rows(viewer, flt)
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    first, end = rollup.full_days(since, until)
    if first is not None and end is not None and first >= end:
        return _count_rows(viewer, flt)
    rollup_query = rollup_where(viewer, flt, first, end)
    if rollup_query is None:
        return 0
    where, params = rollup_query
    total = database.execute_sql(f'SELECT CAST(coalesce(sum(c.n), 0) AS BIGINT) FROM event_count c WHERE {where}',
                                 params).fetchone()[0]
    if first is not None and since != first * rollup.DAY_MS:
        total += _count_rows(viewer, replace(flt, until=from_millis(first * rollup.DAY_MS)))
    if end is not None and until != end * rollup.DAY_MS:
        total += _count_rows(viewer, replace(flt, since=from_millis(end * rollup.DAY_MS)))
    return total


def rollup_where(viewer: Viewer, flt: EventFilter, first: int | None, end: int | None) -> tuple[str, list] | None:
    """The daily counts (`event_count c`) the viewer may see that match `flt`, for UTC days [first, end);
    None when the viewer may see nothing. Search and user filters cannot be answered from these counts."""
    facets = _visible_facets(viewer, flt, 'c')
    if facets is None:
        return None
    clauses, params = facets
    if first is not None:
        clauses.append('c.day >= ?')
        params.append(first)
    if end is not None:
        clauses.append('c.day < ?')
        params.append(end)
    return ' AND '.join(clauses) or '1 = 1', params


def _count_rows(viewer: Viewer, flt: EventFilter) -> int:
    query = select_events(viewer, flt)
    if not (normalize_search(flt.search) or flt.user):
        return database.execute_sql(f'SELECT count(*) FROM event e WHERE {query.where}', query.params).fetchone()[0]
    return sum(success + failed for success, failed in _counts.hourly(viewer, flt, query).values())


HOUR_MS = 3_600_000


def hourly_counts(viewer: Viewer, flt: EventFilter) -> Mapping[int, tuple[int, int]]:
    """Matching events per UTC hour (`ts // HOUR_MS`): (SUCCESS, FAILED). For a keyword or user filter
    these are the counts the total is summed from, so a chart of them costs no second pass."""
    return _counts.hourly(viewer, flt, select_events(viewer, flt))


class _RowCounts:
    """Counts of keyword and user filters per UTC hour and status, kept per (visibility, filter) and
    brought up to date by counting only the events stored since: events are never changed or removed,
    so counts up to position N stay true. Paging, sorting, Refresh, live tail and the timeline then
    cost no second full pass; the total is their sum."""

    SIZE = 64  # views kept; each holds at most one entry per hour that has events

    def __init__(self) -> None:
        self._known: OrderedDict[tuple, tuple[int, str, dict[int, tuple[int, int]]]] = OrderedDict()
        self._lock = threading.Lock()
        # The table and the timeline ask for the same view side by side: the second waits for the first's pass.
        self._passes = [threading.Lock() for _ in range(16)]

    def hourly(self, viewer: Viewer, flt: EventFilter, query: _Query) -> dict[int, tuple[int, int]]:
        key = (getattr(database.obj, 'audit_url', ''), viewer.workspaces, flt)
        with self._passes[hash(key) % len(self._passes)]:
            return self._bring_up_to_date(key, query)

    def _bring_up_to_date(self, key: tuple, query: _Query) -> dict[int, tuple[int, int]]:
        head, head_hash = database.execute_sql(
            "SELECT coalesce(max(seq), 0), coalesce(max(hash), '') FROM event "
            'WHERE seq = (SELECT max(seq) FROM event)').fetchone()
        with self._lock:
            known = self._known.get(key)
        since, hours = 0, {}
        if known and known[0] <= head and self._still_there(known[0], known[1]):
            since, hours = known[0], known[2]  # the same store, grown since: count only the new events
        if since < head:
            hours = dict(hours)
            rows = database.execute_sql(
                f"SELECT e.ts / {HOUR_MS}, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) "
                f'FROM event e WHERE {query.where} AND e.seq > ? AND e.seq <= ? GROUP BY 1',
                [*query.params, since, head])
            for hour, n, failed_n in rows:
                success, failed = hours.get(hour, (0, 0))
                hours[hour] = (success + n - int(failed_n), failed + int(failed_n))
        with self._lock:
            self._known[key] = (head, head_hash, hours)
            self._known.move_to_end(key)
            while len(self._known) > self.SIZE:
                self._known.popitem(last=False)
        return hours

    @staticmethod
    def _still_there(seq: int, hash_: str) -> bool:
        """Whether the event counted last is still the one at that position (not another database file)."""
        if seq == 0:
            return True
        row = database.execute_sql('SELECT hash FROM event WHERE seq = ?', (seq,)).fetchone()
        return row is not None and row[0] == hash_

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


_counts = _RowCounts()


def find_events(viewer: Viewer, flt: EventFilter, sort: Sort = Sort(), offset: int = 0,
                limit: int = 50) -> EventPage:
    """One page of the events `viewer` may see that match `flt`, with the exact total.

    A page in the second half is read from the other end in the opposite order, so the last page
    costs what the first does.
    """
    offset, limit = max(0, int(offset)), max(1, min(int(limit), 1000))
    total = count_events(viewer, flt)
    if offset >= total:
        return EventPage([], total, offset)
    seek = _seek_by_day(viewer, flt, sort, offset) if offset >= SEEK_FROM else None
    if seek is not None:
        rows = _page(select_events(viewer, seek[0]), sort, seek[1], limit)
    elif offset > total // 2:
        count = min(limit, total - offset)
        rows = _page(select_events(viewer, flt), Sort(sort.column, not sort.descending), total - offset - count, count)
        rows.reverse()
    else:
        query = select_events(viewer, flt, narrow_search=not is_common_term(flt.search, total, offset))
        rows = _page(query, sort, offset, limit)
    return EventPage([_event(row) for row in rows], total, offset)


def _page(query: _Query, sort: Sort, offset: int, limit: int) -> list[tuple]:
    return database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE {query.where} ORDER BY {_order(sort)} LIMIT ? OFFSET ?',
        [*query.params, limit, offset]).fetchall()


SEEK_FROM = 5_000


def _seek_by_day(viewer: Viewer, flt: EventFilter, sort: Sort, offset: int) -> tuple[EventFilter, int] | None:
    """A deep page in time order without stepping over every event before it: `flt` narrowed to the events
    beyond a UTC day boundary, and how many of those to skip (at most about a day's worth).

    The daily counts place the boundary; the events before it are then counted exactly, as the total is.
    None when the filter is not answered by the daily counts (a search or a user) or the sort is not by time.
    """
    if sort.column != 'timestamp' or normalize_search(flt.search) or flt.user:
        return None
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    first, end = rollup.full_days(since, until)
    rollup_query = rollup_where(viewer, flt, first, end)
    if rollup_query is None:
        return None
    where, params = rollup_query
    direction = 'DESC' if sort.descending else 'ASC'
    days = database.execute_sql(f'SELECT c.day, sum(c.n) FROM event_count c WHERE {where} '
                                f'GROUP BY c.day ORDER BY c.day {direction}', params).fetchall()
    candidates, passed = [], 0  # day boundaries in reading order with at most `offset` events before them
    for day, count in days:
        boundary = day * rollup.DAY_MS if sort.descending else (day + 1) * rollup.DAY_MS
        passed += count
        if passed > offset:
            break
        candidates.append(boundary)
    for boundary in reversed(candidates[-2:]):  # the partial day at the near edge may push the first too far
        moment = from_millis(boundary)
        before = count_events(viewer, replace(flt, since=moment) if sort.descending else replace(flt, until=moment))
        if before <= offset:
            return (replace(flt, until=moment) if sort.descending else replace(flt, since=moment)), offset - before
    return None


COMMON_MATCHES = 20_000


def is_common_term(search: str, total: int, offset: int) -> bool:
    """Whether a search matches so many rows that a near page is found faster by walking time order."""
    term = normalize_search(search)
    if len(term) < MIN_INDEXED_TERM or total < COMMON_MATCHES or offset > 10_000 or not is_sqlite():
        return False
    probe = database.execute_sql(
        'SELECT count(*) FROM (SELECT rowid FROM event_search WHERE event_search MATCH ? LIMIT ?)',
        (trigram_query(term), COMMON_MATCHES)).fetchone()[0]
    return probe >= COMMON_MATCHES


def iter_events(viewer: Viewer, flt: EventFilter, sort: Sort = Sort(), chunk: int = 5000) -> Iterator[dict[str, Any]]:
    """Every matching event in `sort` order, read in chunks so memory stays bounded."""
    query = select_events(viewer, flt)
    cursor = stream(f'SELECT {COLUMNS} FROM event e WHERE {query.where} ORDER BY {_order(sort)}', query.params)
    try:
        while rows := cursor.fetchmany(chunk):
            for row in rows:
                yield _event(row)
    finally:
        cursor.close()


def events_before(viewer: Viewer, flt: EventFilter, cursor: tuple[int, int] | None, limit: int) -> list[dict]:
    """Newest-first events strictly older than the keyset `cursor` (ts, seq): stable while events arrive."""
    query = select_events(viewer, flt)
    where, params = query.where, list(query.params)
    if cursor is not None:
        where += ' AND (e.ts < ? OR (e.ts = ? AND e.seq < ?))'
        params += [cursor[0], cursor[0], cursor[1]]
    rows = database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE {where} ORDER BY e.ts DESC, e.seq DESC LIMIT ?', [*params, limit])
    return [_event(row) for row in rows]


def visible_users(viewer: Viewer, flt: EventFilter = EventFilter(), limit: int = 200) -> list[str]:
    query = select_events(viewer, replace(flt, user=None))
    rows = database.execute_sql(
        f'SELECT DISTINCT e.actor FROM event e WHERE {query.where} ORDER BY e.actor LIMIT ?', [*query.params, limit])
    return [row[0] for row in rows]


def workspace_names() -> list[str]:
    return [row[0] for row in database.execute_sql('SELECT name FROM workspace ORDER BY name')]
