"""Events per second through POST /api/v1/events in 1,000-event batches, on loopback, hash chain included.

Starts `python main.py serve` on a fresh SQLite file, as a user runs it, and posts pre-encoded batches
from client threads (keep-alive connections). Measures and prints; asserts nothing but correctness.

    .venv/bin/python -m tests.benchmarks.bench_ingest [--events 100000] [--clients 1 2 4]
    .venv/bin/python -m tests.benchmarks.bench_ingest --base /tmp/audit-logs-bench-1m.db   # onto 1M events

Two kinds of traffic, each run by default: `live`, events stamped as they happen (the last minutes, as a
team's systems send them), and `backfill`, history spread over the last 90 days, which lands among the
stored events in every time-ordered index.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from store.derived import search_file
from store.engine.db import connection
from store.engine.pools import empty_log
from store.engine.timefmt import iso
from store.ledger.chain import verify
from store.lifecycle.opening import close_database, open_database
from store.people.tokens import create_token
from store.read.events import EventFilter, Viewer, count_events
from store.write.seed import demo_events
from tests.browser.conftest import start_server, stop_server

BATCH = 1000
SPANS = {'live': 0.01, 'backfill': 90}  # days the events' timestamps spread over, ending now


def bodies(total: int, tag: str, days: float = SPANS['backfill']) -> list[bytes]:
    """Realistic demo events as JSON request bodies of BATCH events, with fixed ids."""
    out, batch = [], []
    for n, ev in enumerate(demo_events(total, seed=7, days=days)):
        batch.append({'id': f'{tag}-{n}', 'timestamp': iso(ev.timestamp), 'user': ev.user, 'scope': ev.scope,
                      'category': ev.category, 'action': ev.action, 'target': ev.target, 'status': ev.status,
                      'description': ev.description, 'workspace': ev.workspace, 'metadata': ev.metadata})
        if len(batch) == BATCH:
            out.append(json.dumps({'events': batch}).encode())
            batch = []
    if batch:
        out.append(json.dumps({'events': batch}).encode())
    return out


def post_all(url: str, token: str, payloads: list[bytes], clients: int) -> float:
    queue = list(reversed(payloads))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=60,
                          headers={'Authorization': f'Bearer {token}', 'Content-Type': 'application/json'}) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                response = http.post('/api/v1/events', content=body)
                if response.status_code != 201:
                    errors.append(f'{response.status_code} {response.text[:200]}')
                    return

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f'requests failed: {errors[:3]}')
    return elapsed


@contextmanager
def connection_to(path: Path) -> Iterator[None]:
    open_database(f'sqlite:///{path}')
    try:
        with connection():
            empty_log()
            yield
    finally:
        close_database()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run(events: int, clients: int, workdir: Path, base: Path | None = None, traffic: str = 'backfill') -> None:
    path = workdir / f'bench-{traffic}-{clients}.db'  # a URL of its own: open_database keeps the last one open
    if base is not None:  # start from a copy of a full store, e.g. the 1M-event benchmark database
        with connection_to(base):
            pass  # brings it to this release's schema before copying
        shutil.copyfile(base, path)
        shutil.copyfile(search_file.path_for(base), search_file.path_for(path))
    url = f'sqlite:///{path}'
    open_database(url)
    with connection():
        token = create_token('benchmark', None, 'benchmark')
    close_database()
    payloads = bodies(events, f'c{clients}', SPANS[traffic])
    size = sum(len(p) for p in payloads) / len(payloads)
    server = start_server(url, workdir / f'server-{clients}.log')
    try:
        post_all(server.url, token, bodies(2 * BATCH, 'warm'), 1)  # warm-up: imports, first connections
        load_before, cpu_before = os.getloadavg()[0], cpu_seconds(server.process.pid)
        clients_before = cpu_seconds(os.getpid())
        elapsed = post_all(server.url, token, payloads, clients)
        server_cpu = cpu_seconds(server.process.pid) - cpu_before
        clients_cpu = cpu_seconds(os.getpid()) - clients_before
        behind, caught_up = index_lag(path)
    finally:
        stop_server(server)
    open_database(url)
    with connection():
        stored = count_events(Viewer.organization(), EventFilter())
        started = time.perf_counter()
        report = verify()
        verify_seconds = time.perf_counter() - started
    close_database()
    print(f'{traffic}, {clients} client(s): {events:,} events in {len(payloads)} batches of {BATCH:,} '
          f'(~{size / 1024:.0f} KiB each) in {elapsed:.2f} s = {events / elapsed:,.0f} events/s; '
          f'server CPU {server_cpu / events * 1e6:.0f} ms per 1,000 events ({server_cpu / elapsed:.0%} of a core), '
          f'the clients {clients_cpu / elapsed:.0%}; search index {behind:,} events behind at the last answer, '
          f'caught up {caught_up:.2f} s later; load average before {load_before:.2f}; stored {stored:,}; '
          f'{report.summary().split(";")[0]} (verify {verify_seconds:.1f} s)')


def index_lag(path: Path) -> tuple[int, float]:
    """How many events the server's search index (store/derived/search_file.py) had yet to index, and the seconds
    until it held them all; read from another connection, as the test of the tail would see it."""
    con = sqlite3.connect(path)
    con.execute('ATTACH DATABASE ? AS search', (str(search_file.path_for(path)),))
    started = time.perf_counter()
    query = 'SELECT (SELECT max(seq) FROM event) - (SELECT max(seq) FROM search.search_progress)'
    behind = remaining = con.execute(query).fetchone()[0]
    while remaining > 0 and time.perf_counter() - started < 120:
        time.sleep(0.005)
        remaining = con.execute(query).fetchone()[0]
    con.close()
    return behind, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--events', type=int, default=100_000)
    parser.add_argument('--clients', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--base', type=Path, default=None,
                        help='start each run from a copy of this SQLite file instead of an empty store')
    parser.add_argument('--traffic', choices=SPANS, nargs='+', default=list(SPANS),
                        help='live: timestamps of the last minutes; backfill: spread over the last 90 days')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.base.parent if args.base else None) as tmp:
        for traffic in args.traffic:
            for clients in args.clients:
                run(args.events, clients, Path(tmp), args.base, traffic)
                for suffix in ('', '-wal', '-shm'):
                    (Path(tmp) / f'bench-{traffic}-{clients}.db{suffix}').unlink(missing_ok=True)


if __name__ == '__main__':
    main()
