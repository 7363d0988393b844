"""Matching events counted per time bucket and status: the table's total and the timeline are both summed
from these counts, so a page that shows both pays for one pass, and the chart costs what the total does.

A view (the viewer's visibility and a filter) is counted at a resolution: a day, an hour, or the bar
width below an hour, as the timeline of that view would draw it (`resolution`). Whole days come from
the daily counts (store/derived/rollup.py), the rest from the rows: the part days at the edges of a range,
narrower buckets, user filters, and the events a keyword matches outside the scope, category and
user names that hold it (those inside are counted like a filter without the keyword). Counts are kept
per (database, visibility, filter, resolution) and brought up to date by counting only the events
stored since: events are never changed or removed, so counts up to position N stay true. Paging,
sorting, Refresh and live tail then cost no second pass either.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from store.derived import event_days, rollup, search_file, search_index
from store.derived.search_index import ACTOR, PAIR
from store.engine.db import database, is_sqlite, read_snapshot, with_connection
from store.engine.dialect import substring_clause, substring_param
from store.engine.timefmt import from_millis, now_millis, to_millis
from store.ledger.buckets import DAY, UNIT, Unit, choose_unit
from store.read.query import (
    MIN_INDEXED_TERM,
    WHOLE_STORE,
    EventFilter,
    Span,
    Viewer,
    index_query,
    normalize_search,
    rollup_where,
    select_events,
    trigram_query,
)

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


# A keyword's matches outside the names that hold it are each read and checked (about 2 µs a match at 1M
# events). That work is split by position into PARTS spans counted side by side, each in its own thread and
# connection: measured at 1M events, 'failed' (70,000 matches) 148 → 77 ms in two parts, 'nb-' (306,000)
# 335 → 192 ms. Below SPLIT_FROM events a single pass is quick anyway.
PARTS = min(4, os.cpu_count() or 1)
SPLIT_FROM = 100_000
_helpers = ThreadPoolExecutor(max_workers=max(1, PARTS - 1), thread_name_prefix='counts')


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


def _in_parts(count: Callable[[Span | None], Counts], spans: list[Span] | None) -> Counts:
    """`count` over each span, the first in this thread and the others in helper threads, merged.

    The spans end at the head read in this thread's snapshot and events never change, so each helper's own
    connection counts the same events this one would."""
    if not spans:
        return count(None)
    others = [_helpers.submit(with_connection, count, span) for span in spans[1:]]
    counts = count(spans[0])
    for other in others:
        _merge(counts, other.result())
    return counts


def _cold(viewer: Viewer, flt: EventFilter, width: int, spans: list[Span] | None,
          days: np.ndarray | None = None) -> Counts:
    if searched(flt):
        return _searched_counts(viewer, flt, width, spans, days)
    if width == DAY:
        return _day_counts(viewer, flt)
    return row_counts(viewer, flt, width)


def _searched_counts(viewer: Viewer, flt: EventFilter, width: int, spans: list[Span] | None = None,
                     days: np.ndarray | None = None) -> Counts:
    """A keyword found in scope or category names, or in user names (store/derived/search_index.py): the events of
    those pairs are counted as the filter without the keyword (from the daily counts at day width), those
    of those users by the user index, and only the index's other candidates, `term NOT markers`, are
    read and checked, in `spans` side by side. With the events' days (store/derived/event_days.py) at day width,
    only the positions of the matches are read back."""
    term = normalize_search(flt.search)
    if flt.user:
        return row_counts(viewer, flt, width)
    if not is_sqlite():
        return _postgres_searched_counts(viewer, flt, width)
    named = {facet: rows for facet in search_index.FACETS if (rows := search_index.naming(facet, term))} \
        if len(term) >= MIN_INDEXED_TERM else {}
    if not named:
        if days is not None and width == DAY and len(term) >= MIN_INDEXED_TERM:
            return _in_parts(lambda span: _matches_by_day(viewer, flt, span, days), spans)
        return _in_parts(lambda span: row_counts(viewer, flt, width, span=span), spans)
    counts, rest = _named_counts(viewer, flt, width, named.get(PAIR, []), named.get(ACTOR, []))
    match = search_index.candidates_query(term, named)
    return _merge(counts, _in_parts(lambda span: _candidate_counts(viewer, flt, width, match, rest, span, days),
                                    spans))


def _named_counts(viewer: Viewer, flt: EventFilter, width: int, pairs: search_index.Named,
                  actors: search_index.Named) -> tuple[Counts, Clause]:
    """The events of the named (scope, category) pairs, counted as the filter without its keyword (from the daily
    counts at day width), and those of the named users outside them, by the user index; and the condition on
    `e` that leaves the other events, the ones still to be read and checked."""
    plain = replace(flt, search='')
    counts: Counts = {}
    if pairs:
        counts = _day_counts(viewer, plain, pairs) if width == DAY else row_counts(viewer, plain, width,
                                                                                    extra=_one_of(PAIR, pairs, 'e'))
    outside = _none_of(PAIR, pairs, 'e')
    if actors:
        _merge(counts, row_counts(viewer, plain, width, extra=_both(_one_of(ACTOR, actors, 'e'), outside)))
    return counts, _both(outside, _none_of(ACTOR, actors, 'e'))


# The users of the events, one index probe each (a loose scan of the user index), at most MAX_USERS_NAMED + 1.
MAX_USERS_NAMED = 10_000
_ACTORS = """WITH RECURSIVE a(actor) AS (
    SELECT min(actor) FROM event
    UNION ALL SELECT (SELECT min(e.actor) FROM event e WHERE e.actor > a.actor) FROM a WHERE a.actor IS NOT NULL)
SELECT actor FROM a WHERE actor IS NOT NULL LIMIT ?"""


def _postgres_named(term: str) -> tuple[search_index.Named, search_index.Named] | None:
    """PostgreSQL: the (scope, category) pairs (from the daily counts) and the users whose names hold `term`, as
    (0, *values) rows; None when more than MAX_NAMED of a kind do, or there are too many users to look at."""
    pairs = [(0, scope, category) for scope, category in database.execute_sql(
        'SELECT DISTINCT scope, category FROM event_count') if term in scope.lower() or term in category.lower()]
    users = [actor for (actor,) in database.execute_sql(_ACTORS, (MAX_USERS_NAMED + 1,))]
    actors = [(0, actor) for actor in users if term in actor.lower()]
    if len(pairs) > search_index.MAX_NAMED or len(actors) > search_index.MAX_NAMED or len(users) > MAX_USERS_NAMED:
        return None
    return pairs, actors


# PostgreSQL: a view (without its keyword) holding at most this share of the events is counted from the event
# table, whose indexes of time and workspace narrow the read; `event_text` has only its trigram index. Measured
# at 1M events, 'failed' over the last 7 days: 42 ms from the events, 208 from event_text.
TEXT_TABLE_FROM = 0.25


def _share(viewer: Viewer, flt: EventFilter) -> float:
    """About the share of the events the view (visibility and filter, without keyword or user) holds: the daily
    counts of every day its range touches."""
    first = to_millis(flt.since) // DAY if flt.since else None
    end = -(-to_millis(flt.until) // DAY) if flt.until else None
    where = rollup_where(viewer, flt, first, end)
    if where is None:
        return 0.0
    view, whole = database.execute_sql(f'SELECT coalesce(sum(CASE WHEN {where[0]} THEN c.n ELSE 0 END), 0), '
                                       'coalesce(sum(c.n), 0) FROM event_count c', where[1]).fetchone()
    return int(view) / int(whole) if whole else 0.0


def _postgres_searched_counts(viewer: Viewer, flt: EventFilter, width: int) -> Counts:
    """PostgreSQL: a keyword's matches counted as on SQLite, with the table `event_text` (store/lifecycle/schema.py) in
    place of the markers. The events of the pairs whose scope or category name holds the term are counted as
    the filter without it (the daily counts at day width), those of the users whose names hold it by the user
    index, and only the others are read: those whose action, target or description holds the term, found
    by the trigram index of that text alone in `event_text`, a third of the events' size. Measured at 1M
    events, a first page with its total, nothing kept (p50, a loaded machine): 'service' 590 → 9 ms, 'alice'
    210 → 36, 'failed' 326 → 156, 'nb-' 569 → 246."""
    term = normalize_search(flt.search)
    plain = replace(flt, search='')
    named = _postgres_named(term)
    if named is None:  # `event_text` holds no names: every match is read from the events
        return row_counts(viewer, flt, width)
    counts, rest = _named_counts(viewer, flt, width, *named)
    if _share(viewer, plain) <= TEXT_TABLE_FROM:  # the event table's indexes of time and workspace narrow more
        return _merge(counts, row_counts(viewer, flt, width, extra=rest))
    query = select_events(viewer, plain)
    rows = database.execute_sql(
        f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) FROM event_text e "
        f"WHERE {query.where} AND {substring_clause('e.tail')} AND {rest[0]} GROUP BY 1",
        [width, *query.params, substring_param(term), *rest[1]])
    return _merge(counts, ((key, (n - int(failed), int(failed))) for key, n, failed in rows))


def _candidate_counts(viewer: Viewer, flt: EventFilter, width: int, match: str, rest: Clause,
                      span: Span | None, days: np.ndarray | None = None) -> Counts:
    """The events the index query `match` finds (in `span`) that match `flt` and the `rest` condition; with
    the events' days (store/derived/event_days.py) at day width, only their positions are read back."""
    query = select_events(viewer, flt, narrow_search=False, span=span)
    match_sql, match_params = index_query('?', [match], viewer, flt)
    found, found_params = search_file.candidates(match_sql, match_params, span)
    # the candidates drive the join: scope, time and other indexes would not
    joined = f'FROM ({found}) f CROSS JOIN event e ON e.seq = f.seq WHERE {query.where} AND {rest[0]}'
    params = [*found_params, *query.params, *rest[1]]
    if days is not None and width == DAY:
        return event_days.split(days, _positions(f'SELECT group_concat(e.seq) {joined}', params))
    rows = database.execute_sql(
        f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) {joined} GROUP BY 1",
        [width, *params])
    return {key: (n - int(failed), int(failed)) for key, n, failed in rows}


def _matches_by_day(viewer: Viewer, flt: EventFilter, span: Span | None, days: np.ndarray) -> Counts:
    """A keyword found in no scope, category or user name, counted per day from the matches' positions (in
    `span`). When the one query puts no condition on the view but the keyword (WHOLE_STORE: the viewer sees
    every event, no filter), a term of one trigram is answered by the search index alone: the index
    folds ASCII as the search text is lower-cased, so it finds exactly the events holding the term (those
    whose text has other characters are checked on their rows). With a filter, SQLite plans the read: a
    facet's index may find fewer rows than the term's candidates ('nb-' + FAILED at 1M: 47 ms, against 85
    read from the candidates)."""
    term = normalize_search(flt.search)
    whole_store = select_events(viewer, replace(flt, search='')).where == WHOLE_STORE
    if whole_store and len(term) == MIN_INDEXED_TERM and term.isascii():
        # the events the index holds are found by it alone; those after it are tested on their rows (one
        # statement: both parts see the index as of the same moment)
        indexed, indexed_params, tail, tail_params = search_file.split_candidates('?', [trigram_query(term)], span)
        listed = database.execute_sql(
            f'SELECT (SELECT group_concat(seq) FROM ({indexed})), (SELECT group_concat(seq) FROM event '
            f'WHERE {tail} AND {substring_clause("search_text")})',
            [*indexed_params, *tail_params, substring_param(term)]).fetchone()
        found = np.concatenate([event_days.positions(listed[0]), event_days.positions(listed[1])])
        unsure = event_days.beyond_ascii(days, found)
        if unsure.any():
            query = select_events(viewer, flt, narrow_search=False)
            checked = _positions(f'SELECT group_concat(e.seq) FROM event e WHERE e.seq IN '
                                 f'(SELECT value FROM json_each(?)) AND {query.where}',
                                 [json.dumps(found[unsure].tolist()), *query.params])
            found = np.concatenate([found[~unsure], checked])
        return event_days.split(days, found)
    if whole_store:  # nothing else narrows the view: the candidates drive the read ('failed' at 1M, 47 → 43 ms)
        return _candidate_counts(viewer, flt, DAY, trigram_query(term), ('1 = 1', []), span, days)
    query = select_events(viewer, flt, span=span)
    return event_days.split(days, _positions(f'SELECT group_concat(e.seq) FROM event e WHERE {query.where}',
                                             query.params))


def _positions(sql: str, params: list) -> np.ndarray:
    """The positions a `group_concat(seq)` query lists."""
    return event_days.positions(database.execute_sql(sql, params).fetchone()[0])


Clause = tuple[str, list]


def _one_of(facet: search_index.Facet, named: search_index.Named, alias: str) -> Clause:
    """`alias`'s facet columns hold one of the named values (rows of id, *values)."""
    values = ', '.join('(' + ', '.join('?' * len(facet.columns)) + ')' for _ in named)
    columns = ', '.join(f'{alias}.{column}' for column in facet.columns)
    return f'({columns}) IN (VALUES {values})', [value for _, *row in named for value in row]


def _none_of(facet: search_index.Facet, named: search_index.Named, alias: str) -> Clause:
    if not named:
        return '1 = 1', []
    clause, params = _one_of(facet, named, alias)
    return f'NOT {clause}', params


def _both(first: Clause, second: Clause) -> Clause:
    return f'{first[0]} AND {second[0]}', [*first[1], *second[1]]


def _day_counts(viewer: Viewer, flt: EventFilter, pairs: search_index.Named | None = None) -> Counts:
    """Whole UTC days from the daily counts, the part days at the edges of the filter's range from the rows;
    only events of `pairs`, when given."""
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    first, end = rollup.full_days(since, until)
    if first is not None and end is not None and first >= end:
        return row_counts(viewer, flt, DAY, extra=_one_of(PAIR, pairs, 'e') if pairs else None)
    counts: Counts = {}
    where = rollup_where(viewer, flt, first, end)
    if where is None:
        return counts
    clause, params = where
    if pairs:
        clause, params = _both((clause, params), _one_of(PAIR, pairs, 'c'))
    rows = database.execute_sql(  # grouped by day alone, the daily counts' key order: no sorting
        "SELECT c.day, sum(c.n), sum(CASE WHEN c.status = 'FAILED' THEN c.n ELSE 0 END) "
        f'FROM event_count c WHERE {clause} GROUP BY c.day', params)
    counts.update((day, (int(n - failed), int(failed))) for day, n, failed in rows)
    edges = _one_of(PAIR, pairs, 'e') if pairs else None
    if first is not None and since != first * DAY:
        _merge(counts, row_counts(viewer, replace(flt, until=from_millis(first * DAY)), DAY, extra=edges))
    if end is not None and until != end * DAY:
        _merge(counts, row_counts(viewer, replace(flt, since=from_millis(end * DAY)), DAY, extra=edges))
    return counts


def _merge(counts: Counts, more: Iterable[tuple[int, tuple[int, int]]] | Counts) -> Counts:
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
        return _merge(counts, ((key, (n - int(failed), int(failed))) for key, n, failed in rows))
    for index, status in enumerate(STATUSES):
        query = select_events(viewer, replace(flt, status=status))
        rows = database.execute_sql(f'SELECT e.ts / ?, count(*) FROM event e WHERE {query.where}{condition} '
                                    'GROUP BY 1', [width, *query.params, *tail])
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
        alone = not database.in_transaction()  # else events of this transaction may be unseen by helpers
        with read_snapshot():
            head, head_hash = database.execute_sql(
                "SELECT coalesce(max(seq), 0), coalesce(max(hash), '') FROM event "
                'WHERE seq = (SELECT max(seq) FROM event)').fetchone()
            if known and known[0] <= head and self._still_there(known[0], known[1]):
                counts = known[2]  # the same store, grown since: count only the new events
                if known[0] < head:
                    counts = _merge(dict(counts), row_counts(viewer, flt, width, after=known[0]))
            else:
                low = min(_before_range(flt, head), head)
                indexed = len(normalize_search(flt.search)) >= MIN_INDEXED_TERM and not flt.user
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
