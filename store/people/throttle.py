"""Slowing down password guessing: after repeated failures, a key must wait before trying again."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class LoginThrottle:
    """`limit` failures within `window` seconds lock a key (an email or a client) for `lockout` seconds."""

    def __init__(self, limit: int = 5, window: float = 300, lockout: float = 60,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.lockout, self.clock = limit, window, lockout, clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> int:
        """Seconds any of `keys` must still wait (0 when free to try)."""
        now = self.clock()
        with self._lock:
            return max([0, *(math.ceil(self._locked_until.get(k, 0) - now) for k in keys)])

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < self.window] + [now]
                if len(recent) >= self.limit:
                    self._locked_until[key] = now + self.lockout
                    recent = []
                self._failures[key] = recent
            if len(self._failures) > 100_000:
                self._failures = {k: v for k, v in self._failures.items() if v and now - v[-1] < self.window}

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
                self._locked_until.pop(key, None)
