"""The trigram index of the keyword search in a file of its own beside the database (SQLite), kept by a
thread beside the writers instead of inside their transactions.

SQLite lets one connection write a file at a time. With the index in the events' file, every append waited
while its events were indexed: at 1,000,000 events about 15 of 38 ms per 1,000 live events, and the
index's merges made some appends far slower. In a file of its own, attached to every connection as `search`,
the index has its own write lock: an `Indexer` thread adds the events stored since the position it
recorded (`search_progress`) while the next append is written, on the other core.

Reads stay exact at any moment. The index holds the events up to the last position it recorded, with
that event's hash; every query of it reads the events after that position, the tail, from the table,
where the caller tests each one (`candidates`). A reader uses the last position recorded at or before its
own newest event, so one whose snapshot is older than the index still uses it. A file that does not belong
to these events (a backup restored over the database, an index file copied from elsewhere) is noticed by
that hash: its position counts as 0, so every event is tested on its row until the indexer has started it
again. Each event's hash covers every event before it, so a matching hash at a recorded position means
the same events up to there.

The sort tables of targets and descriptions live in this file too, filled by the same thread in large steps
(store/derived/sort_index.py). The file is derived from the events: it is not backed up, and deleting it only costs
the time to fill it again (about 25 s per million events), when the database is next opened.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store.derived import progress, search_index, sort_index
from store.derived.search_index import INDEX_SELECT, phrase
from store.engine.background import WokenThread
from store.engine.db import database
from store.engine.pools import WAL_SIZE_LIMIT

log = logging.getLogger(__name__)

SCHEMA = 'search'
STEP = 50_000  # events indexed per transaction: readers see the index grow while a large tail is filled

CREATE = [
    # One row per indexing transaction: the position it indexed up to and that event's hash (see Progress).
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.search_progress (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL
    )""",
    # Contentless, with each trigram's positions (detail=full): a term's trigrams side by side, as one phrase, are
    # exactly the events holding it (`exact_query`, store/read/query.py), so a keyword's count reads no row.
    # Measured at 1M events, 'failed' (70,282 events): 14 ms for the phrase, where the candidates of its trigrams
    # checked on their rows took about 60 in two threads. The positions make the index about three times the size
    # (1M events: 282 MiB against 97) and its filling about 1.6 times as long. No column sizes: they serve only
    # ranking (10 MiB per million events). The text is what the names leave (store/derived/search_index.py).
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS {SCHEMA}.event_search USING fts5(
        tail_text, content='', detail='full', columnsize=0, tokenize='trigram')""",
    # Segments merged eight at a time (measured at 300,000 events: 14.6 → 10.3 ms per 1,000 events indexed
    # against four, a common term's count unchanged).
    f"INSERT INTO {SCHEMA}.event_search(event_search, rank) VALUES ('automerge', 8)",
]
# Per connection (temp): the index's trigrams, read for a term of two characters (`starting_with`).
TERMS = 'event_search_terms'
_NAMES = ('search_progress', 'event_search', 'sort_target', 'sort_description', 'sort_progress',
          *sort_index.PAIR_INDEXES.values(),
          *(name.removeprefix('search.') for name in (*sort_index.BOUNDS.values(), *sort_index.TALLIES.values(),
                                                      sort_index.UNCUT)))
# A file without one of them gets it (the sort tables' indexes by pair, since 2026-12-08, are built from the tables;
# their blocks are cut from the tables at the next fill).
_TABLES = f"SELECT count(*) FROM {SCHEMA}.sqlite_master WHERE name IN ({', '.join(repr(n) for n in _NAMES)})"
# An index of another definition (before 2026-12-07: without positions, detail=none; before 2026-12-08: the whole
# search text, names included, as `search_text`) is filled again from the first event.
_OTHER_INDEX = (f"SELECT count(*) FROM {SCHEMA}.sqlite_master WHERE name = 'event_search' "
                "AND sql NOT LIKE '%tail_text, content='''', detail=''full'', columnsize=0,%'")
PROGRESS = progress.Progress(f'{SCHEMA}.search_progress', kept=1000)
INDEXED = PROGRESS.upto_sql


def path_for(database_path: str | Path) -> Path:
    return Path(f'{database_path}.search')


def attach(conn: Any, database_path: str, map_bytes: int) -> None:
    """Attach the index file to a new connection with the database's settings; a missing file is made anew,
    empty: every event is then after its position, tested on its row, until the indexer has filled it."""
    conn.execute(f'ATTACH DATABASE ? AS {SCHEMA}', (str(path_for(database_path)),))
    for name, value in (('journal_mode', 'wal'), ('synchronous', 'normal'), ('cache_size', -16384),
                        ('mmap_size', map_bytes), ('journal_size_limit', WAL_SIZE_LIMIT)):
        conn.execute(f'PRAGMA {SCHEMA}.{name} = {value}')
    if conn.execute(_TABLES).fetchone()[0] < len(_NAMES):
        _in_transaction(conn, lambda: conn.execute(_TABLES).fetchone()[0] < len(_NAMES),
                        [*CREATE, *sort_index.CREATE])
    if conn.execute(_OTHER_INDEX).fetchone()[0]:
        log.warning('the search index %s is of an older kind: filling it again', path_for(database_path))
        _in_transaction(conn, lambda: conn.execute(_OTHER_INDEX).fetchone()[0] > 0,
                        [f'DROP TABLE {SCHEMA}.event_search', f'DELETE FROM {SCHEMA}.search_progress', *CREATE[1:]],
                        claim=True)
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{TERMS} USING fts5vocab({SCHEMA}, event_search, 'row')")


def _in_transaction(conn: Any, still: Callable[[], bool], statements: list[str], claim: bool = False) -> None:
    """Run `statements` in one transaction if `still()` holds inside it: another connection may have run them
    meanwhile. With `claim`, the index file's write lock is taken first, so `still()` sees the last such change."""
    conn.execute('BEGIN')
    try:
        if claim:
            conn.execute(f'DELETE FROM {SCHEMA}.search_progress WHERE 0')
        if still():
            for sql in statements:
                conn.execute(sql)
        conn.execute('COMMIT')
    except BaseException:
        conn.execute('ROLLBACK')
        raise


# Whether the index holds a trigram (each of a JSON list): one probe of its terms, without reading its events.
_PRESENT = f"""SELECT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM {SCHEMA}.event_search
    WHERE event_search MATCH '"' || replace(value, '"', '""') || '"')"""


def names(term: str) -> search_index.Names:
    """The names holding `term` (store/derived/search_index.py `names`), as of the position up to which the index
    holds the events, read before any query of the index is built: a query built from the index's own terms
    (`starting_with`) then holds for every event up to that position, whatever the indexer adds meanwhile. A
    read bounded by it (`candidates`' `upto`) tests the later events on their rows."""
    return search_index.names(term, INDEXED)


def starting_with(term: str) -> str:
    """An index query for the events holding a trigram that starts with the two ASCII characters `term`.

    Every indexed text ends with its event's markers (store/derived/search_index.py, numbered in the appending
    transaction), so each occurrence of a term in the search text starts a trigram: these are exactly the
    events holding the term. Measured at 1M events, 'h1' (133,525 events, one trigram 'h10'): 2 ms for the
    list, 5 ms for the events, where testing every event's text took 990 ms.

    The trigrams whose third character is ASCII are probed one by one (the index folds ASCII letters as the
    search lower-cases them); those beyond ASCII are read from the index's list of its terms, which counts each
    term's events as it lists it: 'io' (four trigrams, 1,310,552 entries) took 30-60 ms to list that way, 2-5
    by probes.
    """
    after = term[:-1] + chr(ord(term[-1]) + 1)
    ascii_grams = [term + chr(code) for code in range(1, 128) if not 'A' <= chr(code) <= 'Z']
    grams = [row[0] for row in database.execute_sql(_PRESENT, (json.dumps(ascii_grams),))]
    grams += [row[0] for row in database.execute_sql(f'SELECT term FROM temp.{TERMS} WHERE term >= ? AND term < ?',
                                                      (term + '\x80', after))]
    # a phrase of two characters matches nothing: the term is in no indexed event
    return f"({' OR '.join(phrase(gram) for gram in grams or [term])})"


def candidates(match_sql: str, match_params: list[Any], span: tuple[int, int] | None = None,
               upto: int | None = None) -> tuple[str, list[Any]]:
    """SQL listing (as `seq`) the positions the index finds for the query `match_sql` (SQL of a string, with
    `match_params`), and the events after the indexed position, in `span` when given; and its parameters.
    The index only narrows: the caller tests each position on its row. With `upto`, the index is read only up
    to that position, and the events after it are listed too: a query of a term's named values
    (store/derived/search_index.py `Names`) holds for those up to the position they were read with."""
    found, found_params, tail, tail_params = split_candidates(match_sql, match_params, span, upto)
    return f'{found} UNION ALL SELECT seq FROM main.event WHERE {tail}', [*found_params, *tail_params]


def split_candidates(match_sql: str, match_params: list[Any], span: tuple[int, int] | None = None,
                     upto: int | None = None) -> tuple[str, list[Any], str, list[Any]]:
    """The two parts of `candidates`, each with its parameters: SQL listing the positions the index finds (as
    `seq`), and a condition on `seq` that holds for the events after the indexed position (or `upto`)."""
    bound, bound_params = (f'min({INDEXED}, ?)', [upto]) if upto is not None else (INDEXED, [])
    # The index's bound is worked out once, in a row of its own: as an expression beside a span's bound, SQLite
    # also tested it on every rowid (at 1M events, 'nb-' in two spans: 17 → 26 ms).
    if span:
        return (f'SELECT f.rowid AS seq FROM (SELECT min({bound}, ?) AS hi) b CROSS JOIN {SCHEMA}.event_search f '
                f'WHERE f.event_search MATCH {match_sql} AND f.rowid > ? AND f.rowid <= b.hi',
                [*bound_params, span[1], *match_params, span[0]], f'seq > max({bound}, ?) AND seq <= ?',
                [*bound_params, *span])
    return (f'SELECT f.rowid AS seq FROM (SELECT {bound} AS hi) b CROSS JOIN {SCHEMA}.event_search f '
            f'WHERE f.event_search MATCH {match_sql} AND f.rowid <= b.hi', [*bound_params, *match_params],
            f'seq > {bound}', bound_params)


def index_all() -> None:
    """Index every event not yet in the index, and fill the sort tables if due (store/derived/sort_index.py): when the
    database is opened (after an upgrade or a restore this fills both, about 22 and 5 s per million events)
    and when a command ends."""
    while catch_up():
        pass
    sort_index.fill_if_due()


def catch_up(step: int = STEP) -> int:
    """Index up to `step` events after the indexed position, in one transaction of the index file; returns how
    many. An index of other events (see the module) is emptied first. Inside a transaction, nothing: its events
    may yet be rolled back, and a read of the index file earlier in it would keep its lock from being taken."""
    if database.in_transaction():
        return 0
    if database.execute_sql(f'SELECT {INDEXED} = (SELECT coalesce(max(seq), 0) FROM main.event) AND '
                            f'{INDEXED} = (SELECT coalesce(max(seq), 0) FROM {SCHEMA}.search_progress)').fetchone()[0]:
        return 0  # nothing new (a write that stored no event), known without a lock
    with database.atomic():
        PROGRESS.claim()
        upto, stale = PROGRESS.start()
        if stale:
            log.warning('the search index %s belongs to other events: filling it again', _file())
            database.execute_sql(f"INSERT INTO {SCHEMA}.event_search(event_search) VALUES ('delete-all')")
        last = database.execute_sql('SELECT seq, hash FROM main.event WHERE seq > ? AND seq <= ? '
                                    'ORDER BY seq DESC LIMIT 1', (upto, upto + step)).fetchone()
        if last is None:
            return 0
        database.execute_sql(f'INSERT INTO {SCHEMA}.event_search(rowid, tail_text) {INDEX_SELECT} '
                             'WHERE e.seq > ? AND e.seq <= ?', (upto, last[0]))
        PROGRESS.record(last)
        return last[0] - upto


def indexed_upto() -> int:
    """The position up to which the index holds the events (0 for an index of other events)."""
    return database.execute_sql(f'SELECT {INDEXED}').fetchone()[0]


def _file() -> str:
    return next((row[2] for row in database.execute_sql('PRAGMA database_list') if row[1] == SCHEMA), SCHEMA)


class Indexer(WokenThread):
    """Indexes new events in a daemon thread of its own, which the first commit starts."""

    def __init__(self, store: Any) -> None:
        super().__init__('search-indexer')
        self._store = store

    def work(self, stop: threading.Event) -> None:
        try:
            with self._store.connection_context():
                while not stop.is_set() and database.obj is self._store and catch_up():
                    pass
                if not stop.is_set() and database.obj is self._store:
                    sort_index.fill_if_due()
        except Exception as exc:  # e.g. the file removed meanwhile: the next commit tries again
            log.warning('indexing new events for the search failed: %s', exc)
