"""Stream delivery in a process of its own: `main.py stream deliver`, and the server's launcher of it.

Why a process: a stream catching up a backlog keeps a core busy building, signing and sending batches. In the
server's process it also held the GIL the page's reads need, so a page read during a catch-up took up to twice
as long (at 1M events, 'failed': 87 ms quiet, 167 ms beside a catch-up); making the catch-up yield to reads kept
the reads near their quiet figures but cut delivery from 59,000 to 7,200 events/s, below the 20,000 asked.
In its own process at a lower CPU priority (DELIVERY_NICE) the catch-up runs on the other core at full speed
and gives way to the server whenever both want the same core: see the README's stream figures
(tests/benchmarks/bench_streams.py --readers).

The server starts one delivery process (`DeliveryProcess`), restarts it if it dies, and stops it when the server
stops; the process stops by itself when the server's end of its standard input closes, so a server killed with
SIGKILL leaves no deliverer behind (its leases are given up; otherwise they expire). Leases (store/streams/
delivery.py) keep one deliverer per stream however many processes run, so `main.py stream deliver` can also run
as a service of its own beside servers started with AUDIT_STREAM_DELIVERY=off.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from store.engine import settings
from store.engine.db import StoreError
from store.lifecycle.opening import open_database
from store.read import activity as read_activity
from store.streams.delivery import Deliverer

READ_BEGINS, READ_ENDS = b'R', b'E'  # on the process's standard input: the server's reads begin, end
# A catching-up stream in the delivery process waits for this quiet spell after the server's last read, where
# threads inside the server wait READERS_QUIET_SECONDS: a process of its own shares no GIL with the server, so it
# need only stay out of the reads themselves (a page's load is a few reads in a row).
PROCESS_READERS_QUIET_SECONDS = 0.2
DELIVERY_NICE = 10  # how much lower the delivery process's CPU priority is than the server's (os.nice)
MAIN = Path(__file__).resolve().parent.parent / 'main.py'
STOP_SECONDS = 30.0  # how long a stopping server waits for the batch in flight before killing the process
FIRST_RESTART_SECONDS = 1.0
MAX_RESTART_SECONDS = 60.0

log = logging.getLogger(__name__)


def cmd_deliver(args: argparse.Namespace, url: str) -> int:
    """Deliver every stream this process can lease until SIGTERM or SIGINT (or, with --until-stdin-closes, until
    standard input ends): the batch in flight is finished and the leases are given up."""
    if args.nice:
        os.nice(args.nice)
    open_database(url)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if args.server_on_stdin:
        threading.Thread(target=_follow_the_server, args=(stop,), name='server-watch', daemon=True).start()
    deliverer = Deliverer(readers_quiet=PROCESS_READERS_QUIET_SECONDS if args.server_on_stdin else None)
    deliverer.start()
    try:
        while not stop.wait(1.0):
            if not deliverer.alive():
                raise StoreError('the stream deliverer stopped')
    finally:
        deliverer.stop()
    return 0


def _follow_the_server(stop: threading.Event) -> None:
    """Mirror the server's reads (READ_BEGINS, READ_ENDS on standard input) into this process's read activity,
    so a catching-up stream yields to them; stop at end of input: the server closed its end, or died."""
    reading = False
    while chunk := os.read(sys.stdin.fileno(), 4096):  # the raw descriptor: a buffered reader's lock would
        for byte in chunk:                              # hold up the exit
            if byte == READ_BEGINS[0] and not reading:
                read_activity.begin()
            elif byte == READ_ENDS[0] and reading:
                read_activity.end()
            else:
                continue
            reading = not reading
    if reading:
        read_activity.end()
    stop.set()


def delivery_mode() -> str:
    value = settings.STREAM_DELIVERY.value()
    if value not in ('process', 'thread', 'off'):
        raise StoreError(f'{settings.STREAM_DELIVERY.env} must be process, thread or off, not {value!r}')
    return value


class DeliveryProcess:
    """The server's delivery process: started with the server, restarted (after a growing pause) if it dies,
    terminated when the server stops. `alive()` is False while it is down, for the readiness check."""

    def __init__(self, url: str, nice: int = DELIVERY_NICE) -> None:
        self._url = url
        self._nice = nice
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._started = 0.0

    def command(self) -> list[str]:
        return [sys.executable, str(MAIN), 'stream', 'deliver', '--nice', str(self._nice), '--server-on-stdin']

    def start(self) -> None:
        if self._watcher is not None:
            return
        self._stopping.clear()
        self._spawn()
        read_activity.observe(self._tell)
        self._watcher = threading.Thread(target=self._watch, name='delivery-process', daemon=True)
        self._watcher.start()

    @property
    def pid(self) -> int | None:
        process = self._process
        return None if process is None else process.pid

    def alive(self) -> bool:
        process = self._process
        return self._watcher is None or (process is not None and process.poll() is None)

    def stop(self) -> None:
        """Ask the process to finish its batch and give up its leases; kill it after STOP_SECONDS."""
        self._stopping.set()
        read_activity.unobserve(self._tell)
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning('streams: the delivery process did not stop within %.0f s: killed', STOP_SECONDS)
                process.kill()
                process.wait()
        if process is not None and process.stdin is not None:
            process.stdin.close()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None

    def _spawn(self) -> None:
        # the URL goes through the environment, not the command line, where `ps` would show a password in it
        environment = {**os.environ, settings.DATABASE_URL.env: self._url}
        with self._lock:
            if self._stopping.is_set():
                return
            self._process = subprocess.Popen(self.command(), stdin=subprocess.PIPE, env=environment)
            assert self._process.stdin is not None
            os.set_blocking(self._process.stdin.fileno(), False)  # a read never waits for the process
            self._started = time.monotonic()

    def _tell(self, reading: bool) -> None:
        """Tell the process that the server's reads begin or end (see read_activity.observe)."""
        process = self._process
        if process is None or process.stdin is None:
            return
        try:
            os.write(process.stdin.fileno(), READ_BEGINS if reading else READ_ENDS)
        except (OSError, ValueError):
            pass  # the process is gone (restarted meanwhile) or behind on reading its input: it misses one read

    def _watch(self) -> None:
        pause = FIRST_RESTART_SECONDS
        while not self._stopping.is_set():
            process = self._process
            if process is None or process.poll() is None:
                self._stopping.wait(0.5)
                continue
            if time.monotonic() - self._started > MAX_RESTART_SECONDS:
                pause = FIRST_RESTART_SECONDS  # it had been running well: not a crash loop
            log.warning('streams: the delivery process ended with status %s; restarting it in %.0f s',
                        process.returncode, pause)
            if process.stdin is not None:
                process.stdin.close()
            if self._stopping.wait(pause):
                return
            pause = min(MAX_RESTART_SECONDS, pause * 2)
            read_activity.unobserve(self._tell)
            self._spawn()
            read_activity.observe(self._tell)  # the new process hears of a read in progress now
