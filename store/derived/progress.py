"""How far a derived table is filled: a position, checked against the event's hash at that position."""

from __future__ import annotations

from store.engine.db import database


class Progress:
    """The positions a derived table of this file was filled up to, one row a fill, each with that event's hash
    (the last `kept`): the search index's and the sort tables' (store/derived/sort_index.py)."""

    def __init__(self, table: str, kept: int) -> None:
        self.table = table
        self.kept = kept
        # The position up to which the table holds the events a reader sees: the last one recorded at or before
        # the reader's newest event, if that event there has the recorded hash; else 0. A reader whose snapshot
        # of the database is older than this file's (the filling went on meanwhile) still finds its events.
        self.upto_sql = f"""(SELECT coalesce(max(p.seq), 0) FROM (
        SELECT seq, hash FROM {table} WHERE seq <= (SELECT max(seq) FROM main.event)
        ORDER BY seq DESC LIMIT 1) p
    JOIN main.event e ON e.seq = p.seq AND e.hash = p.hash)"""

    def claim(self) -> None:
        """A write that changes nothing: as the first statement of a transaction it takes this file's write lock
        (waiting for another filler), not the database's as BEGIN IMMEDIATE would, since it locks every attached
        file."""
        database.execute_sql(f'DELETE FROM {self.table} WHERE 0')

    def start(self) -> tuple[int, bool]:
        """In the filling transaction: the position to fill from, and whether the table holds other events (a
        restored backup) and must be emptied first, which this does for the progress itself."""
        row = database.execute_sql(f'SELECT seq, hash FROM {self.table} ORDER BY seq DESC LIMIT 1').fetchone()
        if row is None:
            return 0, False
        if database.execute_sql('SELECT hash FROM main.event WHERE seq = ?', (row[0],)).fetchone() == (row[1],):
            return row[0], False
        database.execute_sql(f'DELETE FROM {self.table}')
        return 0, True

    def record(self, last: tuple[int, str]) -> None:
        """In the filling transaction: the table now holds the events up to `last` (its position and hash)."""
        database.execute_sql(f'INSERT INTO {self.table} (seq, hash) VALUES (?, ?)', last)
        database.execute_sql(f'DELETE FROM {self.table} WHERE seq < (SELECT seq FROM {self.table} '
                             f'ORDER BY seq DESC LIMIT 1 OFFSET {self.kept - 1})')
