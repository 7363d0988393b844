"""The trigram index of the keyword search (SQLite), kept in a file of its own (store/derived/search_file.py): the
text of each event the names of its scope, category and user leave (action, target and description), plus
markers that name its (scope, category) pair, its user and its workspace.

A term found in a scope or category name ('notebook' in "AI Notebook") matches every event of those
pairs: their total comes from the daily counts, without reading a row. A term found in user names
('alice') matches every event of those users: the counts per user hold them. The index then finds the
other matching events with `term NOT markers`, so only those few are read and checked
(store/read/keywords.py). A marker is one trigram no search text can hold: a control character (refused in
events, stripped from searches) and two private-use characters numbering the value in its table
(`facet_marker`, `actor_marker`), whose ids never change.

The names are not in the indexed text (PostgreSQL's `event_text` leaves them out too): inside them a term's
trigrams are about as common as the named events, and every index query of it read all of those entries to
drop them again. Measured at 1M events, the candidates outside the names of 'service' 106 → 8 ms, 'alice' 19
→ 1.4, 'io' 43 → 25, 'acme' 24 → 13 (p50 of 5). So every query of a term's matches is `term OR the markers of
the values whose names hold it` (`Names.matching`), with the values read in one statement with the newest
event (`names`): the appending transaction numbers its values before its events are stored, so every event
up to that one has its markers, and the caller tests the events after it on their rows. A value missing
from its table (deleted by hand) hides its name from the search, as a missing index entry would.

Markers only narrow candidates: the events of named pairs and users are kept out of the checked rows
by their columns. The workspace marker narrows a Workspace Admin's candidates to their workspaces
(`in_workspaces`); visibility is still the WHERE clause's.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from store.engine.db import database, executemany

MARKER_BASE = 0xE000  # the Private Use Area: 6,400 characters, two of them number 40,960,000 values
MARKER_SPAN = 6400
MAX_NAMED = 500  # a term in more names than this is checked row by row instead (the query would grow too long)


def _marker_sql(lead: str, id_sql: str) -> str:
    return f'char({ord(lead)}, {MARKER_BASE} + {id_sql} % {MARKER_SPAN}, {MARKER_BASE} + {id_sql} / {MARKER_SPAN})'


@dataclass(frozen=True)
class Facet:
    table: str
    columns: tuple[str, ...]
    lead: str  # the marker's first character

    @property
    def create(self) -> str:
        columns = ', '.join(f'{column} TEXT NOT NULL' for column in self.columns)
        return f'CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, {columns}, UNIQUE ({", ".join(self.columns)}))'

    @property
    def fill(self) -> str:
        columns = ', '.join(self.columns)
        return f'INSERT OR IGNORE INTO {self.table} ({columns}) SELECT DISTINCT {columns} FROM event'

    def marker_sql(self, alias: str) -> str:
        return _marker_sql(self.lead, f'{alias}.id')

    def marker(self, value_id: int) -> str:
        return self.lead + chr(MARKER_BASE + value_id % MARKER_SPAN) + chr(MARKER_BASE + value_id // MARKER_SPAN)


PAIR = Facet('facet_marker', ('scope', 'category'), '\x01')
ACTOR = Facet('actor_marker', ('actor',), '\x02')
FACETS = (PAIR, ACTOR)
Named = list[tuple]  # (id, *values) rows of a facet's table

# The workspace's marker is numbered by its id in the workspace table: it needs no table of its own.
WORKSPACE_LEAD = '\x03'
MAX_WORKSPACES = 50  # a viewer or filter of more workspaces than this is not narrowed by their markers


def _after_separator(text: str) -> str:
    return f'substr({text}, instr({text}, char(31)) + 1)'


# search_text is scope, category, user, action, target and description joined by \x1f (store/write/ingest.py),
# which no field holds: what follows the third separator is the text the names leave.
TAIL_SQL = _after_separator(_after_separator(_after_separator('e.search_text')))


def _select_sql(markers: tuple[str, ...], text: str = 'e.search_text') -> str:
    return f"""SELECT e.seq, {text} || {' || '.join(f"coalesce({marker}, '')" for marker in markers)}
    FROM main.event e
    LEFT JOIN main.facet_marker p ON p.scope = e.scope AND p.category = e.category
    LEFT JOIN main.actor_marker a ON a.actor = e.actor"""


def _index_sql(markers: tuple[str, ...]) -> str:
    return f'INSERT INTO main.event_search(rowid, search_text) {_select_sql(markers)} WHERE e.seq > ?'


_MARKERS_V9 = (PAIR.marker_sql('p'), ACTOR.marker_sql('a'))
_MARKERS = (*_MARKERS_V9, _marker_sql(WORKSPACE_LEAD, 'e.workspace_id'))
INDEX_SELECT = _select_sql(_MARKERS, TAIL_SQL)  # each event's indexed text: the text its names leave, its markers
CREATE = [sql for facet in FACETS for sql in (facet.create, facet.fill)]
# Schema steps 9 and 11 as released, on the index then kept in the database's own file (store/derived/search_file.py).
REINDEX = ["INSERT INTO main.event_search(event_search) VALUES ('delete-all')", _index_sql(_MARKERS).replace('?', '0')]
REINDEX_V9 = [REINDEX[0], _index_sql(_MARKERS_V9).replace('?', '0')]


def in_workspaces(match_sql: str, names: list[str]) -> tuple[str, list[str]]:
    """The index query `match_sql` (SQL of a string) narrowed to the events of the named workspaces, as SQL of
    a string and its parameters: a Workspace Admin's candidates are then only their workspaces' events
    (measured at 1M events: 'failed' for the admin of one workspace, 70,128 candidates read → 11,339, 117 →
    25 ms). Names of no workspace leave the query as it is; the caller's visibility still applies."""
    markers = f"""(SELECT ' AND (' || group_concat('"' || {_marker_sql(WORKSPACE_LEAD, 'id')} || '"', ' OR ') || ')'
        FROM workspace WHERE name IN ({', '.join('?' * len(names))}))"""
    return f"('(' || {match_sql} || ')' || coalesce({markers}, ''))", names


class _KnownValues:
    """The values this process has seen in a facet's table, per database: a batch of known ones adds none."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], set[tuple]] = {}
        self._lock = threading.Lock()

    def register(self, facet: Facet, values: Iterable[tuple]) -> None:
        key = (getattr(database.obj, 'audit_url', ''), facet.table)
        with self._lock:
            new = set(values) - self._known.get(key, set())
        if new:
            marks = ', '.join('?' * len(facet.columns))
            executemany(f'INSERT OR IGNORE INTO {facet.table} ({", ".join(facet.columns)}) VALUES ({marks})',
                        sorted(new))
            with self._lock:
                self._known.setdefault(key, set()).update(new)


_known = _KnownValues()


def pair_ids(scope: str | None, category: str | None) -> frozenset[int]:
    """The ids of the (scope, category) pairs with this scope and this category (None: any)."""
    rows = database.execute_sql('SELECT id FROM main.facet_marker WHERE coalesce(scope = ?, 1) AND '
                                'coalesce(category = ?, 1)', (scope, category))
    return frozenset(row[0] for row in rows)


def register(pairs: Iterable[tuple[str, str]], actors: Iterable[str]) -> None:
    """Number the (scope, category) pairs and users of events being stored, in their transaction: the indexer
    (store/derived/search_file.py) then finds the markers of every event it reads."""
    _known.register(PAIR, pairs)
    _known.register(ACTOR, ((actor,) for actor in actors))


@dataclass(frozen=True)
class Names:
    """The values of each facet whose names hold a term, among `every` value, as of the event at position `upto`.

    `named` is empty when more than MAX_NAMED values of a kind hold the term (`too_many`): the index cannot then
    find its matches (the names are not in it), and they are tested on their rows."""

    every: dict[Facet, Named]
    named: dict[Facet, Named] = field(default_factory=dict)
    upto: int = 0
    too_many: bool = False

    def matching(self, wanted: str) -> str:
        """The index query `wanted` (of the term's text) widened to the events of the named values: all the
        events holding the term up to `upto` are among its candidates."""
        markers = ' OR '.join(f'"{facet.marker(row[0])}"' for facet, rows in self.named.items() for row in rows)
        return f'({wanted}) OR {markers}' if markers else wanted


# One statement, so one snapshot of the values, of the newest event (see the module) and of the index's position.
_VALUES = """SELECT min((SELECT coalesce(max(seq), 0) FROM main.event), {indexed}),
    (SELECT json_group_array(json_array(id, scope, category)) FROM main.facet_marker),
    (SELECT json_group_array(json_array(id, actor)) FROM main.actor_marker)"""


def names(term: str, indexed_sql: str) -> Names:
    """The values (id, *columns) of the pairs and users of which one column holds `term` (lower-cased, as
    searched), read with the position of the newest event, or the position `indexed_sql` gives (SQL: up to
    where the index holds the events, store/derived/search_file.py) when lower."""
    upto, pairs, actors = database.execute_sql(_VALUES.format(indexed=indexed_sql)).fetchone()
    every = {PAIR: [tuple(row) for row in json.loads(pairs)], ACTOR: [tuple(row) for row in json.loads(actors)]}
    named = {facet: [row for row in rows if any(term in value.lower() for value in row[1:])]
             for facet, rows in every.items()}
    if any(len(rows) > MAX_NAMED for rows in named.values()):
        return Names(every, upto=upto, too_many=True)
    return Names(every, {facet: rows for facet, rows in named.items() if rows}, upto)


def phrase(text: str) -> str:
    """`text` as an FTS5 phrase: quoted, its own quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def candidates_query(term: str, named: dict[Facet, Named], wanted: str | None = None,
                     among: Named | None = None) -> str:
    """An index query for the events holding the first and the last trigram of `term` (or the index query
    `wanted`), except those of the named values; only those of the users `among` (ACTOR rows), when given: the
    users the term's users leave, when they are fewer.

    Each of the term's trigrams costs a pass over its index entries, and the events of the named values
    often hold the term in their text as well ('notebook' in the actions of "AI Notebook"). Outside them,
    the two at its ends narrow as well as all of them (measured at 1M events: 'notebook', 9,931 candidates
    either way, in 48 ms with six trigrams); every candidate is checked against the whole term afterwards.
    """
    grams = dict.fromkeys((term[:3], term[-3:]))
    wanted = wanted or ' AND '.join(phrase(gram) for gram in grams)
    if among is not None:
        users = ' OR '.join(f'"{ACTOR.marker(row[0])}"' for row in among)
        wanted = f'({wanted}) AND ({users})'
        named = {facet: rows for facet, rows in named.items() if facet != ACTOR}
    excluded = ' OR '.join(f'"{facet.marker(row[0])}"' for facet, rows in named.items() for row in rows)
    return f'({wanted}) NOT ({excluded})' if excluded else f'({wanted})'
