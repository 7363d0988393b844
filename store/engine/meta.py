"""Small values the installation keeps in its own database."""

from __future__ import annotations

import secrets

from store.engine.db import database, write_transaction


def get_value(key: str) -> str | None:
    row = database.execute_sql('SELECT value FROM meta WHERE key = ?', (key,)).fetchone()
    return row[0] if row else None


def session_secret() -> str:
    """The secret that signs browser sessions: generated once and kept with the data, so restarts keep sessions."""
    with write_transaction():
        value = get_value('session_secret')
        if value is None:
            value = secrets.token_urlsafe(32)
            database.execute_sql("INSERT INTO meta (key, value) VALUES ('session_secret', ?)", (value,))
    return value
