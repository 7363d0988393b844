"""Shared by the benchmarks: a reusable 1M-event database and percentile figures."""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = '/tmp/audit-logs-bench-{size}.db'  # 1m, 10m, ...


def bench_database(events: int = 1_000_000, path: str | None = None) -> str:
    """The URL of a database with at least `events` demo events (seed 1), seeded once and then reused."""
    size = f'{events // 1_000_000}m' if events >= 1_000_000 else f'{events // 1000}k'
    path = path or os.environ.get('AUDIT_BENCH_DB', DEFAULT_PATH.format(size=size))
    have = 0
    if Path(path).exists():
        con = sqlite3.connect(path)
        try:
            have = con.execute('SELECT count(*) FROM event').fetchone()[0]
        except sqlite3.DatabaseError:
            have = 0
        con.close()
    if have < events:
        print(f'seeding {events - have:,} events into {path} …', flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, 'main.py', '--db', f'sqlite:///{path}', 'seed', '--events',
                        str(events - have), '--seed', str(1 + have)], cwd=ROOT, check=True)
        print(f'seeded in {time.perf_counter() - started:.1f} s', flush=True)
    return f'sqlite:///{path}'


def open_as_server(url: str) -> int:
    """Open `url` as `main.py serve` does (the memory map of AUDIT_SQLITE_MAP_MIB, the events' days read
    ahead, waited for here); the MiB mapped."""
    from store.derived import event_days
    from store.engine import settings
    from store.engine.db import connection
    from store.lifecycle.opening import open_database

    map_mib = int(settings.SQLITE_MAP_MIB.value())
    open_database(url, map_mib=map_mib)
    with connection():
        event_days.read_ahead().result()
    return map_mib


def timed(fn: Callable[[], object], runs: int, warmup: int = 2) -> list[float]:
    """Milliseconds of `runs` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
