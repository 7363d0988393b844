"""How far each stream has got: its position, the events delivered, its last success and last digest, kept
apart from the stream's own row.

A stream catching up stores a position per acknowledged batch of 500 events, about 130 commits a second.
Measured at 1M events, the page's reads (page and total, `notebook` / `failed`, p50) took 33 → 46 and
72 → 90 ms with a process committing that often to the events' file, and 34 → 34, 70 → 70 with it committing
to another file. SQLite empties every reader's page cache of a file when another connection commits to it.
So on SQLite the progress lives in a file of its own beside the database (`<database>.streams`), attached to
every connection as `streams`; on PostgreSQL, in the table `stream_progress` (schema step 18).

A progress row counts only while it belongs to its stream as the stream is now, so no transaction has to span
both files:
- the same creation time (a removed stream's id can be given to a new one);
- the same generation (a replay, change, pause or resume starts the stream again from its own row's position);
- the event at its position still has the hash it recorded (a restored backup holds other events there).
Otherwise the position in the stream's row stands. The delivering process copies its position into the
stream's row when it renews the lease (a third of AUDIT_STREAM_LEASE_SECONDS, 10 s by default). A progress
file that is lost or stale therefore costs at most that much sent again: at least once, nothing skipped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.engine.db import database, is_sqlite
from store.engine.pools import WAL_SIZE_LIMIT

SCHEMA = 'streams'
DEFINITION = """stream_progress (
        stream_id INTEGER PRIMARY KEY,
        created_at INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        position INTEGER NOT NULL,
        hash TEXT NOT NULL,
        delivered INTEGER NOT NULL,
        last_success INTEGER,
        last_sent INTEGER
    )"""


@dataclass(frozen=True)
class Progress:
    """A stream's progress row, as read beside its own row (`columns`, `joined`)."""

    created_at: int | None
    generation: int | None
    position: int | None
    delivered: int
    last_success: int | None
    last_sent: int | None
    hash_holds: bool

    def counts_for(self, created_at: int) -> bool:
        """Whether its counts (delivered, last success, last digest) are this stream's."""
        return self.created_at == created_at

    def position_for(self, created_at: int, generation: int) -> int | None:
        """Its position, when it is this stream's in its present generation and its event is still there."""
        if self.counts_for(created_at) and self.generation == generation and self.hash_holds:
            return self.position
        return None


def table() -> str:
    return f'{SCHEMA}.stream_progress' if is_sqlite() else 'stream_progress'


def columns() -> str:
    """The progress columns of a query over `joined()`, read by `from_row`."""
    return 'p.created_at, p.generation, p.position, coalesce(p.delivered, 0), p.last_success, p.last_sent, ' \
           'coalesce(p.hash = e.hash, false)'


def joined(stream_alias: str = 's') -> str:
    """FROM-clause terms adding each stream's progress row and the event at its position."""
    return (f'LEFT JOIN {table()} p ON p.stream_id = {stream_alias}.id '
            'LEFT JOIN event e ON e.seq = p.position')


def from_row(values: tuple) -> Progress:
    created_at, generation, position, delivered, last_success, last_sent, hash_holds = values
    return Progress(created_at, generation, position, delivered, last_success, last_sent, bool(hash_holds))


def record(stream_id: int, created_at: int, generation: int, owner: str, position: int, hash_: str, count: int,
           now: int, digest: bool) -> bool:
    """Store an acknowledged position, while `owner` holds the stream's lease in that generation; False when the
    stream changed or the lease was lost meanwhile. One statement: on SQLite it writes the progress file only,
    and reads the stream's row in the same snapshot."""
    cursor = database.execute_sql(
        f'INSERT INTO {table()} AS p (stream_id, created_at, generation, position, hash, delivered, last_success, '
        'last_sent) SELECT s.id, s.created_at, s.generation, ?, ?, ?, ?, ? FROM stream s '
        'WHERE s.id = ? AND s.created_at = ? AND s.lease_owner = ? AND s.generation = ? '
        'ON CONFLICT (stream_id) DO UPDATE SET generation = excluded.generation, position = excluded.position, '
        'hash = excluded.hash, last_success = excluded.last_success, '
        'last_sent = coalesce(excluded.last_sent, p.last_sent), delivered = excluded.delivered + '
        'CASE WHEN p.created_at = excluded.created_at THEN p.delivered ELSE 0 END, '
        'created_at = excluded.created_at',
        (position, hash_, count, now, now if digest else None, stream_id, created_at, owner, generation))
    stored = cursor.rowcount == 1
    if stored and is_sqlite():
        _checkpoint_now_and_then()
    return stored


# The progress file's log would otherwise grow to the connections' automatic checkpoint (store/engine/pools.py,
# 80 MiB) before a commit copies it back: a catch-up writes about 400 pages a second to it.
CHECKPOINT_EVERY = 500  # positions stored
_stored = itertools.count(1)


def _checkpoint_now_and_then() -> None:
    """Every CHECKPOINT_EVERY positions, a passive checkpoint of the progress file (it waits for no one)."""
    if next(_stored) % CHECKPOINT_EVERY == 0:
        database.execute_sql(f'PRAGMA {SCHEMA}.wal_checkpoint(PASSIVE)')


def forget(stream_id: int) -> None:
    """Remove a removed stream's row (a row left behind is ignored: its creation time is another stream's)."""
    database.execute_sql(f'DELETE FROM {table()} WHERE stream_id = ?', (stream_id,))


def path_for(database_path: str | Path) -> Path:
    return Path(f'{database_path}.streams')


def attach(conn: Any, database_path: str) -> None:
    """Attach the progress file to a new SQLite connection; a missing one is made, empty (every stream then
    delivers from its own row's position)."""
    conn.execute(f'ATTACH DATABASE ? AS {SCHEMA}', (str(path_for(database_path)),))
    for name, value in (('journal_mode', 'wal'), ('synchronous', 'normal'), ('journal_size_limit', WAL_SIZE_LIMIT)):
        conn.execute(f'PRAGMA {SCHEMA}.{name} = {value}')
    conn.execute(f'CREATE TABLE IF NOT EXISTS {SCHEMA}.{DEFINITION}')
