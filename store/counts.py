"""Matching events counted per time bucket and status: the table's total and the timeline are both summed
from these counts, so a page that shows both pays for one pass, and the chart costs what the total does.

A view (the viewer's visibility and a filter) is counted at a resolution: a day, an hour, or the bar
width below an hour, as the timeline of that view would draw it (`resolution`). Whole days come from
the daily counts (store/rollup.py), the rest from the rows: the part days at the edges of a range,
narrower buckets, user filters, and the events a keyword matches outside the scope and category
names that hold it (those inside are counted like a filter without the keyword). Counts are kept
per (database, visibility, filter, resolution) and brought up to date by counting only the events
stored since: events are never changed or removed, so counts up to position N stay true. Paging,
sorting, Refresh and live tail then cost no second pass either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace

from store import rollup, search_index
from store.buckets import DAY, UNIT, Unit, choose_unit
from store.db import database, is_sqlite, read_snapshot
from store.query import (
    MIN_INDEXED_TERM,
    EventFilter,
    Viewer,
    normalize_search,
    rollup_where,
    select_events,
)
from store.timefmt import from_millis, now_millis, to_millis

Counts = dict[int, tuple[int, int]]  # ts // resolution -> (SUCCESS, FAILED)
ROW_LIMIT = 200_000  # more events than this under bars narrower than a day: day bars instead
STATUSES = ('SUCCESS', 'FAILED')


def count_events(viewer: Viewer, flt: EventFilter, now: int | None = None) -> int:
    """The exact number of events `viewer` may see that match `flt`.

    It is the sum of the view's counts at the resolution its timeline uses (`now`, default the clock,
    places an open-ended range), so the chart beside the total costs no second pass.
    """
    return total_of(view_counts(viewer, flt, resolution(viewer, flt, now)))


def total_of(counts: Counts) -> int:
    return sum(success + failed for success, failed in counts.values())


def searched(flt: EventFilter) -> bool:
    """Whether the filter has a keyword or a user, which the daily counts cannot answer."""
    return bool(normalize_search(flt.search) or flt.user)


def resolution(viewer: Viewer, flt: EventFilter, now: int | None = None) -> int:
    """The resolution the timeline of this view counts at, as far as the filter alone tells: days for a range
    open at its start, else the one `plan` gives for [since, until or now)."""
    if flt.since is None:
        return DAY
    since = to_millis(flt.since)
    until = to_millis(flt.until) if flt.until else max(now_millis() if now is None else now, since + 1)
    return plan(viewer, flt, since, until)[1]


def plan(viewer: Viewer, flt: EventFilter, lo: int, hi: int) -> tuple[Unit, int]:
    """The bar width for [lo, hi) and the resolution its counts are read at.

    Bars narrower than a day are grouped from the rows; when the daily counts hold more than ROW_LIMIT
    events of the view's facets in the span, they give way to day bars.
    """
    unit = choose_unit(hi - lo)
    if unit.resolution < DAY and _estimate(viewer, flt, lo, hi) > ROW_LIMIT:
        return UNIT['day'], DAY
    return unit, unit.resolution


def _estimate(viewer: Viewer, flt: EventFilter, lo: int, hi: int) -> int:
    """At least the matching events in [lo, hi): the daily counts of every day it touches."""
    where = rollup_where(viewer, flt, lo // DAY, -(-hi // DAY))
    if where is None:
        return 0
    return int(database.execute_sql(f'SELECT coalesce(sum(c.n), 0) FROM event_count c WHERE {where[0]}',
                                    where[1]).fetchone()[0])


def view_counts(viewer: Viewer, flt: EventFilter, width: int) -> Counts:
    """The view's events per `ts // width` and status, kept and brought up to date (see the module)."""
    return _kept.counts(viewer, flt, width)


def rollup_total(viewer: Viewer, flt: EventFilter) -> int:
    """The exact total of a filter without a keyword or user, from the counts alone, nothing kept: for
    one-off totals such as the boundaries a deep page is placed by."""
    return total_of(_day_counts(viewer, flt))


def _cold(viewer: Viewer, flt: EventFilter, width: int) -> Counts:
    if searched(flt):
        return _searched_counts(viewer, flt, width)
    if width == DAY:
        return _day_counts(viewer, flt)
    return row_counts(viewer, flt, width)


Pairs = list[tuple[int, str, str]]  # (facet_marker id, scope, category)


def _searched_counts(viewer: Viewer, flt: EventFilter, width: int) -> Counts:
    """A keyword found in scope or category names (store/search_index.py): the events of those pairs are
    counted as the filter without the keyword (from the daily counts at day width), and only the other
    candidates of the index, `term NOT markers`, are read and checked."""
    term = normalize_search(flt.search)
    pairs = search_index.pairs_naming(term) if is_sqlite() and len(term) >= MIN_INDEXED_TERM else []
    if flt.user or not pairs:
        return row_counts(viewer, flt, width)
    plain = replace(flt, search='')
    counts = _day_counts(viewer, plain, pairs) if width == DAY else row_counts(viewer, plain, width, pairs=pairs)
    query = select_events(viewer, flt, narrow_search=False)
    named, params = _named(pairs, 'e')
    rows = database.execute_sql(  # the candidates drive the join: scope, time and other indexes would not
        f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) "
        'FROM (SELECT rowid AS seq FROM event_search WHERE event_search MATCH ?) f CROSS JOIN event e ON e.seq = f.seq '
        f'WHERE {query.where} AND NOT {named} GROUP BY 1',
        [width, search_index.candidates_query(term, pairs), *query.params, *params])
    return _merge(counts, ((key, (n - int(failed), int(failed))) for key, n, failed in rows))


def _named(pairs: Pairs, alias: str) -> tuple[str, list[str]]:
    """`alias`'s (scope, category) is one of `pairs`."""
    values = ', '.join('(?, ?)' for _ in pairs)
    return f'({alias}.scope, {alias}.category) IN (VALUES {values})', [v for _, *pair in pairs for v in pair]


def _day_counts(viewer: Viewer, flt: EventFilter, pairs: Pairs | None = None) -> Counts:
    """Whole UTC days from the daily counts, the part days at the edges of the filter's range from the rows;
    only events of `pairs`, when given."""
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    first, end = rollup.full_days(since, until)
    if first is not None and end is not None and first >= end:
        return row_counts(viewer, flt, DAY, pairs=pairs)
    counts: Counts = {}
    where = rollup_where(viewer, flt, first, end)
    if where is None:
        return counts
    clause, params = where
    if pairs:
        named, more = _named(pairs, 'c')
        clause, params = f'{clause} AND {named}', [*params, *more]
    rows = database.execute_sql(  # grouped by day alone, the daily counts' key order: no sorting
        "SELECT c.day, sum(c.n), sum(CASE WHEN c.status = 'FAILED' THEN c.n ELSE 0 END) "
        f'FROM event_count c WHERE {clause} GROUP BY c.day', params)
    counts.update((day, (int(n - failed), int(failed))) for day, n, failed in rows)
    if first is not None and since != first * DAY:
        _merge(counts, row_counts(viewer, replace(flt, until=from_millis(first * DAY)), DAY, pairs=pairs))
    if end is not None and until != end * DAY:
        _merge(counts, row_counts(viewer, replace(flt, since=from_millis(end * DAY)), DAY, pairs=pairs))
    return counts


def _merge(counts: Counts, more: Iterable[tuple[int, tuple[int, int]]] | Counts) -> Counts:
    for key, (success, failed) in (more.items() if isinstance(more, dict) else more):
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + success, before[1] + failed)
    return counts


def row_counts(viewer: Viewer, flt: EventFilter, width: int, after: int | None = None,
               pairs: Pairs | None = None) -> Counts:
    """Matching events grouped by `ts // width` and status, read row by row: only those after seq `after`,
    only those of `pairs`, when given.

    For the whole organization with no filter but time, each status is read on its own: `status = ? AND
    ts` ranges are served by the (status, ts) index alone, about three times faster than grouping by status.
    """
    extra, tail = ('', [])
    if after is not None:
        extra, tail = ' AND e.seq > ?', [after]
    if pairs:
        named, more = _named(pairs, 'e')
        extra, tail = f'{extra} AND {named}', [*tail, *more]
    counts: Counts = {}
    if (not viewer.is_organization or flt.status or flt.scope or flt.category or flt.workspace or searched(flt)
            or pairs):
        query = select_events(viewer, flt, narrow_search=after is None)  # a few new rows: test them directly
        rows = database.execute_sql(
            f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) FROM event e "
            f'WHERE {query.where}{extra} GROUP BY 1', [width, *query.params, *tail])
        return _merge(counts, ((key, (n - int(failed), int(failed))) for key, n, failed in rows))
    for index, status in enumerate(STATUSES):
        query = select_events(viewer, replace(flt, status=status))
        rows = database.execute_sql(f'SELECT e.ts / ?, count(*) FROM event e WHERE {query.where}{extra} GROUP BY 1',
                                    [width, *query.params, *tail])
        _merge(counts, ((key, (n, 0) if index == 0 else (0, n)) for key, n in rows))
    return counts


class _KeptCounts:
    SIZE = 64  # views kept; each holds at most one entry per bucket that has events

    def __init__(self) -> None:
        self._known: OrderedDict[tuple, tuple[int, str, Counts]] = OrderedDict()
        self._lock = threading.Lock()
        # The table and the timeline ask for the same view side by side: the second waits for the first's pass.
        self._passes = [threading.Lock() for _ in range(16)]

    def counts(self, viewer: Viewer, flt: EventFilter, width: int) -> Counts:
        key = (getattr(database.obj, 'audit_url', ''), viewer.workspaces, flt, width)
        with self._passes[hash(key) % len(self._passes)]:
            return self._bring_up_to_date(key, viewer, flt, width)

    def _bring_up_to_date(self, key: tuple, viewer: Viewer, flt: EventFilter, width: int) -> Counts:
        with self._lock:
            known = self._known.get(key)
        with read_snapshot():
            head, head_hash = database.execute_sql(
                "SELECT coalesce(max(seq), 0), coalesce(max(hash), '') FROM event "
                'WHERE seq = (SELECT max(seq) FROM event)').fetchone()
            if known and known[0] <= head and self._still_there(known[0], known[1]):
                counts = known[2]  # the same store, grown since: count only the new events
                if known[0] < head:
                    counts = _merge(dict(counts), row_counts(viewer, flt, width, after=known[0]))
            else:
                counts = _cold(viewer, flt, width)
        with self._lock:
            self._known[key] = (head, head_hash, counts)
            self._known.move_to_end(key)
            while len(self._known) > self.SIZE:
                self._known.popitem(last=False)
        return counts

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


_kept = _KeptCounts()
