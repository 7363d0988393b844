"""SQLite's write-ahead log copied back into the database file beside the writers, not inside them.

A commit appends the pages it changed to the log; a checkpoint copies them into the database file and
syncs it. SQLite runs the checkpoint in the connection whose commit took the log past
`wal_autocheckpoint` pages, before that commit returns, so the writer, and every request waiting for
the write lock behind it, waits for it too. Measured at 1,000,000 events, back-filled history spent
73 ms per 1,000 events in the write transaction, 18 of them checkpointing.

A `Checkpointer` per database file takes that work off the write path: each write transaction notes its
commit, and one background thread, on its own connection, runs a passive checkpoint (which holds up
neither writers nor readers) at most every INTERVAL seconds while commits arrive. Through the API with two
clients, back-filled history onto 1,000,000 events went from 19,200-19,500 to 19,800-21,300 events per second
on a quiet machine (16,000-18,800 to 16,700-20,200 on a busier one), runs taken side by side.

The writers' own automatic checkpoint stays, at FALLBACK_PAGES: the log starts afresh only at a write
that begins once every page of it is in the database file, which a pass running beside continuous
commits rarely achieves. At that size a writer's checkpoint finishes the pass's work, a few commits'
pages, and the log starts again: it stays near FALLBACK_PAGES pages (80 MiB) unless a long read holds an
older snapshot, as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from store.engine.background import WokenThread

INTERVAL = 0.25  # seconds between background checkpoints while commits arrive
FALLBACK_PAGES = 20_000  # the writers' own automatic checkpoint (SQLite's wal_autocheckpoint), in pages

log = logging.getLogger(__name__)


class Checkpointer(WokenThread):
    """Passive checkpoints of one database file, in a daemon thread that the first commit starts."""

    pause = INTERVAL

    def __init__(self, path: Path) -> None:
        super().__init__(f'checkpoint {path.name}')
        self._path = path
        self.passes = 0

    def work(self, stop: threading.Event) -> None:
        self.checkpoint()

    def checkpoint(self) -> None:
        """One passive checkpoint on a connection of its own; a missing or unreadable file is left alone.

        The connection never creates the file (`mode=rw`): the database may have been moved or deleted
        since the commit that asked for this pass."""
        try:
            conn = sqlite3.connect(f'{self._path.resolve().as_uri()}?mode=rw', uri=True)
        except sqlite3.Error:
            return
        try:
            conn.execute('PRAGMA wal_checkpoint(PASSIVE)').fetchone()
            self.passes += 1
        except sqlite3.OperationalError as exc:  # e.g. another process's checkpoint under way: the next pass
            log.debug('checkpoint of %s: %s', self._path, exc)
        except sqlite3.Error as exc:
            log.warning('checkpoint of %s failed: %s', self._path, exc)
        finally:
            conn.close()
