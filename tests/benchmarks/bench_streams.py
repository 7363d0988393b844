"""Stream delivery figures: throughput from a backlog to a loopback webhook, latency under live ingestion, and
the page's reads while a stream catches up.

    .venv/bin/python -m tests.benchmarks.bench_streams [--events N] [--latency-seconds S] [--rate R]
    .venv/bin/python -m tests.benchmarks.bench_streams --readers [--rounds K] [--reads M] [--gap S]

Throughput: a copy of the benchmark database (tests/benchmarks/common.py, N events), a stream replaying all of it
to a receiver in another process (which checks each signature), delivered by the server's delivery process
(cli/delivery.py), timed from its start until the stream's position reaches the newest event. Latency: `main.py
serve` on a fresh database, a client POSTing R events/s through the API for S seconds, and for each event the
time from the API's 201 to the receiver's arrival (the same machine's clock).
Readers (--readers): the page's first load (`find_events` of a search, its total counted afresh, as
bench_store.py times it) in this process, which stands for the server: quiet, and while the stream catches up the
backlog delivered by the server's delivery process (idle scheduling, as the server runs it; and at nice 10 for
comparison) or by threads in this process (AUDIT_STREAM_DELIVERY=thread: yielding to the reads, and not). The
conditions alternate K times with M reads of each search, S seconds apart, per turn; prints p50/p95 of each and the
events/s delivered meanwhile. The receiver, a stand-in for a SIEM on another machine, runs at a lower CPU priority
here, behind the reads.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from cli.delivery import DeliveryProcess
from store.derived.search_file import path_for
from tests.benchmarks.common import ROOT, bench_database, open_as_server, p50_p95

EVERYTHING = datetime(1970, 1, 2, tzinfo=UTC)  # a replay from here resends the whole backlog
RECEIVER_NICE = 10


def receive(port_file: str, secret_file: str, log_file: str) -> None:
    """The receiver process: acknowledges batches signed under the secret in `secret_file` (written once the stream
    exists), writes `arrival id` lines to `log_file` on SIGTERM."""
    import signal

    secrets: list[str] = []
    arrivals: list[tuple[float, str]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers['Content-Length']))
            now = time.time()
            if not secrets:
                secrets.append(Path(secret_file).read_text())
            secret = secrets[0]
            good = hmac.compare_digest(self.headers.get('X-Audit-Signature', ''),
                                       'sha256=' + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())
            if good and log_file != '-':
                ids = [e['id'] for e in json.loads(body)['events']]
                with lock:
                    arrivals.extend((now, i) for i in ids)
            self.send_response(200 if good else 401)
            self.send_header('Content-Length', '0')
            self.end_headers()

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)

    def finish(*_: object) -> None:
        if log_file != '-':
            with open(log_file, 'w') as out:
                out.writelines(f'{t:.6f} {i}\n' for t, i in arrivals)
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def start_receiver(folder: Path, record: bool = True) -> tuple[subprocess.Popen, str, Path]:
    """The receiver process, its URL, and the file to write the stream's secret to; without `record` it only
    acknowledges (for runs that resend millions of events)."""
    folder.mkdir(exist_ok=True)
    port_file, log_file = folder / 'port', folder / 'arrivals.txt'
    process = subprocess.Popen([sys.executable, '-m', 'tests.benchmarks.bench_streams', '--receiver', str(port_file),
                                str(folder / 'secret'), str(log_file) if record else '-'], cwd=ROOT)
    while not port_file.exists() or not port_file.read_text():
        time.sleep(0.05)
    return process, f'http://127.0.0.1:{port_file.read_text()}/hook', folder


def stop_receiver(process: subprocess.Popen, folder: Path) -> dict[str, float]:
    process.terminate()
    process.wait(30)
    log_file = folder / 'arrivals.txt'
    arrivals: dict[str, float] = {}
    if not log_file.exists():
        return arrivals
    for line in log_file.read_text().splitlines():
        moment, event_id = line.split(' ', 1)
        arrivals.setdefault(event_id, float(moment))
    return arrivals


def backlog_copy(events: int, folder: Path) -> str:
    """A copy of the benchmark database and its search file (the streams write to it); its URL."""
    source = bench_database(events).removeprefix('sqlite:///')
    copy = folder / 'streams.db'
    for original, target in ((source, copy), (path_for(source), path_for(copy))):
        with closing(sqlite3.connect(original)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    return f'sqlite:///{copy}'


def throughput(events: int, folder: Path) -> None:
    from store.engine.db import connection
    from store.ledger.chain import head
    from store.lifecycle.opening import close_database, open_database
    from store.read.events import EventFilter
    from store.streams import registry as streams

    url = backlog_copy(events, folder)
    open_database(url)
    process, receiver_url, receiver = start_receiver(folder / 'backlog')
    with connection():
        _, secret = streams.create_stream('bench', receiver_url, None, EventFilter(), 'bench',
                                          since=EVERYTHING)
        (receiver / 'secret').write_text(secret)
        last = head()[0]
    deliverer = DeliveryProcess(url)  # as the server delivers
    started = time.perf_counter()
    deliverer.start()
    with connection():
        while streams.get_stream('bench').position < last:
            time.sleep(0.2)
    elapsed = time.perf_counter() - started
    deliverer.stop()
    arrivals = stop_receiver(process, receiver)
    print(f'throughput: {last:,} events delivered in {elapsed:.1f} s = {last / elapsed:,.0f} events/s '
          f'({len(arrivals):,} distinct ids received)')
    close_database()


NICE = 10


class NicedProcess(DeliveryProcess):
    """The server's delivery process at an ordinary priority NICE lower than the server's, in place of idle
    scheduling."""

    def command(self) -> list[str]:
        return ['nice', '-n', str(NICE), *super().command()]


def readers(events: int, rounds: int, reads: int, gap: float, folder: Path) -> None:
    from store.engine.db import connection
    from store.ledger.chain import head
    from store.lifecycle.opening import close_database
    from store.read import counts
    from store.read.events import EventFilter, Viewer, find_events
    from store.streams import delivery as stream_delivery
    from store.streams import registry as streams

    url = backlog_copy(events, folder)
    map_mib = open_as_server(url)
    process, receiver_url, receiver = start_receiver(folder / 'readers', record=False)
    # the receiver stands in for a SIEM on another machine: here it shares the 2 cores, behind the server's reads
    os.setpriority(os.PRIO_PROCESS, process.pid, RECEIVER_NICE)
    with connection():
        _, secret = streams.create_stream('readers', receiver_url, None, EventFilter(), 'bench', since=EVERYTHING)
        (receiver / 'secret').write_text(secret)
    searches = {'failed': EventFilter(search='failed'), 'notebook': EventFilter(search='notebook')}
    quiet, longest = stream_delivery.READERS_QUIET_SECONDS, stream_delivery.READERS_LONGEST_SECONDS
    # each catch-up condition: its deliverer, and for threads (READERS_QUIET_SECONDS, READERS_LONGEST_SECONDS);
    # a longest wait of 0 does not yield
    deliverers: dict[str, tuple[Any, tuple[float, float]]] = {
        'process, idle (the server\'s)': (DeliveryProcess(url), (quiet, longest)),
        f'process, nice {NICE}': (NicedProcess(url, idle=False), (quiet, longest)),
        f'threads, yielding ({quiet} s quiet)': (stream_delivery.Deliverer('bench-readers'), (quiet, longest)),
        'threads, not yielding': (stream_delivery.Deliverer('bench-readers'), (quiet, 0.0)),
    }
    conditions = ('quiet', *deliverers)
    samples: dict[tuple[str, str], list[float]] = {(c, n): [] for c in conditions for n in searches}
    delivered: dict[str, list[float]] = {c: [] for c in conditions[1:]}
    defaults = quiet, longest
    print(f'readers: {events:,} events, SQLite map {map_mib} MiB; {rounds} turns of {reads} reads of each search '
          f'{gap} s apart per condition, conditions alternated', flush=True)
    with connection():
        for flt in searches.values():  # warm, as a page that served these searches before
            find_events(Viewer.organization(), flt, limit=50)
    try:
        for turn in range(rounds):
            for condition in conditions[turn % len(conditions):] + conditions[:turn % len(conditions)]:
                with connection():
                    if condition != 'quiet':
                        deliverer, waits = deliverers[condition]
                        stream_delivery.READERS_QUIET_SECONDS, stream_delivery.READERS_LONGEST_SECONDS = waits
                        if head()[0] - streams.get_stream('readers').position < 500_000:
                            streams.replay_stream('readers', EVERYTHING, 'bench')
                        first = streams.get_stream('readers').position
                        deliverer.start()
                        while streams.get_stream('readers').position < first + 5 * stream_delivery.BATCH:
                            time.sleep(0.05)  # delivering
                        began, first = time.perf_counter(), streams.get_stream('readers').position
                    for _ in range(reads):
                        for name, flt in searches.items():
                            time.sleep(gap)
                            counts._kept.clear()  # the first load: the total counted afresh
                            started = time.perf_counter()
                            find_events(Viewer.organization(), flt, limit=50)
                            samples[condition, name].append((time.perf_counter() - started) * 1000)
                    if condition != 'quiet':
                        moved = streams.get_stream('readers').position - first
                        delivered[condition].append(moved / (time.perf_counter() - began))
                        deliverer.stop()
    finally:
        for deliverer, _ in deliverers.values():
            deliverer.stop()
        stream_delivery.READERS_QUIET_SECONDS, stream_delivery.READERS_LONGEST_SECONDS = defaults
        stop_receiver(process, receiver)
    for name in searches:
        for condition in conditions:
            p50, p95 = p50_p95(samples[condition, name])
            rate = delivered.get(condition)
            extra = f'; delivering {sorted(rate)[len(rate) // 2]:,.0f} events/s (median of turns)' if rate else ''
            print(f"  search '{name}', {condition:<32} p50 {p50:5.0f} ms  p95 {p95:5.0f} ms  "
                  f'({len(samples[condition, name])} reads){extra}', flush=True)
    close_database()


def latency(seconds: int, rate: int, folder: Path) -> None:
    from store.engine.db import connection
    from store.lifecycle.opening import close_database, open_database
    from store.people.tokens import create_token
    from store.read.events import EventFilter
    from store.streams.registry import create_stream
    from tests.browser.conftest import start_server, stop_server

    url = f'sqlite:///{folder / "live.db"}'
    open_database(url)
    process, hook, receiver = start_receiver(folder / 'live')
    with connection():
        token = create_token('bench', None, 'bench')
        _, secret = create_stream('live', hook, None, EventFilter(scope='Service'), 'bench')
        (receiver / 'secret').write_text(secret)
    close_database()
    server = start_server(url, folder / 'server.log')
    created: dict[str, float] = {}
    batch = max(1, rate // 10)
    try:
        with httpx.Client(base_url=server.url, headers={'Authorization': f'Bearer {token}'}) as client:
            begin = time.perf_counter()
            for tick in range(seconds * 10):
                ids = [f'live-{tick}-{i}' for i in range(batch)]
                body = {'events': [{'id': i, 'user': 'bench@acme.io', 'scope': 'Service', 'category': 'AI Notebook',
                                    'action': 'Start Notebook', 'target': i, 'description': 'bench'} for i in ids]}
                answer = client.post('/api/v1/events', json=body)
                now = time.time()
                answer.raise_for_status()
                created.update((i, now) for i in ids)
                pause = begin + (tick + 1) / 10 - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
        time.sleep(5)
    finally:
        stop_server(server)
    arrivals = stop_receiver(process, receiver)
    delays = [(arrivals[i] - t) * 1000 for i, t in created.items() if i in arrivals]
    p50, p95 = p50_p95(delays)
    print(f'latency at {rate:,} events/s for {seconds} s: {len(delays):,} of {len(created):,} events arrived; '
          f'201 → receiver p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(delays):.0f} ms')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--events', type=int, default=1_000_000)
    parser.add_argument('--latency-seconds', type=int, default=20)
    parser.add_argument('--rate', type=int, default=1000)
    parser.add_argument('--readers', action='store_true', help='the page\'s reads quiet and during a catch-up')
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--reads', type=int, default=5)
    parser.add_argument('--gap', type=float, default=0.5)
    parser.add_argument('--receiver', nargs=3, metavar=('PORT_FILE', 'SECRET_FILE', 'LOG'))
    args = parser.parse_args()
    if args.receiver:
        receive(*args.receiver)
        return
    if args.readers:
        with tempfile.TemporaryDirectory() as folder:
            readers(args.events, args.rounds, args.reads, args.gap, Path(folder))
        return
    with tempfile.TemporaryDirectory() as folder:
        throughput(args.events, Path(folder))
        latency(args.latency_seconds, args.rate, Path(folder))


if __name__ == '__main__':
    main()
