"""Notices of what the store did, for whoever watches in this process (the server's metrics).

A listener runs in the thread that did the work, once it is written (committed, unless a transaction around
it rolls back later); it must be quick, and whatever it raises is logged and dropped: watching never fails a
write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Signal:
    """A named list of listeners, each called with the signal's keyword arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Callable[..., None]] = []

    def connect(self, listener: Callable[..., None]) -> None:
        """Add `listener` once (connecting it again changes nothing)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def disconnect(self, listener: Callable[..., None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def send(self, **kwargs: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(**kwargs)
            except Exception:
                log.exception('a listener of %s failed', self.name)


# counts={(scope, status): events} of one committed append (store/write/ingest.py)
events_appended = Signal('events_appended')
# action=, status=, metadata= of one event the app recorded about itself (store/write/self_audit.py)
self_audit_recorded = Signal('self_audit_recorded')
