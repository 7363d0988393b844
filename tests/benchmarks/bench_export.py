"""Benchmark (not a test): exporting 100,000 and 1,000,000 events to .xlsx and .csv.

    .venv/bin/python -m tests.benchmarks.bench_export [--runs 3] [--skip-1m] [--compare]

Seeds `$AUDIT_EXPORT_BENCH_DIR` (default /tmp) with audit-export-bench-100k.db and -1m.db by
`python main.py --db sqlite:///PATH seed --events N --seed 1` unless they exist. Each export runs in a
fresh Python process, as `python main.py export` would: it prints wall and CPU time, the process's peak
RSS (getrusage), its RSS once the modules are imported and the database is open (the baseline), and the
file size. Every export appends its own record, so later runs export a few more rows than N.
`--compare` also times a plain `DataFrame.to_excel` (XlsxWriter engine, one DataFrame) of the 100k rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDER = Path(os.environ.get('AUDIT_EXPORT_BENCH_DIR', '/tmp'))


def database(events: int) -> Path:
    path = FOLDER / f'audit-export-bench-{events // 1000}k.db'
    if not path.exists():
        print(f'Seeding {events:,} events into {path}…', flush=True)
        subprocess.run([sys.executable, 'main.py', '--db', f'sqlite:///{path}', 'seed', '--events', str(events),
                        '--seed', '1'], cwd=ROOT, check=True)
    con = sqlite3.connect(path)
    con.execute('PRAGMA wal_checkpoint(TRUNCATE)')  # a seed's large WAL would otherwise inflate the first run
    con.close()
    return path


def rss_mib() -> float:
    with open('/proc/self/status') as status:
        return int(status.read().split('VmRSS:')[1].split()[0]) / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one(db: str, target: str, compare: bool) -> None:
    """Runs in the child process: one export, its figures as JSON on stdout."""
    from store.engine.db import connection
    from store.engine.timefmt import zone
    from store.lifecycle.opening import open_database
    from store.read.events import EventFilter, Sort, Viewer, iter_events
    from store.read.export import export_to_file

    open_database(f'sqlite:///{db}')
    with connection():
        baseline = rss_mib()
        started, cpu = time.perf_counter(), cpu_seconds()
        if compare:
            import pandas as pd
            frame = pd.DataFrame.from_records(list(iter_events(Viewer.organization(), EventFilter(), Sort())))
            frame['timestamp'] = frame['timestamp'].dt.tz_localize(None)
            frame = frame[['timestamp', 'user', 'scope', 'category', 'action', 'target', 'status', 'description']]
            frame.to_excel(target, index=False, engine='xlsxwriter')
            rows = len(frame)
        else:
            rows = export_to_file(Path(target), Viewer.organization('benchmark'), EventFilter(), Sort(), 'benchmark',
                                  tz=zone('Europe/Berlin'))
        figures = {'rows': rows, 'seconds': time.perf_counter() - started, 'cpu': cpu_seconds() - cpu,
                   'baseline_mib': baseline, 'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   'bytes': Path(target).stat().st_size}
    print(json.dumps(figures))


def measure(db: Path, suffix: str, runs: int, compare: bool = False) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):
            args = [sys.executable, '-m', 'tests.benchmarks.bench_export', '--one', str(db), f'{folder}/out{suffix}']
            output = subprocess.run(args + (['--compare'] if compare else []), cwd=ROOT, check=True,
                                    capture_output=True, text=True).stdout
            results.append(json.loads(output.strip().splitlines()[-1]))
    return results


def report(label: str, results: list[dict]) -> None:
    seconds = [r['seconds'] for r in results]
    cpu = [r['cpu'] for r in results]
    peak = [r['peak_mib'] for r in results]
    base = [r['baseline_mib'] for r in results]
    print(f'{label:<34} rows {results[-1]["rows"]:>9,}  wall min {min(seconds):6.2f} s median '
          f'{statistics.median(seconds):6.2f} s  cpu median {statistics.median(cpu):6.2f} s  '
          f'peak RSS max {max(peak):5.0f} MiB (baseline {statistics.median(base):3.0f}, export '
          f'+{max(p - b for p, b in zip(peak, base, strict=True)):3.0f})  file {results[-1]["bytes"] / 2**20:6.1f} MiB',
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--skip-1m', action='store_true')
    parser.add_argument('--compare', action='store_true')
    parser.add_argument('--one', nargs=2, metavar=('DB', 'TARGET'), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(*args.one, compare=args.compare)
        return
    print(f'{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other work on the machine slows wall time)')
    small = database(100_000)
    report('100k -> .xlsx', measure(small, '.xlsx', args.runs))
    report('100k -> .csv', measure(small, '.csv', args.runs))
    if args.compare:
        report('100k -> .xlsx, DataFrame.to_excel', measure(small, '.xlsx', 1, compare=True))
    if not args.skip_1m:
        large = database(1_000_000)
        report('1M -> .xlsx', measure(large, '.xlsx', 1))
        report('1M -> .csv', measure(large, '.csv', 1))
    print(f'load average afterwards {os.getloadavg()[0]:.2f}')


if __name__ == '__main__':
    main()
