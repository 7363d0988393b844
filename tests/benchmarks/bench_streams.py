"""Stream delivery figures: throughput from a backlog to a loopback webhook, and latency under live ingestion.

    .venv/bin/python -m tests.benchmarks.bench_streams [--events N] [--latency-seconds S] [--rate R]

Throughput: a copy of the benchmark database (tests/benchmarks/common.py, N events), a stream replaying all of it
to a receiver in another process (which checks each signature), timed until the stream's position reaches the
newest event. Latency: `main.py serve` on a fresh database, a client POSTing R events/s through the API for S
seconds, and for each event the time from the API's 201 to the receiver's arrival (the same machine's clock).
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

import httpx

from tests.benchmarks.common import ROOT, bench_database, p50_p95


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
            if good:
                ids = [e['id'] for e in json.loads(body)['events']]
                with lock:
                    arrivals.extend((now, i) for i in ids)
            self.send_response(200 if good else 401)
            self.send_header('Content-Length', '0')
            self.end_headers()

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)

    def finish(*_: object) -> None:
        with open(log_file, 'w') as out:
            out.writelines(f'{t:.6f} {i}\n' for t, i in arrivals)
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def start_receiver(folder: Path) -> tuple[subprocess.Popen, str, Path]:
    """The receiver process, its URL, and the file to write the stream's secret to."""
    folder.mkdir(exist_ok=True)
    port_file, log_file = folder / 'port', folder / 'arrivals.txt'
    process = subprocess.Popen([sys.executable, '-m', 'tests.benchmarks.bench_streams', '--receiver', str(port_file),
                                str(folder / 'secret'), str(log_file)], cwd=ROOT)
    while not port_file.exists() or not port_file.read_text():
        time.sleep(0.05)
    return process, f'http://127.0.0.1:{port_file.read_text()}/hook', folder


def stop_receiver(process: subprocess.Popen, folder: Path) -> dict[str, float]:
    process.terminate()
    process.wait(30)
    log_file = folder / 'arrivals.txt'
    arrivals: dict[str, float] = {}
    for line in log_file.read_text().splitlines():
        moment, event_id = line.split(' ', 1)
        arrivals.setdefault(event_id, float(moment))
    return arrivals


def throughput(events: int, folder: Path) -> None:
    from store.engine.db import connection
    from store.ledger.chain import head
    from store.lifecycle.opening import close_database, open_database
    from store.read.events import EventFilter
    from store.streams import registry as streams
    from store.streams.delivery import Deliverer

    source = bench_database(events).removeprefix('sqlite:///')
    copy = folder / 'streams.db'
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    open_database(f'sqlite:///{copy}')
    process, url, receiver = start_receiver(folder / 'backlog')
    with connection():
        _, secret = streams.create_stream('bench', url, None, EventFilter(), 'bench',
                                          since=datetime(1970, 1, 2, tzinfo=UTC))
        (receiver / 'secret').write_text(secret)
        last = head()[0]
    deliverer = Deliverer('bench')
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
    parser.add_argument('--receiver', nargs=3, metavar=('PORT_FILE', 'SECRET_FILE', 'LOG'))
    args = parser.parse_args()
    if args.receiver:
        receive(*args.receiver)
        return
    with tempfile.TemporaryDirectory() as folder:
        throughput(args.events, Path(folder))
        latency(args.latency_seconds, args.rate, Path(folder))


if __name__ == '__main__':
    main()
