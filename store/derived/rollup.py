"""Event counts per UTC day, workspace, scope, category and status, kept with every append; and the same per
user (`event_user_count`).

A total over a million events costs a scan of every match; summing this small table costs
almost nothing. It is derived data: `rebuild()` recomputes it from the events, and the tests
check that every count it answers equals a plain count of the rows.

The counts per user answer a user filter and the users whose names hold a keyword (store/read/keywords.py):
at 1M events (26 users, 90 days) they are 117,687 rows against the 7,331 of the daily counts, and a user's
are read in about a millisecond where the user index took 47 ms for one user's 130,000 events.
"""

from __future__ import annotations

from store.engine.db import database
from store.ledger.buckets import DAY, whole_units

DAY_MS = DAY

CREATE = [
    """CREATE TABLE event_count (
        day INTEGER NOT NULL,
        workspace_id INTEGER NOT NULL,
        scope TEXT NOT NULL,
        category TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (day, workspace_id, scope, category, status)
    ) WITHOUT ROWID""",
]

BY_USER = 'event_user_count'
CREATE_BY_USER = f"""CREATE TABLE {BY_USER} (
        actor TEXT NOT NULL,
        day INTEGER NOT NULL,
        workspace_id INTEGER NOT NULL,
        scope TEXT NOT NULL,
        category TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (actor, day, workspace_id, scope, category, status)
    ) WITHOUT ROWID"""

_ADD_SQL = """INSERT INTO event_count (day, workspace_id, scope, category, status, n)
    SELECT ts / 86400000, coalesce(workspace_id, 0), scope, category, status, count(*)
    FROM event WHERE seq > ? GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (day, workspace_id, scope, category, status) DO UPDATE SET n = event_count.n + excluded.n"""


_ADD_BY_USER_SQL = f"""INSERT INTO {BY_USER} (actor, day, workspace_id, scope, category, status, n)
    SELECT actor, ts / 86400000, coalesce(workspace_id, 0), scope, category, status, count(*)
    FROM event WHERE seq > ? GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (actor, day, workspace_id, scope, category, status) DO UPDATE SET n = {BY_USER}.n + excluded.n"""


def add_since(last_seq: int) -> None:
    """Count the events stored after `last_seq`; call in the transaction that stored them."""
    database.execute_sql(_ADD_SQL, (last_seq,))
    database.execute_sql(_ADD_BY_USER_SQL, (last_seq,))


REBUILD_SQL = _ADD_SQL.replace('seq > ?', 'seq > 0')
REBUILD_BY_USER_SQL = _ADD_BY_USER_SQL.replace('seq > ?', 'seq > 0')


def rebuild() -> None:
    database.execute_sql('DELETE FROM event_count')
    database.execute_sql(f'DELETE FROM {BY_USER}')
    add_since(0)


def full_days(since_ms: int | None, until_ms: int | None) -> tuple[int | None, int | None]:
    """The whole UTC days inside [since, until), as day numbers [first, end); None for an open side."""
    return whole_units(since_ms, until_ms, DAY_MS)
