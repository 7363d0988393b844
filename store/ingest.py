"""The one way events enter the store: the API, imports, demo data and the app's own events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from store import chain
from store.db import database, write_transaction
from store.timefmt import to_millis
from store.validation import NewEvent

BATCH = 500
_METADATA = json.JSONEncoder(ensure_ascii=False, sort_keys=True)

INSERT_SQL = """INSERT INTO event (uid, ts, actor, scope, category, action, target, status, description,
                                   workspace_id, metadata, search_text, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


@dataclass
class AppendResult:
    ids: list[str] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0


def search_text(event: NewEvent) -> str:
    """The lower-cased text the keyword search looks in; fields are kept apart by a separator."""
    parts = (event.scope, event.category, event.user, event.action, event.target, event.description)
    return '\x1f'.join(parts).lower()


def append_events(events: Iterable[NewEvent]) -> AppendResult:
    """Store checked events atomically, in order, extending the hash chain.

    An event whose id is already stored (or repeats an earlier one of the same call) is counted as
    a duplicate and not stored again, so clients can retry safely.
    """
    result = AppendResult()
    with write_transaction():
        last_seq, previous = chain.head()
        workspaces = _WorkspaceIds()
        iterator = iter(events)
        seen: set[str] = set()
        while batch := list(islice(iterator, BATCH)):
            previous = _append_batch(batch, previous, workspaces, seen, result)
        if result.stored:
            database.execute_sql('INSERT INTO event_search(rowid, search_text) '
                                 'SELECT seq, search_text FROM event WHERE seq > ?', (last_seq,))
    return result


def _append_batch(batch: list[NewEvent], previous: str, workspaces: _WorkspaceIds, seen: set[str],
                  result: AppendResult) -> str:
    ids = [event.id or str(uuid.uuid4()) for event in batch]
    stored = _existing_ids([i for i in ids if i not in seen])
    rows = []
    for uid, event in zip(ids, batch, strict=True):
        result.ids.append(uid)
        if uid in seen or uid in stored:
            result.duplicates += 1
            continue
        seen.add(uid)
        ts = to_millis(event.timestamp)
        metadata = _METADATA.encode(event.metadata) if event.metadata else None
        content = chain.canonical(uid, ts, event.user, event.scope, event.category, event.action, event.target,
                                  event.status, event.description, event.workspace, metadata)
        previous = chain.link(previous, content)
        rows.append((uid, ts, event.user, event.scope, event.category, event.action, event.target, event.status,
                     event.description, workspaces.id_of(event.workspace), metadata, search_text(event), previous))
    if rows:
        database.cursor().executemany(INSERT_SQL, rows)
        result.stored += len(rows)
    return previous


def _existing_ids(ids: list[str]) -> set[str]:
    if not ids:
        return set()
    marks = ','.join('?' * len(ids))
    return {row[0] for row in database.execute_sql(f'SELECT uid FROM event WHERE uid IN ({marks})', ids)}


class _WorkspaceIds:
    """Workspace name → id, creating a workspace the first time an event names it."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def id_of(self, name: str | None) -> int | None:
        if name is None:
            return None
        if name not in self._ids:
            self._ids[name] = ensure_workspace(name)
        return self._ids[name]


def ensure_workspace(name: str) -> int:
    """The id of workspace `name`, created on first use. Call inside a write transaction."""
    from store.timefmt import now_millis

    row = database.execute_sql('SELECT id FROM workspace WHERE name = ?', (name,)).fetchone()
    if row:
        return row[0]
    cursor = database.execute_sql('INSERT INTO workspace (name, created_at) VALUES (?, ?)', (name, now_millis()))
    return cursor.lastrowid


def chunked(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
