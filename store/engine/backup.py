"""Online backups of an SQLite store, taken while the app keeps writing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from store.engine.db import StoreError, sqlite_path


def backup_sqlite(url: str, target: Path, pages_per_step: int = 4096) -> int:
    """Copy the database at `url` to `target` with SQLite's online backup API; return the event count.

    Writers are not blocked for longer than one step; the copy is consistent as of its end. The file
    is written beside the target and renamed into place only when complete.
    """
    source_path = sqlite_path(url)
    if source_path is None:
        raise StoreError('backup copies SQLite files; for PostgreSQL use pg_dump (see the README)')
    if not source_path.exists():
        raise StoreError(f'{source_path}: no such database')
    target = Path(target)
    if target.resolve() == source_path.resolve():
        raise StoreError('the backup must not overwrite the database itself')
    if not target.parent.is_dir():
        raise StoreError(f'{target.parent}: no such folder')
    partial = target.with_name(f'.{target.name}.partial')
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy, pages=pages_per_step)
        check = copy.execute('PRAGMA integrity_check').fetchone()[0]
        if check != 'ok':
            raise StoreError(f'the copy failed its integrity check: {check}')
        events = copy.execute('SELECT count(*) FROM event').fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(f'backup failed: {exc}') from exc
    finally:
        copy.close()
        source.close()
    os.replace(partial, target)
    return events
