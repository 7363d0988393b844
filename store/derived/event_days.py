"""Each event's day, status, pair and workspace by position (seq), held in this process's memory: 8 bytes an event.

A keyword's count is split by day and status for the table's total and the timeline (store/read/counts.py).
From the rows, that split cost a row read and a sort per match; with these entries, the matches' positions
are enough: measured at 1M events, 'nb-' (306,000 matches) 187 → 16 ms, since a term of three ASCII
characters is exactly one trigram and the search index alone then finds exactly its events. Longer terms
are still checked on their rows, but only their positions come back.

Events never change, so the entries up to a position stay true while the store grows; each use brings
them up to the reader's head. Another file at the same URL (a restored backup) is noticed by the hash of
the last event read, and the entries are read again. A long way behind (a first search after start), they
are read in a background thread and the caller counts from the rows meanwhile. SQLite only.

Beside each entry are the event's (scope, category) pair, by its id in `facet_marker`
(store/derived/search_index.py), and its workspace's id, 2 bytes each: a view whose conditions are only those
and the status (a Workspace Admin's, a scope chip) keeps the matches it holds from the whole store's without
reading their rows (`sieve`; figures at store/read/keywords.py `_positions_in_view`). At 10M events they make
the entries 80 MB instead of 40, and reading them when the server starts 10 s instead of 7.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from store.engine.db import database, read_snapshot, with_connection
from store.ledger import chain
from store.ledger.buckets import DAY

CATCH_UP_HERE = 50_000  # events read in the caller's thread; more are read in the background
STEP = 200_000  # events read per query
KEPT = 4  # databases whose entries are held

# An entry: day << 2 | FAILED << 1 | the search text has a character beyond ASCII (the search index's case
# folding of those may differ from the text's lower-casing: such events are always checked on their rows).
# Beside it, the pair's and the workspace's ids (0: none), UNKNOWN for a pair without an id or an id too large:
# such events are checked on their rows when a view names pairs or workspaces.
UNKNOWN = 0xFFFF
_ENTRY_SQL = f"""SELECT group_concat(e.seq), group_concat((e.ts / {DAY}) * 4 + (e.status = 'FAILED') * 2
    + (length(e.search_text) <> length(CAST(e.search_text AS BLOB)))),
    group_concat(min(coalesce(p.id, {UNKNOWN}), {UNKNOWN})), group_concat(min(coalesce(e.workspace_id, 0), {UNKNOWN}))
    FROM event e LEFT JOIN facet_marker p ON p.scope = e.scope AND p.category = e.category
    WHERE e.seq > ? AND e.seq <= ?"""
BEYOND_ASCII = 1


class Days(NamedTuple):
    """The entries of the events by position, as known up to some position."""

    codes: np.ndarray  # int32: day << 2 | FAILED << 1 | BEYOND_ASCII
    pairs: np.ndarray  # uint16: the (scope, category) pair's id in facet_marker, or UNKNOWN
    workspaces: np.ndarray  # uint16: the workspace's id, 0 for none, or UNKNOWN


@dataclass(frozen=True)
class Within:
    """A view's conditions as values of the entries: the pairs' and workspaces' ids it holds, and its status (None:
    any); store/read/query.py `within` makes it from a viewer and a filter."""

    pairs: frozenset[int] | None = None
    workspaces: frozenset[int] | None = None
    failed: bool | None = None


def positions(text: str | None) -> np.ndarray:
    """The integers of a `group_concat` result, in its order."""
    if not text:
        return np.empty(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=',')


class _Entries:
    def __init__(self) -> None:
        self.days = Days(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.uint16))
        self.upto = 0  # entries are known for every event at a position up to this one
        self.upto_hash = ''

    def read(self, head: int, head_hash: str) -> None:
        """Read the entries of the events after `upto` up to `head`, in the caller's snapshot."""
        if head + 1 > len(self.days.codes):
            size = max(head + 1, len(self.days.codes) * 3 // 2)
            self.days = Days(*(_grown(array, size) for array in self.days))
        for low in range(self.upto, head, STEP):
            seqs, *values = database.execute_sql(_ENTRY_SQL, (low, min(low + STEP, head))).fetchone()
            at = positions(seqs)
            for array, text in zip(self.days, values, strict=True):
                array[at] = positions(text)
        self.upto, self.upto_hash = head, head_hash


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    grown = np.zeros(size, dtype=array.dtype)
    grown[:len(array)] = array
    return grown


class _Known:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entries] = OrderedDict()
        self._lock = threading.Lock()
        self._reading: dict[str, Future] = {}
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix='event-days')

    def upto(self, head: int, head_hash: str) -> Days | None:
        """The entries of every event up to `head` (the newest position of the caller's snapshot, whose event
        has `head_hash`), or None while they are being read in the background. Call outside a write
        transaction: its events may still be rolled back."""
        url = getattr(database.obj, 'audit_url', '')
        with self._lock:
            entries = self._entries.get(url)
            if entries is not None:
                if head < entries.upto:  # an older snapshot than another reader's, or a smaller file: not known which
                    return None
                same = entries.upto_hash == head_hash if head == entries.upto else self._same_store(entries)
                if not same:
                    entries = None
            if entries is None:
                entries = _Entries()
                self._entries[url] = entries
                while len(self._entries) > KEPT:
                    self._entries.popitem(last=False)
            self._entries.move_to_end(url)
            if head - entries.upto <= CATCH_UP_HERE:
                entries.read(head, head_hash)
                return entries.days
            if url not in self._reading:
                self._reading[url] = self._reader.submit(with_connection, self._read_behind, url, entries)
            return None

    @staticmethod
    def _same_store(entries: _Entries) -> bool:
        """Whether the event at the last position read is still the one read (each event's hash covers the
        ones before it)."""
        if entries.upto == 0:
            return True
        row = database.execute_sql('SELECT hash FROM event WHERE seq = ?', (entries.upto,)).fetchone()
        return row is not None and row[0] == entries.upto_hash

    def _read_behind(self, url: str, entries: _Entries) -> None:
        try:
            if getattr(database.obj, 'audit_url', '') != url:  # another database was opened meanwhile
                return
            with read_snapshot():
                fresh = _Entries()
                fresh.read(*chain.head())
            with self._lock:
                if self._entries.get(url) is entries:
                    self._entries[url] = fresh
        finally:
            with self._lock:
                self._reading.pop(url, None)

    def read_ahead(self) -> Future:
        """Read the entries of every event of the open database in the background (the server's start), unless
        that is under way; the future is done when they are read."""
        url = getattr(database.obj, 'audit_url', '')
        with self._lock:
            if url in self._reading:
                return self._reading[url]
            entries = self._entries.setdefault(url, _Entries())
            self._reading[url] = future = self._reader.submit(with_connection, self._read_behind, url, entries)
            return future

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_known = _Known()
upto = _known.upto
read_ahead = _known.read_ahead
clear = _known.clear


def split(days: Days, seqs: np.ndarray) -> dict[int, tuple[int, int]]:
    """The events at positions `seqs` counted per UTC day: {day: (SUCCESS, FAILED)}."""
    if not len(seqs):
        return {}
    entries = days.codes[seqs]
    keys = entries >> 1  # day << 1 | FAILED
    low = int(keys.min())
    tally = np.bincount(keys - low)
    found = np.flatnonzero(tally)
    counts: dict[int, tuple[int, int]] = {}
    for key in found:
        day, failed = divmod(int(key) + low, 2)
        success, before = counts.get(day, (0, 0))
        counts[day] = (success, before + int(tally[key])) if failed else (success + int(tally[key]), before)
    return counts


def sieve(days: Days, seqs: np.ndarray, within: Within) -> tuple[np.ndarray, np.ndarray]:
    """Which of `seqs` the view `within` holds, and which are unsure (boolean masks): their search text has a
    character beyond ASCII, or their pair or workspace is UNKNOWN where the view names some."""
    codes = days.codes[seqs]
    unsure = (codes & BEYOND_ASCII).astype(bool)
    inside = np.ones(len(seqs), dtype=bool)
    if within.failed is not None:
        inside &= ((codes >> 1) & 1).astype(bool) == within.failed
    for array, wanted in ((days.pairs, within.pairs), (days.workspaces, within.workspaces)):
        if wanted is not None:
            values = array[seqs]
            unsure |= values == UNKNOWN
            inside &= np.isin(values, np.fromiter(wanted, dtype=np.int64, count=len(wanted)))
    return inside, unsure
