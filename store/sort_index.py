"""Sorting by target or description (SQLite): orders kept off the append path, filled in large steps.

Events arrive in time order, but their targets and descriptions in no order at all: an index on such
a column costs every append one page write per event once the index is larger than a batch (measured
at 1,000,000 events: the (target, ts) index took 18 of 64 ms per 1,000 events appended, more than a
quarter of the write lock). Each of these columns instead has a table of (value, ts, seq) in its sort
order, filled from the events up to the position recorded in meta (`sorted_upto`). Filling many events
at once touches each page of the table once for many of them. The events after that position, the
tail, are sorted when read, and a page is the merge of both (`page_sql`), so every read is exact
whatever the tail's length.

The tail is filled in one sorted pass: by the app when no event has arrived for a few seconds
(`flush_when_idle`), and by an append that finds the tail longer than FLUSH_AT, which bounds what a
read sorts. Like the daily counts and the trigram index, these tables are derived from the events.
PostgreSQL keeps its plain (target, ts) index; none of this applies there.
"""

from __future__ import annotations

import time
from typing import Any

import peewee

from store import chain
from store.db import database, is_sqlite, write_transaction
from store.meta import get_value
from store.query import EventFilter, Viewer, add_time_range

TABLES = {'target': 'sort_target', 'description': 'sort_description'}
_FILL = """INSERT OR IGNORE INTO {table} ({column}, ts, seq, pair, failed, workspace_id)
    SELECT e.{column}, e.ts, e.seq, p.id, e.status = 'FAILED', e.workspace_id
    FROM event e LEFT JOIN facet_marker p ON p.scope = e.scope AND p.category = e.category"""
UPTO_KEY = 'sorted_upto'
FLUSH_AT = 200_000  # events in the tail beyond which an append fills it itself (a read then sorts ≤ 50 ms)
IDLE_SECONDS = 1.0  # no append for this long: the app fills the tail

# Besides the order, each entry carries the event's facets in a few bytes: its (scope, category) pair's
# number in facet_marker, whether it failed, its workspace. A walk then skips the entries a structured
# filter excludes without reading their events; values and facets go together (descriptions follow the
# category), so without them a walk could read most of the events before it found a page.
CREATE = [
    *(f"""CREATE TABLE {table} (
        {column} TEXT NOT NULL,
        ts INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        pair INTEGER,
        failed INTEGER NOT NULL,
        workspace_id INTEGER,
        PRIMARY KEY ({column}, ts, seq)
    ) WITHOUT ROWID""" for column, table in TABLES.items()),
    *(f'{_FILL.format(column=column, table=table)} ORDER BY 1, 2, 3' for column, table in TABLES.items()),
    f"INSERT INTO meta (key, value) SELECT '{UPTO_KEY}', coalesce(max(seq), 0) FROM event",
]

_last_append = 0.0


def appended() -> None:
    """Note that events were just appended (the idle flush waits for a quiet moment)."""
    global _last_append
    _last_append = time.monotonic()


def sorted_upto() -> int:
    """The last event position whose target and description are in the sort tables."""
    return int(get_value(UPTO_KEY) or 0)


def fill() -> int:
    """Fill the sort tables with the tail; call inside a write transaction. Returns the events filled."""
    upto, last = sorted_upto(), chain.head()[0]
    if last <= upto:
        return 0
    for column, table in TABLES.items():
        database.execute_sql(f'{_FILL.format(column=column, table=table)} WHERE e.seq > ? AND e.seq <= ? '
                             'ORDER BY 1, 2, 3', (upto, last))
    database.execute_sql('INSERT INTO meta (key, value) VALUES (?, ?) '
                         'ON CONFLICT (key) DO UPDATE SET value = excluded.value', (UPTO_KEY, str(last)))
    return last - upto


def fill_if_due(last_seq: int) -> None:
    """After an append that ends at `last_seq`, in its transaction: fill the tail if it is over FLUSH_AT."""
    if is_sqlite() and last_seq - sorted_upto() >= FLUSH_AT:
        fill()


def flush() -> int:
    """Fill the tail in its own write transaction; returns the events filled."""
    if not is_sqlite():
        return 0
    with write_transaction():
        return fill()


def flush_when_idle(seen_last: int | None = None) -> tuple[int, int]:
    """Fill the tail when the store is quiet: this process appended nothing for IDLE_SECONDS, and the last
    event is still `seen_last` (read by the previous call, so other processes' appends count too).

    Returns the last event's position now, for the next call, and the events filled. When another writer
    holds the database (a long import), it fills nothing and the next call tries again.
    """
    if not is_sqlite():
        return 0, 0
    last = chain.head()[0]
    if last != seen_last or time.monotonic() - _last_append < IDLE_SECONDS or last <= sorted_upto():
        return last, 0
    try:
        return last, flush()
    except peewee.OperationalError as exc:
        if 'locked' not in str(exc):
            raise
        return last, 0


def prefilter(viewer: Viewer, flt: EventFilter) -> tuple[str, list[Any]]:
    """Conditions on a sort table's entries (`s`) that every event of the view meets: they skip entries
    before the event is read. A superset only; the view's own WHERE decides (an entry may lack its pair)."""
    clauses: list[str] = []
    params: list[Any] = []
    if viewer.workspaces is not None:
        names = sorted(viewer.workspaces)
        clauses.append(f's.workspace_id IN (SELECT id FROM workspace WHERE name IN ({",".join("?" * len(names))}))')
        params += names
    if flt.workspace:
        clauses.append('s.workspace_id = (SELECT id FROM workspace WHERE name = ?)')
        params.append(flt.workspace)
    pair = [(column, value) for column, value in (('scope', flt.scope), ('category', flt.category)) if value]
    if pair:
        clauses.append('(s.pair IS NULL OR s.pair IN (SELECT id FROM facet_marker WHERE '
                       + ' AND '.join(f'{column} = ?' for column, _ in pair) + '))')
        params += [value for _, value in pair]
    if flt.status:
        clauses.append('s.failed = ?')
        params.append(int(flt.status == 'FAILED'))
    add_time_range(flt, 's', clauses, params)
    return ' AND '.join(clauses) or '1 = 1', params


def page_sql(column: str, columns: str, where: str, direction: str, entries: str = '1 = 1') -> str:
    """One page in `column` order: the sort table walked in order, merged with the sorted tail.

    Parameters, in order: the `entries` (see `prefilter`) and `where` parameters and sorted_upto (sorted
    part), the `where` parameters, sorted_upto and offset + limit (tail), then limit and offset. Each row
    ends with three sort keys. The sorted part drives the join (CROSS JOIN keeps SQLite from reordering
    it), so it costs about (offset + limit) × entries / matches lookups: for a broad view, not a few matches.
    The tail is read by position (NOT INDEXED: SQLite would otherwise walk a facet's index, which cannot
    tell that the tail is short, through all of its events).
    """
    table = TABLES[column]
    order = f'sort_value {direction}, sort_ts {direction}, sort_seq {direction}'
    return f"""SELECT {columns}, s.{column} AS sort_value, s.ts AS sort_ts, s.seq AS sort_seq
        FROM {table} s CROSS JOIN event e ON e.seq = s.seq
        WHERE {entries} AND {where} AND s.seq <= ?
        UNION ALL
        SELECT * FROM (SELECT {columns}, e.{column}, e.ts, e.seq FROM event e NOT INDEXED
                       WHERE {where} AND e.seq > ?
                       ORDER BY e.{column} {direction}, e.ts {direction}, e.seq {direction} LIMIT ?)
        ORDER BY {order} LIMIT ? OFFSET ?"""
