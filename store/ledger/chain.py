"""The hash chain that makes tampering evident.

Every event's hash is SHA-256 over the previous event's hash and the event's canonical content,
in storage order. Editing, deleting, inserting or reordering a stored event behind the
application's back breaks the chain at that event or the one after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from store.engine.db import database, is_sqlite, stream

GENESIS = '0' * 64
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(',', ':'))


def canonical(uid: str, ts: int, user: str, scope: str, category: str, action: str, target: str,
              status: str, description: str, workspace: str | None, metadata: str | None) -> bytes:
    return _ENCODER.encode([uid, ts, user, scope, category, action, target, status, description, workspace,
                            metadata]).encode()


def link(previous: str, content: bytes) -> str:
    return hashlib.sha256(previous.encode() + b'\n' + content).hexdigest()


def head() -> tuple[int, str]:
    """The storage position and hash of the last stored event (0 and the genesis value when empty)."""
    row = database.execute_sql('SELECT seq, hash FROM event ORDER BY seq DESC LIMIT 1').fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


@dataclass(frozen=True)
class Head:
    """How many events the application has stored, and the position and hash of the newest one.

    Kept in `meta` and updated in the same transaction as every append. New events link to this
    recorded hash, not to whatever row is last, so a tail removed behind the application's back
    shows at the next append (and `verify` compares it with the table in the meantime).
    """

    count: int
    seq: int
    hash: str

    def encode(self) -> str:
        return f'{self.count}:{self.seq}:{self.hash}'

    @classmethod
    def decode(cls, value: str) -> Head | None:
        parts = value.split(':')
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return cls(int(parts[0]), int(parts[1]), parts[2])


HEAD_KEY = 'chain_head'
EMPTY = Head(0, 0, GENESIS)


def recorded_head() -> Head | None:
    row = database.execute_sql('SELECT value FROM meta WHERE key = ?', (HEAD_KEY,)).fetchone()
    return Head.decode(row[0]) if row else None


def tip() -> Head:
    """The head new events link to: the recorded one, or (no record, e.g. an empty store) the last row."""
    recorded = recorded_head()
    if recorded is not None:
        return recorded
    seq, last = head()
    if seq == 0:
        return EMPTY
    return Head(database.execute_sql('SELECT count(*) FROM event').fetchone()[0], seq, last)


def record_head(new: Head) -> None:
    """Call inside the write transaction that stored the events up to `new`."""
    database.execute_sql('INSERT INTO meta (key, value) VALUES (?, ?) '
                         'ON CONFLICT (key) DO UPDATE SET value = excluded.value', (HEAD_KEY, new.encode()))


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    bad_seq: int | None = None
    bad_id: str | None = None
    reason: str = ''

    head: str | None = None
    head_seq: int | None = None

    @property
    def anchor(self) -> str | None:
        """`SEQ:HASH` of the newest event: kept elsewhere, `verify --anchor` later proves nothing before it changed."""
        return f'{self.head_seq}:{self.head}' if self.head and self.head_seq else None

    def summary(self) -> str:
        if self.ok:
            anchor = f'; anchor {self.anchor}' if self.anchor else ''
            return f'OK: {self.checked:,} events, the chain is intact{anchor}'
        which = f' (id {self.bad_id})' if self.bad_id is not None else ''
        return f'TAMPERED: event #{self.bad_seq}{which}: {self.reason}'


VERIFY_SQL = """
    SELECT e.seq, e.uid, e.ts, e.actor, e.scope, e.category, e.action, e.target, e.status, e.description,
           w.name, e.metadata, e.hash
    FROM event e LEFT JOIN workspace w ON w.id = e.workspace_id
    ORDER BY e.seq"""


def parse_anchor(text: str) -> tuple[int, str]:
    """`SEQ:HASH` as printed by a passing check."""
    seq, _, digest = text.strip().partition(':')
    if not seq.isdigit() or len(digest) != 64 or any(c not in '0123456789abcdef' for c in digest):
        raise ValueError(f'{text!r} is not an anchor SEQ:HASH as `verify` prints it (e.g. 1200:9f86d08...)')
    return int(seq), digest


def verify(rows: Iterable[tuple] | None = None, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the whole chain in storage order and report the first event that does not fit.

    Reading the table (without `rows`) also compares its end with the recorded head, in one snapshot,
    so removed or added newest events show too. `anchor` (seq, hash), noted from an earlier check and
    kept elsewhere, catches even a chain recomputed from scratch up to that event.
    """
    if rows is not None:
        return _walk(rows, None, anchor, check_head=False)
    nested = database.in_transaction()
    with database.atomic():  # one read snapshot for the head and the rows, while writers carry on
        if not is_sqlite() and not nested:
            database.execute_sql('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ')
        recorded = recorded_head()
        cursor = stream(VERIFY_SQL)
        try:
            return _walk(cursor, recorded, anchor, check_head=True)
        finally:
            cursor.close()


def _walk(rows: Iterable[tuple], recorded: Head | None, anchor: tuple[int, str] | None, *,
          check_head: bool) -> ChainReport:
    previous, checked, last_seq = GENESIS, 0, 0
    first_extra: tuple[int, str] | None = None  # the first row beyond the recorded head, if any
    for row in rows:
        seq, uid, stored = row[0], row[1], row[12]
        if recorded is not None and checked == recorded.count:
            first_extra = (seq, uid)
        if anchor is not None and last_seq < anchor[0] <= seq and (seq != anchor[0] or stored != anchor[1]):
            return ChainReport(False, checked, seq, uid, f'the anchor {anchor[0]}:{anchor[1][:12]}… no longer '
                                                         'matches: the chain was rewritten up to here')
        expected = link(previous, canonical(*row[1:12]))
        if stored != expected:
            if checked and seq != last_seq + 1:
                reason = (f'the events #{last_seq + 1} to #{seq - 1} before it are missing (deleted)'
                          if seq > last_seq + 2 else f'the event #{last_seq + 1} before it is missing (deleted)')
            elif not checked and seq != 1:
                reason = 'the events before it (from #1) are missing (deleted)'
            else:
                reason = ('its content or position does not match its hash (edited, reordered, inserted, '
                          'or the event before it was deleted)')
            return ChainReport(False, checked, seq, uid, reason)
        previous, checked, last_seq = stored, checked + 1, seq
    if anchor is not None and anchor[0] > last_seq:
        return ChainReport(False, checked, anchor[0], None, f'the anchored event #{anchor[0]} is missing (deleted)')
    if check_head:
        problem = _head_problem(recorded, Head(checked, last_seq, previous), first_extra)
        if problem:
            return ChainReport(False, checked, *problem)
    return ChainReport(True, checked, head=previous, head_seq=last_seq or None)


def _head_problem(recorded: Head | None, found: Head,
                  first_extra: tuple[int, str] | None) -> tuple[int, str | None, str] | None:
    """(seq, id, reason) when the table's end differs from the head the application recorded."""
    if recorded is None:
        if found.count == 0:
            return None
        return found.seq, None, "the record of the chain head is missing (removed behind the application's back)"
    if recorded == found:
        return None
    if found.count < recorded.count:
        missing, first = recorded.count - found.count, found.seq + 1
        return (first, None, f'the newest {missing:,} event(s), #{first} to #{recorded.seq}, are missing (deleted): '
                             f'the chain ends at #{found.seq}')
    if found.count > recorded.count and first_extra is not None:
        extra = found.count - recorded.count
        return (first_extra[0], first_extra[1], f"{extra:,} event(s) from here on were added behind the application's "
                                                f'back: the recorded chain ends at #{recorded.seq}')
    if (found.count, found.seq) == (recorded.count, recorded.seq):
        return (found.seq, None, 'the newest hash differs from the recorded one: events were edited and the chain '
                                 "recomputed behind the application's back")
    return found.seq, None, f'the chain ends at #{found.seq}, not at the recorded head #{recorded.seq}'
