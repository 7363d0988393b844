"""Reading events: pages of the table, the export's walk through them to the end, the API's keyset pages, a
stream's next events and the user list.

Each is built on `select_events` (store/read/query.py), which applies the viewer's visibility and the
filter; a page's way of reading, the export's pages too, is planned by store/read/planner.py; the totals come from
store/read/counts.py. `Viewer`, `EventFilter` and `count_events` are
re-exported here for the readers that take all of these from one place.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any

from store.engine.db import database
from store.engine.timefmt import from_millis, iso, to_millis
from store.ledger import chain
from store.read.activity import marks_read
from store.read.counts import count_events, rollup_total
from store.read.planner import execute, plan_page
from store.read.query import EventFilter, Viewer, select_events
from store.read.ways import COLUMNS, SORTABLE, Sort, key_of

__all__ = ['SORTABLE', 'EventFilter', 'EventPage', 'Sort', 'Viewer', 'count_after', 'count_events', 'event_json',
           'events_after', 'find_events', 'first_position', 'iter_events', 'page_after', 'visible_users',
           'workspace_names']

@dataclass
class EventPage:
    events: list[dict[str, Any]]
    total: int
    offset: int = 0


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


@marks_read
def find_events(viewer: Viewer, flt: EventFilter, sort: Sort = Sort(), offset: int = 0,
                limit: int = 50) -> EventPage:
    """One page of the events `viewer` may see that match `flt`, with the exact total."""
    offset, limit = max(0, int(offset)), max(1, min(int(limit), 1000))
    total = count_events(viewer, flt)
    if offset >= total:
        return EventPage([], total, offset)
    plan = plan_page(viewer, flt, sort, offset, limit, total)
    return EventPage([_event(row) for row in execute(plan)], total, offset)


@marks_read
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
    plan = plan_page(viewer, narrowed, Sort(), skip, limit, total, near=True)
    return EventPage([_event(row) for row in execute(plan)], total)


def _at_or_after(viewer: Viewer, flt: EventFilter, ts: int, seq: int) -> int:
    """How many events of the view share the millisecond `ts` with seq `seq` or later (the cursor's own
    event among them): a cursor page skips those."""
    query = select_events(viewer, replace(flt, since=from_millis(ts)), narrow_search=False)
    return database.execute_sql(f'SELECT count(*) FROM event e WHERE {query.where} AND e.seq >= ?',
                                [*query.params, seq]).fetchone()[0]


def iter_events(viewer: Viewer, flt: EventFilter, sort: Sort = Sort(),
                chunk: int = 5000) -> Generator[dict[str, Any], None, None]:
    """Every matching event in `sort` order, as of the call: the page's walk to the end, a chunk at a time.

    Each chunk is a page the planner plans and reads as it does `find_events`' pages, continued after the last
    event of the chunk before (a position in the order, not an offset: a deep offset costs more, and offsets
    in a newest-first view move when events arrive) among the events stored up to the last one at the start.
    Events appended meanwhile lie beyond that position and are left out; none is read twice or skipped.
    Fixing that position rather than holding one read transaction (a snapshot) for the whole walk keeps every
    chunk its own short read: SQLite's write-ahead log can be copied back between chunks instead of growing
    for the length of the export, PostgreSQL keeps no snapshot open for minutes, and the planner's races keep
    their second connection (inside a transaction store/engine/race.py runs the two ways one after the other).
    Measured at 1M events through `main.py export` to CSV (p50 of 3 runs alternating with the one sorted query
    this replaced): the whole store newest first 17.4 s either way, 'notebook' 5.6 → 6.5 s, by target 17.2 →
    24.3 s (a sort table's order reads the events in random places; that query sorted them in one pass).

    The plans take the events of the view without its keyword or user, summed from the daily counts, for the
    number of matches: an upper bound, where the page has the exact total. Counting a keyword's matches first
    held up to 150 MB more in page caches in a command-line export ('failed' at 1M events), and where the
    bound misleads the planner's choice, its races decide.
    """
    chunk = max(1, int(chunk))
    upto = chain.head()[0]
    matches = rollup_total(viewer, replace(flt, search='', user=None))  # read after `upto`: at least the walk's
    after = None
    while matches:
        rows = execute(plan_page(viewer, flt, sort, 0, chunk, matches, after=after, upto=upto))
        for row in rows:
            yield _event(row)
        if len(rows) < chunk:
            return
        after = key_of(sort, rows[-1])


def events_after(viewer: Viewer, flt: EventFilter, position: int, limit: int, upto: int | None = None) -> list[dict]:
    """The matching events stored after `position` (and at most at `upto`), in storage order (seq ascending), at
    most `limit`: what a stream delivers next (store/streams/registry.py)."""
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
