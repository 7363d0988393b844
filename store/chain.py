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

from store.db import database

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
class ChainReport:
    ok: bool
    checked: int
    bad_seq: int | None = None
    bad_id: str | None = None
    reason: str = ''

    def summary(self) -> str:
        if self.ok:
            return f'OK: {self.checked:,} events, the chain is intact'
        return f'TAMPERED: event #{self.bad_seq} (id {self.bad_id}): {self.reason}'


VERIFY_SQL = """
    SELECT e.seq, e.uid, e.ts, e.actor, e.scope, e.category, e.action, e.target, e.status, e.description,
           w.name, e.metadata, e.hash
    FROM event e LEFT JOIN workspace w ON w.id = e.workspace_id
    ORDER BY e.seq"""


def verify(rows: Iterable[tuple] | None = None) -> ChainReport:
    """Walk the whole chain in storage order and report the first event that does not fit."""
    previous, checked = GENESIS, 0
    for row in rows if rows is not None else database.execute_sql(VERIFY_SQL):
        seq, uid, stored = row[0], row[1], row[12]
        expected = link(previous, canonical(*row[1:12]))
        if stored != expected:
            reason = ('its content or position does not match its hash (edited, reordered, inserted, '
                      'or the event before it was deleted)')
            return ChainReport(False, checked, seq, uid, reason)
        previous, checked = stored, checked + 1
    return ChainReport(True, checked)
