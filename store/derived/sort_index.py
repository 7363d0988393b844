"""Sorting by target or description (SQLite): orders kept off the append path, filled in large steps.

Events arrive in time order, but their targets and descriptions in no order at all: an index on such
a column costs every append one page write per event once the index is larger than a batch (measured
at 1,000,000 events: the (target, ts) index took 18 of 64 ms per 1,000 events appended, more than a
quarter of the write lock). Each of these columns instead has a table of (value, ts, seq) in its sort
order, filled from the events up to the last position recorded in `sort_progress`. Filling many events
at once touches each page of the table once for many of them. The events after that position, the
tail, are sorted when read, and a page is the merge of both (`page_sql`), so every read is exact
whatever the tail's length.

The tables live in the search index's file (store/derived/search_file.py), with its write lock: the tail is
filled in one sorted pass beside the writers, not inside an append (at 1M events a fill of 200,000
events held the write lock about 1 s). The search indexer fills it once it is longer than FLUSH_AT,
which bounds what a read sorts, and the app when no event has arrived for a few seconds
(`flush_when_idle`). As for the search index, a recorded position counts only while the event there
has the recorded hash: tables of other events (a restored backup) are not used, and the next fill
empties them first. Like the daily counts and the trigram index, these tables are derived from the
events. PostgreSQL keeps its plain (target, ts) index; none of this applies there.
"""

from __future__ import annotations

import time

import peewee

from store.derived.progress import Progress
from store.engine.db import database, is_sqlite
from store.ledger import chain

TABLES = {'target': 'search.sort_target', 'description': 'search.sort_description'}
_FILL = """INSERT OR IGNORE INTO {table} ({column}, ts, seq, pair, failed, workspace_id)
    SELECT e.{column}, e.ts, e.seq, p.id, e.status = 'FAILED', e.workspace_id
    FROM main.event e LEFT JOIN main.facet_marker p ON p.scope = e.scope AND p.category = e.category"""
FLUSH_AT = 200_000  # events in the tail beyond which the indexer fills it (a read then sorts ≤ 50 ms)
IDLE_SECONDS = 1.0  # no append for this long: the app fills the tail

# Besides the order, each entry carries the event's facets in a few bytes: its (scope, category) pair's
# number in facet_marker, whether it failed, its workspace. A walk then skips the entries a structured
# filter excludes without reading their events; values and facets go together (descriptions follow the
# category), so without them a walk could read most of the events before it found a page.
def _create(column: str, table: str) -> str:
    return f"""CREATE TABLE {table} (
        {column} TEXT NOT NULL,
        ts INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        pair INTEGER,
        failed INTEGER NOT NULL,
        workspace_id INTEGER,
        PRIMARY KEY ({column}, ts, seq)
    ) WITHOUT ROWID"""


# Each table is cut into blocks of consecutive entries in its order, and the entries of each block are counted per
# pair, status and workspace: a deep page of a view of those is placed by the counts (store/read/ways.py `placed`),
# in the block holding it, instead of stepping over every entry before it. A block is named by its first position
# (value, ts, seq) in `BOUNDS`; the first block starts before any entry. A fill counts its entries into the blocks
# they fall in, and a block grown beyond twice BLOCK entries is cut again into blocks of BLOCK. Measured at 1M
# events, the middle page of workspace research by target (offset 80,798): 143 ms stepping over the entries.
BLOCK = 8192
BOUNDS = {column: f'{table}_bound' for column, table in TABLES.items()}
TALLIES = {column: f'{table}_tally' for column, table in TABLES.items()}
# A table filled before the blocks is cut from its first entry on, CUT_BLOCKS blocks a transaction (about 1.5 s
# at 10M events), so that no other writer of the file waits long; the position from which its entries are not yet
# cut is kept here meanwhile, and the blocks are not read (`blocked`).
UNCUT = 'search.sort_uncut'
CUT_BLOCKS = 64
_LEAST = ('', -(2 ** 63), 0)  # the first block's position: before any entry
CUT_PAUSE = 0.2  # between two transactions of a cut, for other writers of the file (their waits poll up to 100 ms)


def _blocks_create(column: str) -> list[str]:
    """The statements making `column`'s blocks (BOUNDS, TALLIES) and its first bound."""
    bounds, tally = BOUNDS[column], TALLIES[column]
    return [f"""CREATE TABLE IF NOT EXISTS {bounds} (id INTEGER PRIMARY KEY, value TEXT NOT NULL, ts INTEGER NOT NULL,
                   seq INTEGER NOT NULL)""",
            f'CREATE UNIQUE INDEX IF NOT EXISTS {bounds}_key ON {bounds.removeprefix("search.")} (value, ts, seq)',
            f"""CREATE TABLE IF NOT EXISTS {tally} (block INTEGER NOT NULL, pair INTEGER NOT NULL,
                   failed INTEGER NOT NULL, workspace_id INTEGER NOT NULL, n INTEGER NOT NULL,
                   PRIMARY KEY (block, pair, failed, workspace_id)) WITHOUT ROWID""",
            f"INSERT OR IGNORE INTO {bounds} (id, value, ts, seq) VALUES (1, '{_LEAST[0]}', {_LEAST[1]}, {_LEAST[2]})"]


_UNCUT_CREATE = f"""CREATE TABLE IF NOT EXISTS {UNCUT} (name TEXT PRIMARY KEY, value TEXT NOT NULL, ts INTEGER NOT NULL,
                       seq INTEGER NOT NULL)"""

Position = tuple[str, int, int]  # an entry's (value, ts, seq)


def block_range(column: str, block: int) -> tuple[Position, Position | None]:
    """The first position of `block` and that of the next block (None for the last)."""
    bounds = BOUNDS[column]
    lo = database.execute_sql(f'SELECT value, ts, seq FROM {bounds} WHERE id = ?', (block,)).fetchone()
    hi = database.execute_sql(f'SELECT value, ts, seq FROM {bounds} WHERE (value, ts, seq) > (?, ?, ?) '
                              'ORDER BY value, ts, seq LIMIT 1', tuple(lo)).fetchone()
    return tuple(lo), None if hi is None else tuple(hi)


def _cut(column: str, lo: Position, hi: Position | None, keep: int | None, most: int | None = None) -> int:
    """Cut the entries from `lo` up to `hi` (at most `most` of them) into blocks of BLOCK: a bound at every BLOCK-th
    entry, numbered on from the highest, and the entries counted into them. With `keep`, the first BLOCK entries
    stay in that block (a block cut again); else a bound starts them too. Returns the entries cut."""
    table, bounds, tally = TABLES[column], BOUNDS[column], TALLIES[column]
    where, params = f'({column}, ts, seq) >= (?, ?, ?)', [*lo]
    if hi is not None:
        where, params = f'{where} AND ({column}, ts, seq) < (?, ?, ?)', [*params, *hi]
    limit = '' if most is None else f' LIMIT {int(most)}'
    ranked = (f'SELECT value, ts, seq, pair, failed, ws, row_number() OVER (ORDER BY value, ts, seq) - 1 AS r FROM '
              f'(SELECT {column} AS value, ts, seq, coalesce(pair, 0) AS pair, failed, coalesce(workspace_id, 0) AS ws '
              f'FROM {table} WHERE {where} ORDER BY {column}, ts, seq{limit})')
    base = database.execute_sql(f'SELECT max(id) FROM {bounds}').fetchone()[0] + (keep is None)
    database.execute_sql(f'INSERT INTO {bounds} (id, value, ts, seq) SELECT ? + r / {BLOCK}, value, ts, seq '
                         f'FROM ({ranked}) WHERE r % {BLOCK} = 0 AND (r > 0 OR ?) ORDER BY r',
                         [base, *params, keep is None])
    if keep is not None:
        database.execute_sql(f'DELETE FROM {tally} WHERE block = ?', (keep,))
    counted = database.execute_sql(f"""INSERT INTO {tally} (block, pair, failed, workspace_id, n)
        SELECT CASE WHEN r / {BLOCK} = 0 AND ? IS NOT NULL THEN ? ELSE ? + r / {BLOCK} END, pair, failed, ws, count(*)
        FROM ({ranked}) GROUP BY r / {BLOCK}, pair, failed, ws RETURNING n""", [keep, keep, base, *params])
    return sum(row[0] for row in counted.fetchall())


def _uncut_from(column: str) -> Position | None:
    """The position from which `column`'s entries are not yet cut into blocks, None when all are."""
    row = database.execute_sql(f'SELECT value, ts, seq FROM {UNCUT} WHERE name = ?', (column,)).fetchone()
    return None if row is None else tuple(row)


def _count_filled(column: str, upto: int, last: int) -> None:
    """Count the events at positions upto < seq <= last (just filled into `column`'s table) into the blocks their
    entries fall in (not those still to be cut), then cut the blocks grown beyond twice BLOCK."""
    bounds, tally = BOUNDS[column], TALLIES[column]
    uncut = _uncut_from(column)
    before = '' if uncut is None else f' AND (e.{column}, e.ts, e.seq) < (?, ?, ?)'
    database.execute_sql(f"""INSERT INTO {tally} (block, pair, failed, workspace_id, n)
        SELECT (SELECT b.id FROM {bounds} b WHERE (b.value, b.ts, b.seq) <= (e.{column}, e.ts, e.seq)
                ORDER BY b.value DESC, b.ts DESC, b.seq DESC LIMIT 1),
               coalesce(p.id, 0), e.status = 'FAILED', coalesce(e.workspace_id, 0), count(*)
        FROM main.event e LEFT JOIN main.facet_marker p ON p.scope = e.scope AND p.category = e.category
        WHERE e.seq > ? AND e.seq <= ?{before} GROUP BY 1, 2, 3, 4
        ON CONFLICT (block, pair, failed, workspace_id) DO UPDATE SET n = n + excluded.n""",
                         (upto, last, *(uncut or ())))
    grown = database.execute_sql(f'SELECT block FROM {tally} GROUP BY block HAVING sum(n) > ?', (2 * BLOCK,))
    for (block,) in grown.fetchall():
        lo, hi = block_range(column, block)
        if uncut is not None and (hi is None or hi > uncut):
            hi = uncut  # the last block cut so far ends where the entries still to cut begin
        _cut(column, lo, hi, keep=block)


def _mark_unblocked() -> None:
    """Note a table that has entries but no blocks (filled before them) as to be cut whole."""
    for column, table in TABLES.items():
        database.execute_sql(f"""INSERT OR IGNORE INTO {UNCUT} (name, value, ts, seq) SELECT ?, ?, ?, ?
            WHERE NOT EXISTS (SELECT 1 FROM {TALLIES[column]}) AND EXISTS (SELECT 1 FROM {table})""",
                             (column, *_LEAST))


def cut_some() -> bool:
    """Cut CUT_BLOCKS blocks more of each table not wholly cut, in a transaction of the index file; whether any
    is still not wholly cut."""
    if blocked():
        return False
    with database.atomic():
        PROGRESS.claim()
        _mark_unblocked()
        for column in TABLES:
            start = _uncut_from(column)
            if start is None:
                continue
            most = CUT_BLOCKS * BLOCK
            cut = _cut(column, start, None, keep=1 if start == _LEAST else None, most=most)
            following = database.execute_sql(
                f'SELECT {column}, ts, seq FROM {TABLES[column]} WHERE ({column}, ts, seq) >= (?, ?, ?) '
                f'ORDER BY {column}, ts, seq LIMIT 1 OFFSET ?', (*start, cut)).fetchone()
            if following is None:
                database.execute_sql(f'DELETE FROM {UNCUT} WHERE name = ?', (column,))
            else:
                database.execute_sql(f'UPDATE {UNCUT} SET value = ?, ts = ?, seq = ? WHERE name = ?',
                                     (*following, column))
        return not blocked()


def blocked() -> bool:
    """Whether every table's blocks count all of its entries (none filled before the blocks still to be cut)."""
    return not database.execute_sql('SELECT ' + ' OR '.join(
        f'(NOT EXISTS (SELECT 1 FROM {TALLIES[column]}) AND EXISTS (SELECT 1 FROM {table}))'
        for column, table in TABLES.items()) + f' OR EXISTS (SELECT 1 FROM {UNCUT})').fetchone()[0]


# Each table again in the order of its entries' pairs first, the facets carried too: a view of a few pairs reads
# each pair's entries in the column's order (store/read/ways.py `walk`) instead of passing the other pairs'.
# Measured at 1M events, Billing / Credit by description 70 ms, Service / AI Notebook by target 35.
PAIR_INDEXES = {column: f'{table.removeprefix("search.")}_pair' for column, table in TABLES.items()}
CREATE = [
    *(_create(column, f'IF NOT EXISTS {table}') for column, table in TABLES.items()),
    *(f'CREATE INDEX IF NOT EXISTS search.{PAIR_INDEXES[column]} ON {table.removeprefix("search.")} '
      f'(pair, {column}, ts, seq, failed, workspace_id)' for column, table in TABLES.items()),
    # One row per fill: the position it filled up to and that event's hash (the last few).
    'CREATE TABLE IF NOT EXISTS search.sort_progress (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL)',
    *(sql for column in TABLES for sql in _blocks_create(column)),
    _UNCUT_CREATE,
]
# Schema step 10 as released, when the tables were in the database's own file.
CREATE_V10 = [
    *(_create(column, table.removeprefix('search.')) for column, table in TABLES.items()),
    *(f"""INSERT OR IGNORE INTO {table.removeprefix('search.')} ({column}, ts, seq, pair, failed, workspace_id)
    SELECT e.{column}, e.ts, e.seq, p.id, e.status = 'FAILED', e.workspace_id
    FROM event e LEFT JOIN facet_marker p ON p.scope = e.scope AND p.category = e.category ORDER BY 1, 2, 3"""
      for column, table in TABLES.items()),
    "INSERT INTO meta (key, value) SELECT 'sorted_upto', coalesce(max(seq), 0) FROM event",
]
PROGRESS = Progress('search.sort_progress', kept=100)
SORTED = PROGRESS.upto_sql  # the position up to which the tables hold the events a reader sees

_last_append = 0.0


def appended() -> None:
    """Note that events were just appended (the idle flush waits for a quiet moment)."""
    global _last_append
    _last_append = time.monotonic()


def sorted_upto() -> int:
    """The last event position whose target and description are in the sort tables."""
    return database.execute_sql(f'SELECT {SORTED}').fetchone()[0]


def fill() -> int:
    """Fill the sort tables with the tail, in a transaction of the search index's file (its write lock, not the
    database's); returns the events filled. Tables of other events are emptied first."""
    with database.atomic():
        PROGRESS.claim()
        upto, stale = PROGRESS.start()
        if stale:
            database.execute_sql(f'DELETE FROM {UNCUT}')
            for column, table in TABLES.items():
                for emptied in (table, TALLIES[column], f'{BOUNDS[column]} WHERE id > 1'):
                    database.execute_sql(f'DELETE FROM {emptied}')
        _mark_unblocked()
        last = chain.head()
        if last[0] <= upto:
            return 0
        for column, table in TABLES.items():
            database.execute_sql(f'{_FILL.format(column=column, table=table)} WHERE e.seq > ? AND e.seq <= ? '
                                 'ORDER BY 1, 2, 3', (upto, last[0]))
            _count_filled(column, upto, last[0])
        PROGRESS.record(last)
        return last[0] - upto


def fill_if_due() -> int:
    """Fill the tail if it is over FLUSH_AT, or if the tables hold events beyond the database's (a restored
    backup); outside a transaction. Returns the events filled."""
    if not is_sqlite() or database.in_transaction():
        return 0
    due = database.execute_sql(f'SELECT (SELECT coalesce(max(seq), 0) FROM main.event) - {SORTED} >= ? OR '
                               f'{SORTED} < (SELECT coalesce(max(seq), 0) FROM search.sort_progress)',
                               (FLUSH_AT,)).fetchone()[0]
    filled = fill() if due else 0
    while cut_some():  # a table filled before the blocks
        time.sleep(CUT_PAUSE)
    return filled


def flush() -> int:
    """Fill the tail in a transaction of its own; returns the events filled."""
    if not is_sqlite():
        return 0
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
