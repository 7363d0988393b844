"""Stream delivery in a process of its own: `main.py stream deliver`, and the server's launcher of it.

Why a process: a stream catching up a backlog keeps a core busy building, signing and sending batches. In the
server's process it also held the interpreter lock the page's reads need: at 1M events a page's first load of
'failed' took 87 ms quiet and 167 ms beside a catch-up, and making the catch-up yield to reads kept them near their
quiet figures but cut delivery from 59,000 to 7,200 events/s, below the 20,000 asked.

Why idle scheduling: the process runs under Linux's SCHED_IDLE policy, so it gets a core only when no ordinary
process wants it, and a server thread that wakes takes the core back at once. Beside nonstop page reads (two
searches every 0.5 s, tests/benchmarks/bench_streams.py --readers, 4 turns alternated, p50/p95) it delivered
71,600 events/s while 'failed' took 85/118 ms (75/99 quiet) and 'notebook' 52/63 (34/38); at a nice value 10
lower than the server's instead, 57,300 events/s with 123/168 and 64/81 ms. Telling the process when the server's
reads begin and end, so that it paused for them, kept the reads no nearer their quiet figures and delivered
43,500 events/s.

The server starts one delivery process (`DeliveryProcess`), restarts it if it dies, and stops it when the server
stops; the process also stops when its standard input, a pipe from the server, closes, so a server killed with
SIGKILL leaves no deliverer behind (the batch in flight is finished and the leases given up). Leases (store/
streams/delivery.py) keep one deliverer per stream however many processes run, so `main.py stream deliver` can
also run as a service of its own beside servers started with AUDIT_STREAM_DELIVERY=off.
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
from store.streams.delivery import Deliverer

MAIN = Path(__file__).resolve().parent.parent / 'main.py'
STOP_SECONDS = 30.0  # how long a stopping server waits for the batch in flight before killing the process
FIRST_RESTART_SECONDS = 1.0
MAX_RESTART_SECONDS = 60.0

log = logging.getLogger(__name__)


def cmd_deliver(args: argparse.Namespace, url: str) -> int:
    """Deliver every stream this process can lease until SIGTERM or SIGINT (or, with --until-stdin-closes, until
    standard input ends): the batch in flight is finished and the leases are given up."""
    if args.idle:
        run_when_idle()
    open_database(url)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if args.until_stdin_closes:
        threading.Thread(target=_stop_at_end_of_input, args=(stop,), name='server-watch', daemon=True).start()
    deliverer = Deliverer()
    deliverer.start()
    try:
        while not stop.wait(1.0):
            if not deliverer.alive():
                raise StoreError('the stream deliverer stopped')
    finally:
        deliverer.stop()
    return 0


def run_when_idle() -> None:
    """Put this process under SCHED_IDLE (see the module); where that is refused, the lowest nice value."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError) as exc:
        log.warning('streams: idle scheduling refused (%s): delivering at nice 19 instead', exc)
        os.nice(19)


def _stop_at_end_of_input(stop: threading.Event) -> None:
    """Wait for end of input: the server that started this process closed its end, or died."""
    while os.read(sys.stdin.fileno(), 4096):  # the raw descriptor: a buffered reader's lock would hold up the exit
        pass
    stop.set()


def delivery_mode() -> str:
    value = settings.STREAM_DELIVERY.value()
    if value not in ('process', 'thread', 'off'):
        raise StoreError(f'{settings.STREAM_DELIVERY.env} must be process, thread or off, not {value!r}')
    return value


class DeliveryProcess:
    """The server's delivery process: started with the server, restarted (after a growing pause) if it dies,
    terminated when the server stops. `alive()` is False while it is down, for the readiness check."""

    def __init__(self, url: str, idle: bool = True) -> None:
        self._url = url
        self._idle = idle
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._started = 0.0

    def command(self) -> list[str]:
        idle = ['--idle'] if self._idle else []
        return [sys.executable, str(MAIN), 'stream', 'deliver', '--until-stdin-closes', *idle]

    def start(self) -> None:
        if self._watcher is not None:
            return
        self._stopping.clear()
        self._spawn()
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
            self._started = time.monotonic()

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
            self._spawn()
