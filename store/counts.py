"""Matching events counted per time bucket and status: the table's total and the timeline are both summed
from these counts, so a page that shows both pays for one pass, and the chart costs what the total does.

A view (the viewer's visibility and a filter) is counted at a resolution: a day, an hour, or the bar
width below an hour, as the timeline of that view would draw it (`resolution`). Whole days come from
the daily counts (store/rollup.py), everything else from the rows: the part days at the edges of a
range, narrower buckets, and keyword and user filters. Counts are kept per (database, visibility, filter,
resolution) and brought up to date by counting only the events stored since: events are never
changed or removed, so counts up to position N stay true. Paging, sorting, Refresh and live tail
then cost no second pass either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace

from store import rollup
from store.buckets import DAY, HOUR, UNIT, Unit, choose_unit
from store.db import database, read_snapshot
from store.query import EventFilter, Viewer, normalize_search, rollup_where, select_events
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
    """The resolution the timeline of this view counts at, as far as the filter alone tells: days (hours
    with a keyword or user) for a range open at its start, else the one `plan` gives for [since, until or now)."""
    if flt.since is None:
        return HOUR if searched(flt) else DAY
    since = to_millis(flt.since)
    until = to_millis(flt.until) if flt.until else max(now_millis() if now is None else now, since + 1)
    return plan(viewer, flt, since, until)[1]


def plan(viewer: Viewer, flt: EventFilter, lo: int, hi: int) -> tuple[Unit, int]:
    """The bar width for [lo, hi) and the resolution its counts are read at.

    Keyword and user counts of an hour serve every wider bar. Without those, bars narrower than a day
    are grouped from the rows; over more than ROW_LIMIT events they give way to day bars.
    """
    unit = choose_unit(hi - lo)
    if searched(flt):
        return unit, min(unit.resolution, HOUR)
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
    if width == DAY and not searched(flt):
        return _day_counts(viewer, flt)
    return row_counts(viewer, flt, width)


def _day_counts(viewer: Viewer, flt: EventFilter) -> Counts:
    """Whole UTC days from the daily counts, the part days at the edges of the filter's range from the rows."""
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    first, end = rollup.full_days(since, until)
    if first is not None and end is not None and first >= end:
        return row_counts(viewer, flt, DAY)
    counts: Counts = {}
    where = rollup_where(viewer, flt, first, end)
    if where is None:
        return counts
    rows = database.execute_sql(  # grouped by day alone, the daily counts' key order: no sorting
        "SELECT c.day, sum(c.n), sum(CASE WHEN c.status = 'FAILED' THEN c.n ELSE 0 END) "
        f'FROM event_count c WHERE {where[0]} GROUP BY c.day', where[1])
    counts.update((day, (int(n - failed), int(failed))) for day, n, failed in rows)
    if first is not None and since != first * DAY:
        _merge(counts, row_counts(viewer, replace(flt, until=from_millis(first * DAY)), DAY))
    if end is not None and until != end * DAY:
        _merge(counts, row_counts(viewer, replace(flt, since=from_millis(end * DAY)), DAY))
    return counts


def _merge(counts: Counts, more: Iterable[tuple[int, tuple[int, int]]] | Counts) -> Counts:
    for key, (success, failed) in (more.items() if isinstance(more, dict) else more):
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + success, before[1] + failed)
    return counts


def row_counts(viewer: Viewer, flt: EventFilter, width: int, after: int | None = None) -> Counts:
    """Matching events grouped by `ts // width` and status, read row by row (only those after seq `after`).

    For the whole organization with no filter but time, each status is read on its own: `status = ? AND
    ts` ranges are served by the (status, ts) index alone, about three times faster than grouping by status.
    """
    newer = '' if after is None else ' AND e.seq > ?'
    tail = [] if after is None else [after]
    counts: Counts = {}
    if not viewer.is_organization or flt.status or flt.scope or flt.category or flt.workspace or searched(flt):
        query = select_events(viewer, flt)
        rows = database.execute_sql(
            f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) FROM event e "
            f'WHERE {query.where}{newer} GROUP BY 1', [width, *query.params, *tail])
        return _merge(counts, ((key, (n - int(failed), int(failed))) for key, n, failed in rows))
    for index, status in enumerate(STATUSES):
        query = select_events(viewer, replace(flt, status=status))
        rows = database.execute_sql(f'SELECT e.ts / ?, count(*) FROM event e WHERE {query.where}{newer} GROUP BY 1',
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
