"""The API through HTTP: `GET /api/v1/events` on a real server, as an integration calls it.

A server (`main.py serve`) on the 1M-event benchmark database (seeded once, see common.py); for each view,
with an organization token and a workspace token: the first page with its exact total, and the next cursor
page. p50/p95 over the runs, keep-alive connection, warm cache, milliseconds.

    python -m tests.benchmarks.bench_api [--runs 20] [--postgres URL] [--root DIR]

`--root` serves another checkout's code on the same database (an earlier release, for side-by-side runs).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.benchmarks.common import ROOT, bench_database, p50_p95
from tests.browser.conftest import free_port

LIMIT = 50
VIEWS: list[tuple[str, dict[str, str]]] = [
    ('no filter', {}),
    ('scope + category', {'scope': 'Service', 'category': 'AI Notebook'}),
    ('status FAILED', {'status': 'FAILED'}),
    ('user', {'user': 'alice@acme.io'}),
    ('last 7 days', {'since': '-7d'}),
    ('search service', {'search': 'service'}),
    ('search notebook', {'search': 'notebook'}),
    ('search failed', {'search': 'failed'}),
    ('search policy', {'search': 'policy'}),
    ('search credit', {'search': 'credit'}),
    ('search nb-', {'search': 'nb-'}),
    ("search 2 characters 'h1'", {'search': 'h1'}),
    ("search 2 characters, rare 'ak'", {'search': 'ak'}),
    ('search acme', {'search': 'acme'}),
]


def serve(url: str, root: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, 'AUDIT_SESSION_SECRET': 'bench'}
    process = subprocess.Popen([sys.executable, 'main.py', '--db', url, 'serve', '--port', str(port)], cwd=root,
                               env=env, stdout=log.open('w'), stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f'the server exited:\n{log.read_text()}')
        try:
            httpx.get(f'{base}/login', timeout=2)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit('the server did not answer within 300 s')


def token(url: str, root: Path, workspace: str | None) -> str:
    args = ['--workspace', workspace] if workspace else []
    out = subprocess.run([sys.executable, 'main.py', '--db', url, 'create-token', f'bench-{workspace or "org"}', *args],
                         cwd=root, check=True, capture_output=True, text=True).stdout
    return next(word for word in out.split() if word.startswith('al_'))


def params_of(view: dict[str, str]) -> dict[str, str]:
    if view.get('since') == '-7d':
        since = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 7 * 86400))
        return {**view, 'since': since}
    return view


def measure(client: httpx.Client, base: str, secret: str, view: dict[str, str], runs: int) -> tuple[list, list]:
    headers = {'Authorization': f'Bearer {secret}'}
    first, following = [], []
    for n in range(runs + 2):
        started = time.perf_counter()
        response = client.get(f'{base}/api/v1/events', params={**params_of(view), 'limit': LIMIT}, headers=headers)
        took = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        cursor = response.json()['next_cursor']
        if n >= 2:  # two warm-up rounds
            first.append(took)
        if cursor is None:  # a view of one page (a rare term) has no next page to time
            continue
        started = time.perf_counter()
        client.get(f'{base}/api/v1/events', params={**params_of(view), 'limit': LIMIT, 'cursor': cursor},
                   headers=headers).raise_for_status()
        if n >= 2:
            following.append((time.perf_counter() - started) * 1000)
    return first, following


def fmt(samples: list[float]) -> str:
    if not samples:
        return '– | –'
    p50, p95 = p50_p95(samples)
    return f'{p50:.1f} | {p95:.1f}'


def rare_term(url: str) -> str:
    """The rare term bench_store searches: the first container's name."""
    con = sqlite3.connect(url.removeprefix('sqlite:///'))
    try:
        return con.execute('SELECT target FROM event WHERE target LIKE ? LIMIT 1', ('ctr-%',)).fetchone()[0]
    finally:
        con.close()


def bench(url: str, root: Path, runs: int, label: str, views: list[tuple[str, dict[str, str]]]) -> None:
    log = Path('/tmp') / f'bench-api-{os.getpid()}.log'
    process, base = serve(url, root, log)
    try:
        tokens = {'organization': token(url, root, None), 'workspace research': token(url, root, 'research')}
        print(f'\n{label}: GET /api/v1/events?limit={LIMIT} through HTTP, {runs} runs each; ms, p50 | p95\n')
        print('| view | token | first page + total p50 | p95 | next cursor page p50 | p95 |')
        print('|---|---|---:|---:|---:|---:|')
        with httpx.Client(timeout=120) as client:
            for name, view in views:
                for who, secret in tokens.items():
                    first, following = measure(client, base, secret, view, runs)
                    print(f'| {name} | {who} | {fmt(first)} | {fmt(following)} |', flush=True)
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--events', type=int, default=1_000_000)
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--root', type=Path, default=ROOT, help='the checkout whose code serves (default: this one)')
    parser.add_argument('--postgres', metavar='URL', default=None,
                        help='also on this PostgreSQL database (copied from the SQLite one by migrate-db when empty)')
    args = parser.parse_args()
    url = bench_database(args.events)
    rare = rare_term(url)
    views = [*VIEWS, (f'search rare term {rare!r}', {'search': rare})]
    bench(url, args.root, args.runs, f'SQLite, {args.events:,} events', views)
    if args.postgres:
        from store.engine.db import connection, database
        from store.lifecycle.migrate import migrate
        from store.lifecycle.opening import close_database, open_database

        open_database(args.postgres)
        with connection():
            have = database.execute_sql('SELECT count(*) FROM event').fetchone()[0]
        if not have:
            close_database()
            migrate(url, args.postgres)  # vacuums and analyzes the copy
        close_database()
        bench(args.postgres, args.root, args.runs, f'PostgreSQL, {args.events:,} events', views)


if __name__ == '__main__':
    main()
