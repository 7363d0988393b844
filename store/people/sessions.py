"""Browser sessions kept in the database, so every app instance on the same database sees them.

A session is made in two steps. Signing in (over NiceGUI's websocket, which cannot set a cookie)
makes a row with a one-time hand-off token that lives `HANDOFF_SECONDS`; the browser then opens an
HTTP route with that token, which redeems it for the session id and sets it as a cookie. Only
SHA-256 hashes of the hand-off token and of the session id are stored.

A session ends when it is idle for longer than the configured time, on sign-out, and when its
account is disabled or changes role or workspaces (store/people/accounts.py). `last_seen` is written at
most once per `TOUCH_EVERY_MS` per session, so reading pages does not turn into a write per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from store.engine.db import database, write_transaction
from store.engine.timefmt import now_millis

HANDOFF_SECONDS = 60
TOUCH_EVERY_MS = 60_000
MAX_ID = 200  # longer cookie values are refused without hashing them


@dataclass(frozen=True)
class Handoff:
    token: str
    expires: int  # milliseconds since the epoch


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _now(now: int | None) -> int:
    return now_millis() if now is None else now


def create_session(account_id: int, *, now: int | None = None) -> Handoff:
    """A new, not yet redeemed session for the account; the returned token redeems it once."""
    now = _now(now)
    token = secrets.token_urlsafe(32)
    expires = now + HANDOFF_SECONDS * 1000
    with write_transaction():
        database.execute_sql(
            'INSERT INTO session (id_hash, handoff_hash, handoff_expires, account_id, created_at, last_seen) '
            'VALUES (NULL, ?, ?, ?, ?, ?)', (_hash(token), expires, account_id, now, now))
    return Handoff(token, expires)


def redeem_handoff(token: str, *, now: int | None = None) -> str | None:
    """The new session id for a valid, unused, unexpired hand-off token, else None. Works once."""
    if not token or len(token) > MAX_ID:
        return None
    now = _now(now)
    session_id = secrets.token_urlsafe(32)
    with write_transaction():
        cursor = database.execute_sql(
            'UPDATE session SET id_hash = ?, handoff_hash = NULL, handoff_expires = NULL, last_seen = ? '
            'WHERE handoff_hash = ? AND handoff_expires > ? AND id_hash IS NULL',
            (_hash(session_id), now, _hash(token), now))
        if cursor.rowcount != 1:
            return None
    return session_id


def lookup(session_id: str | None, idle_minutes: int, *, now: int | None = None, touch: bool = True) -> str | None:
    """The email of the session's account while the session is live and the account enabled, else None.

    With `touch`, a live session's last_seen moves to `now` (written only when older than a minute).
    """
    if not session_id or len(session_id) > MAX_ID:
        return None
    now = _now(now)
    row = database.execute_sql(
        'SELECT s.id, s.last_seen, a.email FROM session s JOIN account a ON a.id = s.account_id '
        'WHERE s.id_hash = ? AND a.disabled = 0', (_hash(session_id),)).fetchone()
    if row is None or row[1] < now - idle_minutes * 60_000:
        return None
    if touch and row[1] <= now - TOUCH_EVERY_MS:
        with write_transaction():
            database.execute_sql('UPDATE session SET last_seen = ? WHERE id = ? AND last_seen < ?',
                                 (now, row[0], now))
    return row[2]


def touch(session_id: str | None, *, now: int | None = None) -> bool:
    """Record activity on a session (at most one write a minute); False when there is no such session."""
    if not session_id or len(session_id) > MAX_ID:
        return False
    now = _now(now)
    row = database.execute_sql('SELECT id, last_seen FROM session WHERE id_hash = ?', (_hash(session_id),)).fetchone()
    if row is None:
        return False
    if row[1] <= now - TOUCH_EVERY_MS:
        with write_transaction():
            database.execute_sql('UPDATE session SET last_seen = ? WHERE id = ? AND last_seen < ?', (now, row[0], now))
    return True


def end_session(session_id: str | None) -> str | None:
    """Sign-out: delete the session; returns the email it belonged to, if it existed."""
    if not session_id or len(session_id) > MAX_ID:
        return None
    with write_transaction():
        row = database.execute_sql(
            'SELECT s.id, a.email FROM session s JOIN account a ON a.id = s.account_id WHERE s.id_hash = ?',
            (_hash(session_id),)).fetchone()
        if row is None:
            return None
        database.execute_sql('DELETE FROM session WHERE id = ?', (row[0],))
    return row[1]


def end_account_sessions(account_id: int) -> int:
    """End every session of an account; call inside the transaction that changes the account.

    Returns how many ended.
    """
    return database.execute_sql('DELETE FROM session WHERE account_id = ?', (account_id,)).rowcount


def purge_expired(idle_minutes: int, *, now: int | None = None) -> int:
    """Delete idle sessions and unredeemed hand-offs past their time; returns how many."""
    now = _now(now)
    with write_transaction():
        return database.execute_sql(
            'DELETE FROM session WHERE last_seen < ? OR (id_hash IS NULL AND handoff_expires <= ?)',
            (now - idle_minutes * 60_000, now)).rowcount


def count_sessions(account_id: int | None = None) -> int:
    """Live and pending sessions, of one account or of all."""
    if account_id is None:
        return database.execute_sql('SELECT count(*) FROM session').fetchone()[0]
    return database.execute_sql('SELECT count(*) FROM session WHERE account_id = ?', (account_id,)).fetchone()[0]
