"""Matching events counted per time bucket and status: the table's total and the timeline are both summed
from these counts, so a page that shows both pays for one pass, and the chart costs what the total does.

A view (the viewer's visibility and a filter) is counted at a resolution: a day, an hour, or the bar
width below an hour, as the timeline of that view would draw it (`resolution`). Whole days come from
the daily counts (store/derived/rollup.py; a user filter's from the counts per user), the rest from the
rows: the part days at the edges of a range, narrower buckets, and the events a keyword matches outside
the scope, category and user names that hold it (those inside are counted like a filter without the
keyword). Counts are kept
per (database, visibility, filter, resolution) and brought up to date by counting only the events
stored since: events are never changed or removed, so counts up to position N stay true. Paging,
sorting, Refresh and live tail then cost no second pass either.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from store.derived import event_days
from store.engine.db import database, is_sqlite, read_snapshot
from store.engine.timefmt import now_millis, to_millis
from store.ledger.buckets import DAY, UNIT, Unit, choose_unit
from store.read.keywords import searched_counts
from store.read.query import (
    EventFilter,
    Span,
    Viewer,
    is_indexed,
    normalize_search,
    rollup_where,
)
from store.read.tallies import Counts, day_counts, merge, row_counts, searched

ROW_LIMIT = 200_000  # more events than this under bars narrower than a day: day bars instead
def count_events(viewer: Viewer, flt: EventFilter, now: int | None = None) -> int:
    """The exact number of events `viewer` may see that match `flt`.

    It is the sum of the view's counts at the resolution its timeline uses (`now`, default the clock,
    places an open-ended range), so the chart beside the total costs no second pass.
    """
    return total_of(view_counts(viewer, flt, resolution(viewer, flt, now)))


def total_of(counts: Counts) -> int:
    return sum(success + failed for success, failed in counts.values())


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
    """The exact total of a filter without a keyword, from the counts alone (a user's from the counts per user),
    nothing kept: for one-off totals such as the boundaries a deep page is placed by."""
    return total_of(day_counts(viewer, flt))


# A keyword's matches outside the names that hold it are each read and checked (about 2 µs a match at 1M
# events). That work is split by position into PARTS spans counted side by side, each in its own thread and
# connection: measured at 1M events, 'failed' (70,000 matches) 148 → 77 ms in two parts, 'nb-' (306,000)
# 335 → 192 ms. Below SPLIT_FROM events a single pass is quick anyway.
PARTS = min(4, os.cpu_count() or 1)
SPLIT_FROM = 100_000
def _spans(low: int, head: int) -> list[Span] | None:
    """The parts a cold count of the events at positions low < seq <= head is split into; None for the whole
    store in one pass."""
    if PARTS < 2 or head - low < SPLIT_FROM or not is_sqlite():
        return [(low, head)] if low else None
    bounds = [low + (head - low) * part // PARTS for part in range(PARTS + 1)]
    return list(zip(bounds, bounds[1:], strict=False))


# Events arrive about in time order, so those of a recent range hold the last positions: a keyword's
# candidates at positions before the range's first event need not be read. Finding that position walks the
# range in the time index (about 0.06 µs an event, against about 2 µs a candidate read), so it is done for
# ranges of at most RANGE_SHARE of the events. Measured at 1M events (90 days), counts over the last 7 days:
# 'failed' 78 → 14 ms, 'nb-' 147 → 29, 'h1' (below the index, every event tested) 129 → 35; the position
# itself costs about 4 ms.
RANGE_SHARE = 0.25


def _before_range(flt: EventFilter, head: int) -> int:
    """The position before the first one (seq) an event of the filter's range holds, when the range starts
    recently enough for this to pay (see RANGE_SHARE); else 0. Positions are not in time order (back-filled
    history comes late), so this is the least position of all the range's events."""
    if not flt.since or not searched(flt) or not is_sqlite():
        return 0
    since = to_millis(flt.since)
    recent, stored = database.execute_sql(
        'SELECT coalesce(sum(CASE WHEN day >= ? THEN n ELSE 0 END), 0), coalesce(sum(n), 0) FROM event_count',
        (since // DAY,)).fetchone()
    if not stored or recent > stored * RANGE_SHARE:
        return 0
    first = database.execute_sql(  # else the least position is sought from the first one, reading most events
        'SELECT min(seq) FROM event INDEXED BY event_ts WHERE ts >= ?', (since,)).fetchone()[0]
    return head if first is None else first - 1


def _cold(viewer: Viewer, flt: EventFilter, width: int, spans: list[Span] | None,
          days: event_days.Days | None = None) -> Counts:
    if normalize_search(flt.search):
        return searched_counts(viewer, flt, width, spans, days)
    if width == DAY:  # a user filter too: the counts per user
        return day_counts(viewer, flt)
    return row_counts(viewer, flt, width)


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
        alone = not database.in_transaction()  # else events of this transaction may be unseen by helpers
        with read_snapshot():
            head, head_hash = database.execute_sql(
                "SELECT coalesce(max(seq), 0), coalesce(max(hash), '') FROM event "
                'WHERE seq = (SELECT max(seq) FROM event)').fetchone()
            if known and known[0] <= head and self._still_there(known[0], known[1]):
                counts = known[2]  # the same store, grown since: count only the new events
                if known[0] < head:
                    counts = merge(dict(counts), row_counts(viewer, flt, width, after=known[0]))
            else:
                low = min(_before_range(flt, head), head)
                indexed = is_indexed(normalize_search(flt.search))
                days = event_days.upto(head, head_hash) if alone and indexed and width == DAY and is_sqlite() else None
                counts = _cold(viewer, flt, width, _spans(low, head) if alone else ([(low, head)] if low else None),
                               days)
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
