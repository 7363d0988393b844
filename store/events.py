"""Reading events: pages of the table, the export's stream, the API's keyset pages and the user list.

Each is built on `select_events` (store/query.py), which applies the viewer's visibility and the
filter; the totals come from store/counts.py. `Viewer`, `EventFilter` and `count_events` are
re-exported here for the readers that take all of these from one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from store import chain, sort_index
from store.counts import count_events, resolution, rollup_total, view_counts
from store.db import database, is_sqlite, stream
from store.dialect import unindexed
from store.query import (
    MIN_INDEXED_TERM,
    WHOLE_STORE,
    EventFilter,
    Query,
    Viewer,
    normalize_search,
    select_events,
    trigram_query,
)
from store.race import first_done
from store.timefmt import from_millis, iso, to_millis

__all__ = ['EventFilter', 'EventPage', 'Sort', 'Viewer', 'count_after', 'count_events', 'event_json', 'events_after',
           'find_events', 'first_position', 'iter_events', 'page_after', 'visible_users', 'workspace_names']

SORTABLE = {
    'timestamp': 'e.ts', 'user': 'e.actor', 'scope': 'e.scope', 'category': 'e.category', 'action': 'e.action',
    'target': 'e.target', 'status': 'e.status', 'description': 'e.description',
}


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


COLUMNS = """e.seq, e.uid, e.ts, e.actor, e.scope, e.category, e.action, e.target, e.status, e.description,
             (SELECT name FROM workspace w WHERE w.id = e.workspace_id), e.metadata, e.hash"""


def _order(sort: Sort, by_index: bool = True) -> str:
    """The ORDER BY of `sort`; with `by_index` off, no index can give it (each term is `+column`), so SQLite
    finds the matches first and sorts them."""
    direction = 'DESC' if sort.descending else 'ASC'
    column = SORTABLE[sort.column]
    if column == 'e.ts':
        columns = ['e.ts', 'e.seq']
    elif column == 'e.category':  # categories repeat across scopes; one index serves this order and the filter
        columns = ['e.category', 'e.scope', 'e.ts', 'e.seq']
    else:
        columns = [column, 'e.ts', 'e.seq']
    return ', '.join(f'{name if by_index else unindexed(name, name not in ("e.ts", "e.seq"))} {direction}'
                     for name in columns)


def _event(row: tuple) -> dict[str, Any]:
    return {
        'seq': row[0], 'id': row[1], 'timestamp': from_millis(row[2]), 'user': row[3], 'scope': row[4],
        'category': row[5], 'action': row[6], 'target': row[7], 'status': row[8], 'description': row[9],
        'workspace': row[10], 'metadata': json.loads(row[11]) if row[11] else None, 'hash': row[12],
    }


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the API answers it and streams deliver it (README, The event)."""
    return {'id': event['id'], 'timestamp': iso(event['timestamp']), 'user': event['user'],
            'scope': event['scope'], 'category': event['category'], 'action': event['action'],
            'target': event['target'], 'status': event['status'], 'description': event['description'],
            'workspace': event['workspace'], 'metadata': event['metadata'], 'hash': event['hash']}


def find_events(viewer: Viewer, flt: EventFilter, sort: Sort = Sort(), offset: int = 0,
                limit: int = 50) -> EventPage:
    """One page of the events `viewer` may see that match `flt`, with the exact total."""
    offset, limit = max(0, int(offset)), max(1, min(int(limit), 1000))
    total = count_events(viewer, flt)
    if offset >= total:
        return EventPage([], total, offset)
    return EventPage([_event(row) for row in _rows(viewer, flt, sort, offset, limit, total)], total, offset)


def page_after(viewer: Viewer, flt: EventFilter, cursor: tuple[int, int] | None, limit: int) -> EventPage:
    """Newest-first events strictly older than the keyset `cursor` (ts, seq), with the view's exact total.

    A cursor names a position in the same walk an offset does: the view narrowed to the cursor's millisecond
    and older, less the events of that millisecond at or after the cursor, is read by the page's planner
    from its start. So the API's next page costs what the page's first page does (measured at 1M events, a
    workspace token's next page without a filter: 627 ms when SQLite chose the plan of the keyset query).
    Stable while events arrive: newer events fall outside the narrowed view.
    """
    limit = max(1, min(int(limit), 1001))
    total = count_events(viewer, flt)
    if cursor is None:
        narrowed, skip = flt, 0
    else:
        ts, seq = cursor
        end = ts + 1 if flt.until is None else min(ts + 1, to_millis(flt.until))
        narrowed = replace(flt, until=from_millis(end))
        skip = _at_or_after(viewer, narrowed, ts, seq) if end == ts + 1 else 0
    if total == 0:
        return EventPage([], 0)
    # The narrowed view's matches are at most the view's: its total stands in for theirs in the planner's
    # choices (walk or sort), which only estimate costs and race the other way when wrong.
    return EventPage([_event(row) for row in _rows(viewer, narrowed, Sort(), skip, limit, total, near=True)], total)


def _at_or_after(viewer: Viewer, flt: EventFilter, ts: int, seq: int) -> int:
    """How many events of the view share the millisecond `ts` with seq `seq` or later (the cursor's own
    event among them): a cursor page skips those."""
    query = select_events(viewer, replace(flt, since=from_millis(ts)), narrow_search=False)
    return database.execute_sql(f'SELECT count(*) FROM event e WHERE {query.where} AND e.seq >= ?',
                                [*query.params, seq]).fetchone()[0]


def _rows(viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, limit: int, total: int,
          near: bool = False) -> list[tuple]:
    """The rows of a page: the planner's choice of how to read it.

    A page in the second half is read from the other end in the opposite order, so the last page costs what
    the first does. `near` says `total` is only an upper bound and the page is near the start.
    """
    seek = _seek(viewer, flt, sort, offset, total) if offset >= SEEK_FROM and not near else None
    if seek is not None:
        narrowed, skip, remaining = seek
        return _rows(viewer, narrowed, sort, skip, limit, remaining, near=True)
    if offset > total // 2 and not near:
        count = min(limit, total - offset)
        rows = _page(select_events(viewer, flt), Sort(sort.column, not sort.descending), total - offset - count, count,
                     total, (viewer, flt))
        rows.reverse()
        return rows
    narrow = sort.column == 'timestamp' or not is_common_term(flt.search, total, offset)
    return _page(select_events(viewer, flt, narrow_search=narrow), sort, offset, limit, total, (viewer, flt))


# Matches from which a sort table's order is walked rather than the matches sorted. A filter of facets and
# time only is checked on the entries themselves (sort_index.prefilter): a walk then costs at most a scan
# of the table (measured at 1M events: 63 ms for descriptions), less than sorting a few thousand matches
# that SQLite may reach through a poor index (10,159 in 165 ms).
SORT_TABLE_FROM = 20_000
SORT_TABLE_FROM_FACETS = 2_000
# A search or a user is checked on each event a walk in another column's order reads (a sort table or an
# index). When the matches come late in that order (a term found in one kind of description or action), the
# walk reads most events: measured at 1M events, 'credit' sorted by action took 2.3 s. So the other way
# starts beside a walk that is not done after HEAD_START (store/db.py `first_done`), and the walk gets at
# most about the time the other way takes: a page costs about the quicker of the two. The other way sorts
# the matches after finding them through the search index (about 3 µs per match) or, for many matches, by
# testing every event (about 0.45 µs per event), measured at 1M.
HEAD_START = 0.002
WALK_SECONDS = 0.04
SORT_SECONDS_PER_MATCH = 3e-6
SCAN_SECONDS_PER_EVENT = 0.45e-6
WALK_SECONDS_PER_EVENT = 1e-6  # an event read in an index's time order and tested


def _page(query: Query, sort: Sort, offset: int, limit: int, matches: int = 0,
          view: tuple[Viewer, EventFilter] | None = None) -> list[tuple]:
    if view is None:
        return _in_order(query, sort, offset, limit)
    if not is_sqlite():
        return _postgres_page(query, sort, offset, limit, matches)
    if sort.column == 'timestamp':
        return _in_time_order(query, sort, offset, limit, matches, view)
    viewer, flt = view
    searched = bool(normalize_search(flt.search) or flt.user)
    tabled = sort.column in sort_index.TABLES and matches >= (SORT_TABLE_FROM if searched else SORT_TABLE_FROM_FACETS)

    def in_column_order() -> list[tuple]:
        return _walk(query, sort, offset, limit, view) if tabled else _in_order(query, sort, offset, limit)

    if not searched:
        return in_column_order()
    through_index = matches * SORT_SECONDS_PER_MATCH
    scan = chain.head()[0] * SCAN_SECONDS_PER_EVENT

    def sorted_matches() -> list[tuple]:
        sorted_query = select_events(viewer, flt, narrow_search=through_index <= scan)
        return _in_order(sorted_query, sort, offset, limit, by_index=False)

    return first_done(in_column_order, sorted_matches, max(WALK_SECONDS, min(through_index, scan)), HEAD_START)


# PostgreSQL keeps an index in the order of each of these columns (store/schema.py) and chooses between walking
# it and sorting the matches by its estimates, which cannot tell where in that order the matches lie. When they
# come late (the targets of one category, a keyword found in one kind of action), the walk reads most of the
# table: measured at 1M events, target within Service / AI Notebook took 2.5 s, action with the search 'credit'
# 3.2 s, where sorting the matches took 230 and 100 ms. So the walk gets WALK_SECONDS, then the sort runs
# (store/race.py): PostgreSQL sorts with parallel workers, and with the walk going on beside them on 2 cores
# the sort took about twice as long.
# A walk that fails costs its time on top of the sort: it gets at most a quarter of the sort's estimate
# ('credit', 20,000 matches, sorted by description: 114 → 209 ms with 40 ms for the walk).
WALK_SHARE = 0.25
MIN_WALK_SECONDS = 0.005
POSTGRES_WALKS = frozenset({'user', 'scope', 'category', 'action', 'target', 'status', 'description'})


def _postgres_page(query: Query, sort: Sort, offset: int, limit: int, matches: int) -> list[tuple]:
    """A page on PostgreSQL: in time order, or of every event, as its planner chooses; in another column's
    order, the quicker of walking that column's index and sorting the matches."""
    if sort.column == 'timestamp' or query.where == WHOLE_STORE:
        return _in_order(query, sort, offset, limit)
    if sort.column not in POSTGRES_WALKS:
        return _in_order(query, sort, offset, limit, by_index=False)
    walk = min(WALK_SECONDS, max(MIN_WALK_SECONDS, matches * SORT_SECONDS_PER_MATCH * WALK_SHARE))
    return first_done(lambda: _in_order(query, sort, offset, limit),
                      lambda: _in_order(query, sort, offset, limit, by_index=False), walk, walk)


def _in_time_order(query: Query, sort: Sort, offset: int, limit: int, matches: int,
                   view: tuple[Viewer, EventFilter]) -> list[tuple]:
    """A page of a keyword's matches in time order.

    Walking the view (the filter without the keyword) in time order and testing each event reaches the page
    after about (offset + limit) × events in the view / matches events; finding every match through the search
    index and sorting them costs about 3 µs a match. The walk is tried when it should cost less, with the other
    way beside it (`first_done`), since matches may gather far from the start. Measured at 1M events,
    'failed' (11,320 matches) for a Workspace Admin: 126 ms through the index, 0.6 ms walking.
    """
    viewer, flt = view
    through_index = matches * SORT_SECONDS_PER_MATCH
    # a walk reads at least the events up to the page's end: with fewer matches the view is not even counted
    shortest_walk = (offset + limit) * WALK_SECONDS_PER_EVENT
    if len(normalize_search(flt.search)) >= MIN_INDEXED_TERM and shortest_walk < through_index:
        plain = replace(flt, search='')
        in_view = count_events(viewer, plain) if flt.user else rollup_total(viewer, plain)
        if (offset + limit) * in_view / matches * WALK_SECONDS_PER_EVENT < through_index:
            return first_done(lambda: _in_order(select_events(viewer, flt, narrow_search=False), sort, offset, limit),
                              lambda: _in_order(query, sort, offset, limit), max(WALK_SECONDS, through_index),
                              HEAD_START)
    return _in_order(query, sort, offset, limit)


def _in_order(query: Query, sort: Sort, offset: int, limit: int, by_index: bool = True) -> list[tuple]:
    """The page's positions are found first, then its rows are read: when the matches are sorted, the columns
    (the workspace's name is a subquery) are built for the page only, not for every match (measured at 1M
    events: 'nb-' sorted by category, 1,175 → 469 ms)."""
    return database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE e.seq IN (SELECT e.seq FROM event e WHERE {query.where} '
        f'ORDER BY {_order(sort, by_index)} LIMIT ? OFFSET ?) ORDER BY {_order(sort)}',
        [*query.params, limit, offset]).fetchall()


def _walk(query: Query, sort: Sort, offset: int, limit: int, view: tuple[Viewer, EventFilter]) -> list[tuple]:
    """A page read in the order of the column's sort table (store/sort_index.py)."""
    direction = 'DESC' if sort.descending else 'ASC'
    upto = sort_index.sorted_upto()
    entries, entry_params = sort_index.prefilter(*view)
    rows = database.execute_sql(sort_index.page_sql(sort.column, COLUMNS, query.where, direction, entries),
                                [*entry_params, *query.params, upto, *query.params, upto, offset + limit,
                                 limit, offset]).fetchall()
    return [row[:-3] for row in rows]


SEEK_FROM = 5_000


def _seek(viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, total: int) -> tuple[EventFilter, int, int] | None:
    """A deep page in time order without stepping over every event before it: `flt` narrowed to the events
    beyond a bucket boundary, how many of those to skip (fewer than one bucket holds), and how many the
    narrowed view holds.

    The boundary is placed by the view's own counts per bucket and status, which the total was summed from
    (store/counts.py keeps them), so any view, a keyword's or a user's too, is placed without a second pass.
    Measured at 1M events, the middle page of 'notebook' took 231 ms stepping over the matches before it.
    None when the sort is not by time or the page is in the first bucket.
    """
    if sort.column != 'timestamp':
        return None
    width = resolution(viewer, flt)
    counts = view_counts(viewer, flt, width)
    passed = 0
    for bucket in sorted(counts, reverse=sort.descending):
        count = sum(counts[bucket])
        if passed + count > offset:
            break
        passed += count
    else:
        return None
    if passed == 0:
        return None
    if sort.descending:
        return replace(flt, until=from_millis((bucket + 1) * width)), offset - passed, total - passed
    return replace(flt, since=from_millis(bucket * width)), offset - passed, total - passed


COMMON_MATCHES = 20_000


def is_common_term(search: str, total: int, offset: int) -> bool:
    """Whether a search matches so many rows that a near page is found faster by walking time order."""
    term = normalize_search(search)
    if len(term) < MIN_INDEXED_TERM or total < COMMON_MATCHES or offset > 10_000 or not is_sqlite():
        return False
    probe = database.execute_sql(
        'SELECT count(*) FROM (SELECT rowid FROM search.event_search WHERE event_search MATCH ? LIMIT ?)',
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


def events_after(viewer: Viewer, flt: EventFilter, position: int, limit: int, upto: int | None = None) -> list[dict]:
    """The matching events stored after `position` (and at most at `upto`), in storage order (seq ascending), at
    most `limit`: what a stream delivers next (store/streams.py)."""
    query = select_events(viewer, flt, span=(position, upto if upto is not None else chain.head()[0]))
    rows = database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE {query.where} ORDER BY e.seq LIMIT ?', [*query.params, limit])
    return [_event(row) for row in rows]


def count_after(viewer: Viewer, flt: EventFilter, position: int, upto: int) -> int:
    """How many matching events are stored after `position` up to `upto`: a stream's lag."""
    query = select_events(viewer, flt, span=(position, upto))
    return database.execute_sql(f'SELECT count(*) FROM event e WHERE {query.where}', query.params).fetchone()[0]


def first_position(viewer: Viewer, flt: EventFilter) -> int | None:
    """The storage position of the first matching event (e.g. of those since a time), None without one."""
    query = select_events(viewer, flt)
    row = database.execute_sql(f'SELECT min(e.seq) FROM event e WHERE {query.where}', query.params).fetchone()
    return row[0] if row else None


def visible_users(viewer: Viewer, flt: EventFilter | None = None, limit: int = 200) -> list[str]:
    query = select_events(viewer, replace(flt or EventFilter(), user=None))
    rows = database.execute_sql(
        f'SELECT DISTINCT e.actor FROM event e WHERE {query.where} ORDER BY e.actor LIMIT ?', [*query.params, limit])
    return [row[0] for row in rows]


def workspace_names() -> list[str]:
    return [row[0] for row in database.execute_sql('SELECT name FROM workspace ORDER BY name')]
