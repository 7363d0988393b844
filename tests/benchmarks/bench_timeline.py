"""The timeline beside the table at 1,000,000 events: for each filter, the timeline's buckets against the table's
exact total (`count_events`) and its first page with that total (`find_events`), plus the Workspaces and Policies
pages' reads and the User list. Measures and prints; it asserts only that the bars add up to the total.

Run: `.venv/bin/python -m tests.benchmarks.bench_timeline [--runs R]` (seeds $AUDIT_BENCH_DB once, like
bench_store).
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from datetime import timedelta

from store.engine.db import connection
from store.engine.timefmt import from_millis
from store.read import counts
from store.read.events import EventFilter, Viewer, count_events, find_events, visible_users
from store.read.insight import policy_summaries, timeline, workspace_activity
from tests.benchmarks.common import bench_database, open_as_server, p50_p95, timed

ORG = Viewer.organization()
ADMIN = Viewer.of_workspaces('bench-admin', {'research'})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--events', type=int, default=1_000_000)
    parser.add_argument('--runs', type=int, default=10)
    args = parser.parse_args()
    url = bench_database(args.events)
    open_as_server(url)
    con = sqlite3.connect(url.removeprefix('sqlite:///'))
    newest = con.execute('SELECT max(ts) FROM event').fetchone()[0]
    total = con.execute('SELECT count(*) FROM event').fetchone()[0]
    con.close()
    now = from_millis(newest + 60_000)  # as if the page opened a minute after the newest event

    def since(**delta: float):
        return now - timedelta(**delta)

    filters = [
        ('all time', ORG, EventFilter()),
        ('scope Service', ORG, EventFilter(scope='Service')),
        ('status FAILED', ORG, EventFilter(status='FAILED')),
        ('last 30 days', ORG, EventFilter(since=since(days=30))),
        ('last 7 days', ORG, EventFilter(since=since(days=7))),
        ('last 24 hours', ORG, EventFilter(since=since(hours=24))),
        ('last hour', ORG, EventFilter(since=since(hours=1))),
        ('custom 3 days', ORG, EventFilter(since=since(days=5), until=since(days=2))),
        ('admin, all time', ADMIN, EventFilter()),
        ('admin, last 24 hours', ADMIN, EventFilter(since=since(hours=24))),
        ("search 'notebook'", ORG, EventFilter(search='notebook')),
        ("search 'gpu' + 7 days", ORG, EventFilter(search='gpu', since=since(days=7))),
        ('user', ORG, EventFilter(user='alice@acme.io')),
        ('user + 24 hours', ORG, EventFilter(user='alice@acme.io', since=since(hours=24))),
    ]
    print(f'\n{total:,} events; {args.runs} runs each, warm cache; milliseconds (p50 / p95). "Cold": nothing kept '
          'from an earlier call (counts are kept per view and brought up to date after).\n')
    print('| filter | bars | total, cold | timeline, cold | page + total, cold | page + total + timeline, cold '
          '| timeline, kept |')
    print('|---|---|---:|---:|---:|---:|---:|')
    at = int(now.timestamp() * 1000)
    counts.now_millis = lambda: at  # the clock of the totals too, as in a page opened at `now`

    def cold(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            counts._kept.clear()
            return fn()
        return run

    with connection():
        for name, viewer, flt in filters:
            result = timeline(viewer, flt, now=at)
            assert result.total == count_events(viewer, flt) == count_events(viewer, flt, now=at), name
            figures = [p50_p95(timed(fn, args.runs)) for fn in (
                cold(lambda v=viewer, f=flt: count_events(v, f)),
                cold(lambda v=viewer, f=flt: timeline(v, f, now=at)),
                cold(lambda v=viewer, f=flt: find_events(v, f)),
                cold(lambda v=viewer, f=flt: (find_events(v, f), timeline(v, f, now=at))),
                lambda v=viewer, f=flt: timeline(v, f, now=at))]
            print(f'| {name} | {len(result.buckets)} x {result.unit.name} | '
                  + ' | '.join(f'{p50:.1f} / {p95:.1f}' for p50, p95 in figures) + ' |', flush=True)
        print('\n| other read | p50 | p95 |\n|---|---:|---:|')
        for name, fn in (('Workspaces page (7 days per workspace)', lambda: workspace_activity(ORG, since(days=7))),
                         ('Policies page', lambda: policy_summaries(ORG)),
                         ('User list, no filter', lambda: visible_users(ORG, EventFilter())),
                         ('User list, admin', lambda: visible_users(ADMIN, EventFilter()))):
            p50, p95 = p50_p95(timed(fn, args.runs))
            print(f'| {name} | {p50:.1f} | {p95:.1f} |', flush=True)


if __name__ == '__main__':
    main()
