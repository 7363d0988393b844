"""Seeding a large store through the command line: time, disk at the peak, and the first open afterwards.

`main.py seed --events N` runs in a process of its own on a fresh file; the sizes of the database, its
write-ahead log and the search index's file (with its log) are sampled every 0.2 s, so the peak is what a
disk must hold. Then a second process opens the store as a server would, and its time and any warning it
logs (an indexing error, say) are reported. `--part` loads in transactions of that many events instead of
store/write/bulk.py's PART, for comparisons.

    python -m tests.benchmarks.bench_seed --events 10000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.benchmarks.common import ROOT

SUFFIXES = ('', '-wal', '-shm', '.search', '.search-wal', '.search-shm')
SEED = """import sys
import main
from store.write import bulk
if {part}:
    bulk.PART = {part}
sys.exit(main.main(['--db', 'sqlite:///{path}', 'seed', '--events', '{events}', '--seed', '1']))
"""
OPEN = """import logging, sys, time
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from store.lifecycle.opening import close_database, open_database
started = time.perf_counter()
open_database('sqlite:///{path}')
print(f'{{time.perf_counter() - started:.2f}}')
close_database()
"""


def sizes(path: Path) -> dict[str, int]:
    found = {}
    for suffix in SUFFIXES:
        try:
            found[suffix or '.db'] = Path(f'{path}{suffix}').stat().st_size
        except FileNotFoundError:
            pass
    return found


def watch(path: Path, stop: threading.Event, peak: dict) -> None:
    while not stop.wait(0.2):
        now = sizes(path)
        if sum(now.values()) > sum(peak.values()):
            peak.clear()
            peak.update(now)


def gb(n: int) -> str:
    return f'{n / 1e9:.2f} GB'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--events', type=int, default=2_000_000)
    parser.add_argument('--path', default='/tmp/audit-logs-seed-bench.db')
    parser.add_argument('--part', type=int, default=0, help='events per transaction (default: bulk.PART)')
    args = parser.parse_args()
    path = Path(args.path)
    for suffix in SUFFIXES:
        Path(f'{path}{suffix}').unlink(missing_ok=True)

    peak: dict[str, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(path, stop, peak), daemon=True)
    watcher.start()
    started = time.perf_counter()
    seeded = subprocess.run([sys.executable, '-c', SEED.format(part=args.part, path=path, events=args.events)],
                            cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    stop.set()
    watcher.join()
    if seeded.returncode != 0:
        sys.exit(f'seed failed: {seeded.stderr.strip()}')
    final = sizes(path)
    opened = subprocess.run([sys.executable, '-c', OPEN.format(path=path)], cwd=ROOT, capture_output=True, text=True)
    after_open = sizes(path)

    database = final['.db']
    with_index = after_open.get('.db', 0) + after_open.get('.search', 0)
    print(f'seeded {args.events:,} events in {seconds:.0f} s ({args.events / seconds:,.0f} events/s), '
          f'part {args.part or "bulk.PART"}')
    print(f'peak on disk: {gb(sum(peak.values()))} ({", ".join(f"{k} {gb(v)}" for k, v in peak.items())})')
    print(f'final: {", ".join(f"{k} {gb(v)}" for k, v in final.items())}')
    print(f'peak / database file: {sum(peak.values()) / database:.2f}x; '
          f'peak / database and search index after the first open: {sum(peak.values()) / with_index:.2f}x')
    print(f'first open: {opened.stdout.strip() or "failed"} s, exit {opened.returncode}; '
          f'warnings: {opened.stderr.strip() or "none"}')


if __name__ == '__main__':
    main()
