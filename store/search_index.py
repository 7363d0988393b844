"""The trigram index of the keyword search (SQLite): each event's search text, plus one marker that
names its (scope, category) pair.

A term found in a scope or category name ('notebook' in "AI Notebook") matches every event of those
pairs: their total comes from the daily counts, without reading a row. The index then finds the
other matching events with `term NOT markers`, so only those few are read and checked
(store/counts.py). A marker is one trigram no search text can hold: a control character (refused in
events, stripped from searches) and two private-use characters numbering the pair in
`facet_marker`, whose ids never change.

Markers only narrow candidates: a pair's events are counted from the daily counts and kept out of
the checked rows by their scope and category, so an event without a marker is still counted once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from store.db import database, executemany

MARKER_BASE = 0xE000  # the Private Use Area: 6,400 characters, two of them number 40,960,000 pairs
MARKER_SPAN = 6400
MARKER_SQL = f'char(1, {MARKER_BASE} + m.id % {MARKER_SPAN}, {MARKER_BASE} + m.id / {MARKER_SPAN})'

CREATE_MARKERS = """CREATE TABLE facet_marker (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    category TEXT NOT NULL,
    UNIQUE (scope, category)
)"""
FILL_MARKERS = 'INSERT OR IGNORE INTO facet_marker (scope, category) SELECT DISTINCT scope, category FROM event'
_INDEX_SQL = f"""INSERT INTO event_search(rowid, search_text)
    SELECT e.seq, e.search_text || coalesce({MARKER_SQL}, '') FROM event e
    LEFT JOIN facet_marker m ON m.scope = e.scope AND m.category = e.category WHERE e.seq > ?"""
REINDEX = ["INSERT INTO event_search(event_search) VALUES ('delete-all')", _INDEX_SQL.replace('?', '0')]


def marker(pair_id: int) -> str:
    return '\x01' + chr(MARKER_BASE + pair_id % MARKER_SPAN) + chr(MARKER_BASE + pair_id // MARKER_SPAN)


class _KnownPairs:
    """The pairs this process has seen in `facet_marker`, per database: a batch of known pairs adds none."""

    def __init__(self) -> None:
        self._known: dict[str, set[tuple[str, str]]] = {}
        self._lock = threading.Lock()

    def register(self, pairs: Iterable[tuple[str, str]]) -> None:
        url = getattr(database.obj, 'audit_url', '')
        with self._lock:
            new = set(pairs) - self._known.get(url, set())
        if new:
            executemany('INSERT OR IGNORE INTO facet_marker (scope, category) VALUES (?, ?)', sorted(new))
            with self._lock:
                self._known.setdefault(url, set()).update(new)


_pairs = _KnownPairs()


def index_since(last_seq: int, pairs: Iterable[tuple[str, str]]) -> None:
    """Index the events stored after `last_seq`, whose (scope, category) pairs are `pairs`; call in the
    transaction that stored them."""
    _pairs.register(pairs)
    database.execute_sql(_INDEX_SQL, (last_seq,))


def pairs_naming(term: str) -> list[tuple[int, str, str]]:
    """The (id, scope, category) pairs whose scope or category holds `term` (lower-cased, as searched)."""
    rows = database.execute_sql('SELECT id, scope, category FROM facet_marker').fetchall()
    return [(pair_id, scope, category) for pair_id, scope, category in rows
            if term in scope.lower() or term in category.lower()]


def candidates_query(term: str, pairs: list[tuple[int, str, str]]) -> str:
    """An index query for the events outside `pairs` holding the first and the last trigram of `term`.

    The term lies inside those pairs' names, so each of its trigrams is about as common as the pairs'
    events, and each costs a pass over that many index entries. Outside the pairs, the two at its ends
    narrow as well as all of them (measured at 1M events: 'notebook', 9,931 candidates either way, in
    48 ms with six trigrams); every candidate is checked against the whole term afterwards.
    """
    grams = dict.fromkeys((term[:3], term[-3:]))
    wanted = ' AND '.join('"' + gram.replace('"', '""') + '"' for gram in grams)
    excluded = ' OR '.join(f'"{marker(pair_id)}"' for pair_id, _, _ in pairs)
    return f'({wanted}) NOT ({excluded})'
