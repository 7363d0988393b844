"""A daemon thread that does a pass of work each time it is woken, beside the writers: started by the first
wake, ended by `stop`, started again by the next wake."""

from __future__ import annotations

import threading
import time


class WokenThread:
    """Subclasses do one pass in `work`; at most one pass runs at a time, at least `pause` seconds apart."""

    pause = 0.0

    def __init__(self, name: str) -> None:
        self._name = name
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def committed(self) -> None:
        """Note a commit: a pass follows (within `pause` seconds of the last one)."""
        self._wake.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._stop = threading.Event()
                    self._thread = threading.Thread(target=self._run, args=(self._stop,), daemon=True,
                                                    name=self._name)
                    self._thread.start()

    def stop(self) -> None:
        """End the thread once its current pass, if any, is done; the next commit starts another."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def alive(self) -> bool:
        """False once the thread has died (a pass raised): no commit starts it again. Not yet started is alive."""
        thread = self._thread
        return thread is None or thread.is_alive()

    def work(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def _run(self, stop: threading.Event) -> None:
        while True:
            self._wake.wait()
            if stop.is_set():
                return
            self._wake.clear()
            started = time.monotonic()
            self.work(stop)
            if stop.wait(max(0.0, self.pause - (time.monotonic() - started))):
                return
