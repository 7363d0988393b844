"""Matching events counted per time bucket and status, the two ways every count is made: read row by row
(`row_counts`), or taken from the daily counts (`day_counts`); with the helpers that split a read by
position across threads (`in_parts`) and name the events of some pairs or users (`one_of`, `none_of`).
store/read/counts.py decides which, and keeps the results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from store.derived import event_days, rollup, search_index
from store.derived.search_index import ACTOR, PAIR
from store.engine.db import database, with_connection
from store.engine.timefmt import from_millis, to_millis
from store.ledger.buckets import DAY
from store.read.query import (
    EventFilter,
    Span,
    Viewer,
    normalize_search,
    rollup_where,
    select_events,
)

_helpers = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1) - 1), thread_name_prefix='counts')

Counts = dict[int, tuple[int, int]]  # ts // resolution -> (SUCCESS, FAILED)
STATUSES = ('SUCCESS', 'FAILED')


Clause = tuple[str, list]


def searched(flt: EventFilter) -> bool:
    """Whether the filter has a keyword or a user, which the daily counts cannot answer."""
    return bool(normalize_search(flt.search) or flt.user)


def in_parts(count: Callable[[Span | None], Counts], spans: list[Span] | None) -> Counts:
    """`count` over each span, the first in this thread and the others in helper threads, merged.

    The spans end at the head read in this thread's snapshot and events never change, so each helper's own
    connection counts the same events this one would."""
    if not spans:
        return count(None)
    others = [_helpers.submit(with_connection, count, span) for span in spans[1:]]
    counts = count(spans[0])
    for other in others:
        merge(counts, other.result())
    return counts


def positions(sql: str, params: list) -> np.ndarray:
    """The positions a `group_concat(seq)` query lists."""
    return event_days.positions(database.execute_sql(sql, params).fetchone()[0])


def one_of(facet: search_index.Facet, named: search_index.Named, alias: str) -> Clause:
    """`alias`'s facet columns hold one of the named values (rows of id, *values).

    One column is matched against a list, not a VALUES table: SQLite then sees the index of that column.
    Measured at 1M events, bob's events in scope Organization: `actor IN (VALUES (?))` walked the scope's
    161,108 events in 118-124 ms, `actor IN (?)` read bob's 36,114 in the user index in 4 ms."""
    params = [value for _, *row in named for value in row]
    if len(facet.columns) == 1:
        return f"{alias}.{facet.columns[0]} IN ({', '.join('?' * len(named))})", params
    values = ', '.join('(' + ', '.join('?' * len(facet.columns)) + ')' for _ in named)
    columns = ', '.join(f'{alias}.{column}' for column in facet.columns)
    return f'({columns}) IN (VALUES {values})', params


def none_of(facet: search_index.Facet, named: search_index.Named, alias: str) -> Clause:
    if not named:
        return '1 = 1', []
    clause, params = one_of(facet, named, alias)
    return f'NOT {clause}', params


def both(first: Clause, second: Clause) -> Clause:
    return f'{first[0]} AND {second[0]}', [*first[1], *second[1]]


@dataclass(frozen=True)
class Among:
    """Some of a view's events, by their names: of one of `pairs` (when given), of none of `not_pairs`, by one
    of `actors` (when given). A condition on the events (`e`) or on the daily counts (`c`)."""

    pairs: search_index.Named | None = None
    not_pairs: search_index.Named = field(default_factory=list)
    actors: search_index.Named | None = None

    def where(self, alias: str) -> Clause:
        clause: Clause = none_of(PAIR, self.not_pairs, alias)
        for facet, named in ((PAIR, self.pairs), (ACTOR, self.actors)):
            if named is not None:
                clause = both(clause, one_of(facet, named, alias) if named else ('0 = 1', []))
        return clause


def day_counts(viewer: Viewer, flt: EventFilter, among: Among | None = None) -> Counts:
    """Whole UTC days from the daily counts, the part days at the edges of the filter's range from the rows;
    only the events `among` selects, when given. A user filter or users named are read from the counts per
    user (store/derived/rollup.py)."""
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    first, end = rollup.full_days(since, until)
    edges = among.where('e') if among else None
    if first is not None and end is not None and first >= end:
        return row_counts(viewer, flt, DAY, extra=edges)
    counts: Counts = {}
    by_user = bool(flt.user) or (among is not None and among.actors is not None)
    where = rollup_where(viewer, flt, first, end, by_user=by_user)
    if where is None:
        return counts
    if among:
        where = both(where, among.where('c'))
    # grouped by day alone, the daily counts' key order: no sorting (the counts per user are few per user)
    rows = database.execute_sql(
        "SELECT c.day, sum(c.n), sum(CASE WHEN c.status = 'FAILED' THEN c.n ELSE 0 END) "
        f'FROM {rollup.BY_USER if by_user else "event_count"} c WHERE {where[0]} GROUP BY c.day', where[1])
    counts.update((day, (int(n - failed), int(failed))) for day, n, failed in rows)
    if first is not None and since != first * DAY:
        merge(counts, row_counts(viewer, replace(flt, until=from_millis(first * DAY)), DAY, extra=edges))
    if end is not None and until != end * DAY:
        merge(counts, row_counts(viewer, replace(flt, since=from_millis(end * DAY)), DAY, extra=edges))
    return counts


def merge(counts: Counts, more: Iterable[tuple[int, tuple[int, int]]] | Counts) -> Counts:
    for key, (success, failed) in (more.items() if isinstance(more, dict) else more):
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + success, before[1] + failed)
    return counts


def row_counts(viewer: Viewer, flt: EventFilter, width: int, after: int | None = None,
               extra: Clause | None = None, span: Span | None = None) -> Counts:
    """Matching events grouped by `ts // width` and status, read row by row: only those after seq `after`,
    only those the `extra` condition on `e` holds for, and only those in `span`, when given.

    For the whole organization with no filter but time, each status is read on its own: `status = ? AND
    ts` ranges are served by the (status, ts) index alone, about three times faster than grouping by status.
    """
    condition, tail = '', []
    if after is not None:
        condition, tail = ' AND e.seq > ?', [after]
    if extra:
        condition, tail = f'{condition} AND {extra[0]}', [*tail, *extra[1]]
    counts: Counts = {}
    if (not viewer.is_organization or flt.status or flt.scope or flt.category or flt.workspace or searched(flt)
            or extra):
        query = select_events(viewer, flt, narrow_search=after is None, span=span)  # a few new rows: test them directly
        rows = database.execute_sql(
            f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) FROM event e "
            f'WHERE {query.where}{condition} GROUP BY 1', [width, *query.params, *tail])
        return merge(counts, ((key, (n - int(failed), int(failed))) for key, n, failed in rows))
    for index, status in enumerate(STATUSES):
        query = select_events(viewer, replace(flt, status=status))
        rows = database.execute_sql(f'SELECT e.ts / ?, count(*) FROM event e WHERE {query.where}{condition} '
                                    'GROUP BY 1', [width, *query.params, *tail])
        merge(counts, ((key, (n, 0) if index == 0 else (0, n)) for key, n in rows))
    return counts
