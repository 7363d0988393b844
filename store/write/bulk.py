"""Large loads (demo data, big imports) into a comparatively small store.

Maintaining every secondary index row by row costs more than building it once: for a load at
least as large as the store, the event table's secondary indexes are dropped and rebuilt inside
the load's own transaction, so readers never see the store without them.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from store.engine.db import database, is_sqlite, write_transaction
from store.write.ingest import AppendResult, Prepared, append_prepared

BULK_MIN = 50_000
# Events per transaction of a large load. A transaction's pages stay in SQLite's write-ahead log until it
# commits and a checkpoint copies them back: seeding 10,000,000 events in one transaction grew the log to
# 7.0 GB beside a 7.0 GB database. In parts, the log holds about one part's pages, and is cut back after each
# (store/engine/pools.py WAL_SIZE_LIMIT). Measured seeding 2,000,000 events: 1,000,000 a part peaked at
# 2.83 GB on disk (log 0.72 GB), 250,000 at 2.25 GB (log 0.18 GB), for 1.87 GB of database and search index.
PART = 250_000


def _secondary_indexes() -> list[tuple[str, str]]:
    return database.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event' AND sql IS NOT NULL"
    ).fetchall()


def bulk_append(events: Iterable[Prepared], expected: int) -> AppendResult:
    """Append prepared events (`store.ingest.prepare`) like `append_events`, rebuilding the indexes once
    when `expected` events warrant it. Preparing can then happen in another thread, beside the writing."""
    with write_transaction():
        stored = database.execute_sql('SELECT count(*) FROM event').fetchone()[0]
        if not is_sqlite() or expected < max(BULK_MIN, stored):
            return append_prepared([events])[0]
        indexes = _secondary_indexes()
        # The REPLACE guard looks up every new row; no other writer can write while this transaction
        # holds the lock, so it is set aside and put back with the indexes.
        guard = database.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'event_no_replace'").fetchone()
        for name, _ in indexes:
            database.execute_sql(f'DROP INDEX "{name}"')
        if guard:
            database.execute_sql('DROP TRIGGER event_no_replace')
        result = append_prepared([events])[0]
        for _, sql in indexes:
            database.execute_sql(sql)
        if guard:
            database.execute_sql(guard[0])
        return result


def load(events: Iterable[Prepared], count: int, part: int | None = None) -> tuple[int, int]:
    """Append `count` prepared events in transactions of at most `part` events; the events stored and the
    duplicates. The first part rebuilds the indexes when the whole load warrants it (`bulk_append`), the
    later ones keep them up to date: a rebuild in a later part would rebuild them over every event stored
    so far, and write each of their pages into the log again. Measured, seeding 2,000,000 events in two
    parts: 2.7-2.8 GB on disk at the peak (database, log and search index) for a 1.3 GB database, against
    3.3 GB in one transaction. A failure keeps the parts already committed, which are whole."""
    part = part or PART
    iterator = iter(events)
    stored = duplicates = 0
    first = True
    while count > 0:
        size = min(part, count)
        events_of_part = islice(iterator, size)
        result = bulk_append(events_of_part, count) if first else append_prepared([events_of_part])[0]
        stored, duplicates, count, first = stored + result.stored, duplicates + result.duplicates, count - size, False
    return stored, duplicates
