"""The scale benchmark: every kind of read through the store's one query function at 1,000,000 events,
each beside hand-written raw SQL for the same answer in the same process, plus file and index sizes.

Run: `make bench` (or `.venv/bin/python -m tests.benchmarks.bench_store [--events N] [--runs R] [--only TEXT]`).
It seeds (once) a demo database at $AUDIT_BENCH_DB (default /tmp/audit-logs-bench-1m.db).
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from store.derived import search_file
from store.engine.db import connection
from store.engine.timefmt import from_millis
from store.lifecycle.opening import open_database
from store.read import counts
from store.read.events import EventFilter, Sort, Viewer, find_events
from store.read.insight import timeline
from tests.benchmarks.common import bench_database, open_as_server, p50_p95, timed

PAGE = 50
ORG = Viewer.organization()


@dataclass
class Case:
    group: str
    name: str
    store: Callable[[], object]
    raw: Callable[[], object]


def raw_runner(con: sqlite3.Connection, page_sql: str, count_sql: str | None, params: tuple) -> Callable[[], object]:
    def run() -> object:
        rows = con.execute(page_sql, params).fetchall()
        total = con.execute(count_sql, params).fetchone()[0] if count_sql else None
        return rows, total
    return run


def store_runner(viewer: Viewer, flt: EventFilter, sort: Sort = Sort(), offset: int = 0,
                 warm: bool = False) -> Callable[[], object]:
    """Each call as the first of its kind (no count kept from an earlier call), unless `warm`."""
    def run() -> object:
        if not warm:
            counts._kept.clear()
        return find_events(viewer, flt, sort, offset=offset, limit=PAGE)
    return run


def cases(con: sqlite3.Connection) -> list[Case]:
    newest = con.execute('SELECT max(ts) FROM event').fetchone()[0]
    week_ago = newest - 7 * 86_400_000
    rare = con.execute('SELECT target FROM event WHERE target LIKE ? LIMIT 1', ('ctr-%',)).fetchone()[0]
    research = con.execute("SELECT id FROM workspace WHERE name = 'research'").fetchone()[0]
    cols = 'seq, uid, ts, actor, scope, category, action, target, status, description, workspace_id, metadata, hash'
    since = from_millis(week_ago)
    admin = Viewer.of_workspaces('bench-admin', {'research'})

    def both(group: str, name: str, viewer: Viewer, flt: EventFilter, where: str, params: tuple,
             order: str = 'ts DESC, seq DESC', sort: Sort = Sort(), offset: int = 0, warm: bool = False) -> Case:
        page_sql = f'SELECT {cols} FROM event WHERE {where} ORDER BY {order} LIMIT {PAGE} OFFSET {offset}'
        count_sql = f'SELECT count(*) FROM event WHERE {where}'
        return Case(group, name, store_runner(viewer, flt, sort, offset, warm),
                    raw_runner(con, page_sql, count_sql, params))

    fts = 'seq IN (SELECT rowid FROM search.event_search WHERE event_search MATCH ?) AND instr(search_text, ?) > 0'

    def gram(term: str) -> str:
        return ' AND '.join(f'"{term[i:i + 3]}"' for i in range(len(term) - 2))

    def middle(where: str, params: tuple) -> int:
        return con.execute(f'SELECT count(*) FROM event WHERE {where}', params).fetchone()[0] // 2

    return [
        both('filter', 'no filter', ORG, EventFilter(), '1', ()),
        both('filter', 'scope', ORG, EventFilter(scope='Service'), 'scope = ?', ('Service',)),
        both('filter', 'scope + category', ORG, EventFilter(scope='Billing', category='Payment'),
             'scope = ? AND category = ?', ('Billing', 'Payment')),
        both('filter', 'status FAILED', ORG, EventFilter(status='FAILED'), 'status = ?', ('FAILED',)),
        both('filter', 'last 7 days', ORG, EventFilter(since=since), 'ts >= ?', (week_ago,)),
        both('filter', 'scope + status + 7 days', ORG, EventFilter(scope='Service', status='FAILED', since=since),
             'scope = ? AND status = ? AND ts >= ?', ('Service', 'FAILED', week_ago)),
        both('filter', 'admin visibility', admin, EventFilter(), 'workspace_id = ?', (research,)),
        both('filter', 'admin + scope + category', admin, EventFilter(scope='Service', category='AI Notebook'),
             'workspace_id = ? AND scope = ? AND category = ?', (research, 'Service', 'AI Notebook')),
        both('filter', 'admin + 7 days', admin, EventFilter(since=since), 'workspace_id = ? AND ts >= ?',
             (research, week_ago)),
        both('search', f'rare term {rare!r}', ORG, EventFilter(search=rare), fts,
             (' AND '.join(f'"{rare[i:i + 3]}"' for i in range(len(rare) - 2)), rare)),
        both('search', "common term 'notebook'", ORG, EventFilter(search='notebook'), fts,
             ('"not" AND "ote" AND "teb" AND "ebo" AND "boo" AND "ook"', 'notebook')),
        both('search', "'notebook' again (page 2, count kept)", ORG, EventFilter(search='notebook'), fts,
             ('"not" AND "ote" AND "teb" AND "ebo" AND "boo" AND "ook"', 'notebook'), offset=50, warm=True),
        both('search', "'service', a scope (70% of events)", ORG, EventFilter(search='service'), fts,
             ('"ser" AND "erv" AND "rvi" AND "vic" AND "ice"', 'service')),
        both('search', "'alice', in no scope or category name", ORG, EventFilter(search='alice'), fts,
             ('"ali" AND "lic" AND "ice"', 'alice')),
        both('search', "'failed', only in descriptions (7% of events)", ORG, EventFilter(search='failed'), fts,
             ('"fai" AND "ail" AND "ile" AND "led"', 'failed')),
        both('search', "'nb-', only in targets and descriptions (31%)", ORG, EventFilter(search='nb-'), fts,
             ('"nb-"', 'nb-')),
        both('search', "'failed' as a Workspace Admin", admin, EventFilter(search='failed'),
             f'workspace_id = ? AND {fts}', (research, '"fai" AND "ail" AND "ile" AND "led"', 'failed')),
        both('search', "'failed' + last 7 days", ORG, EventFilter(search='failed', since=since),
             f'ts >= ? AND {fts}', (week_ago, '"fai" AND "ail" AND "ile" AND "led"', 'failed')),
        both('search', "2 characters 'h1'", ORG, EventFilter(search='h1'), 'instr(search_text, ?) > 0', ('h1',)),
        both('search', "2 characters, rare 'ak'", ORG, EventFilter(search='ak'), 'instr(search_text, ?) > 0', ('ak',)),
        both('search', "'acme', the users' mail domain (87%)", ORG, EventFilter(search='acme'),
             'instr(search_text, ?) > 0', ('acme',)),
        both('search', "2 characters 'io', in users' and scope names (88%)", ORG, EventFilter(search='io'),
             'instr(search_text, ?) > 0', ('io',)),
        both('search', "'bob', a user's name, + scope Organization", ORG,
             EventFilter(search='bob', scope='Organization'), 'scope = ? AND instr(search_text, ?) > 0',
             ('Organization', 'bob')),
        both('search', "'gpu' + scope Service", ORG, EventFilter(search='gpu', scope='Service'),
             f'scope = ? AND {fts}', ('Service', '"gpu"', 'gpu')),
        both('search', "'failed' + category Member (of two scopes)", ORG,
             EventFilter(search='failed', category='Member'), f'category = ? AND {fts}',
             ('Member', gram('failed'), 'failed')),
        both('depth', 'page 1', ORG, EventFilter(), '1', ()),
        both('depth', 'offset 10,000', ORG, EventFilter(), '1', (), offset=10_000),
        both('depth', 'offset 500,000', ORG, EventFilter(), '1', (), offset=500_000),
        both('depth', 'last page', ORG, EventFilter(), '1', (), offset=999_950),
        *[both('depth', f'middle page, {name} (count kept)', viewer, flt, where, params,
               offset=middle(where, params), warm=True)
          for name, viewer, flt, where, params in (
              ("'notebook'", ORG, EventFilter(search='notebook'), fts, (gram('notebook'), 'notebook')),
              ("'policy'", ORG, EventFilter(search='policy'), fts, (gram('policy'), 'policy')),
              ("'service'", ORG, EventFilter(search='service'), fts, (gram('service'), 'service')),
              ("'failed'", ORG, EventFilter(search='failed'), fts, (gram('failed'), 'failed')),
              ("'notebook' as a Workspace Admin", admin, EventFilter(search='notebook'),
               f'workspace_id = ? AND {fts}', (research, gram('notebook'), 'notebook')),
              ('user', ORG, EventFilter(user='alice@acme.io'), 'actor = ?', ('alice@acme.io',)))],
        # deep pages in another column's order: the sort tables' blocks, the counts per action (and user), each
        # value's own counts (a user's and a time range's target order and time range's are not placed)
        *[both('depth', f'middle page by {sort.column}{"" if sort.descending else " ascending"}, {name}', viewer,
               flt, where, params, f'{column} {direction}, ts {direction}, seq {direction}', sort,
               offset=middle(where, params))
          for name, viewer, flt, where, params, sort, column in (
              ('workspace research', ORG, EventFilter(workspace='research'), 'workspace_id = ?', (research,),
               Sort('target', False), 'target'),
              ('workspace research', ORG, EventFilter(workspace='research'), 'workspace_id = ?', (research,),
               Sort('action', True), 'action'),
              ('a Workspace Admin', admin, EventFilter(), 'workspace_id = ?', (research,),
               Sort('description', True), 'description'),
              ('no filter', ORG, EventFilter(), '1', (), Sort('user', False), 'actor'),
              ('FAILED', ORG, EventFilter(status='FAILED'), 'status = ?', ('FAILED',), Sort('scope', True),
               'scope'),
              ('user', ORG, EventFilter(user='alice@acme.io'), 'actor = ?', ('alice@acme.io',),
               Sort('action', False), 'action'),
              ('user', ORG, EventFilter(user='alice@acme.io'), 'actor = ?', ('alice@acme.io',),
               Sort('target', False), 'target'),
              ('last 7 days', ORG, EventFilter(since=since), 'ts >= ?', (week_ago,), Sort('description', True),
               'description'))
          for direction in ['DESC' if sort.descending else 'ASC']],
        both('sort', 'user', ORG, EventFilter(), '1', (), 'actor ASC, ts ASC, seq ASC', Sort('user', False)),
        both('sort', 'action', ORG, EventFilter(), '1', (), 'action ASC, ts ASC, seq ASC', Sort('action', False)),
        both('sort', 'target (sort table)', ORG, EventFilter(), '1', (), 'target ASC, ts ASC, seq ASC',
             Sort('target', False)),
        both('sort', 'target, category AI Notebook', ORG, EventFilter(scope='Service', category='AI Notebook'),
             'scope = ? AND category = ?', ('Service', 'AI Notebook'), 'target ASC, ts ASC, seq ASC',
             Sort('target', False)),
        both('sort', 'scope, descending', ORG, EventFilter(), '1', (), 'scope DESC, ts DESC, seq DESC',
             Sort('scope', True)),
        both('sort', 'description (sort table)', ORG, EventFilter(), '1', (), 'description ASC, ts ASC, seq ASC',
             Sort('description', False)),
        both('sort', "description, search 'credit'", ORG, EventFilter(search='credit'), fts,
             ('"cre" AND "red" AND "edi" AND "dit"', 'credit'), 'description DESC, ts DESC, seq DESC',
             Sort('description', True)),
        both('sort', "action, search 'credit'", ORG, EventFilter(search='credit'), fts,
             ('"cre" AND "red" AND "edi" AND "dit"', 'credit'), 'action DESC, ts DESC, seq DESC', Sort('action', True)),
        both('sort', 'description, last 7 days', ORG, EventFilter(since=since), 'ts >= ?', (week_ago,),
             'description ASC, ts ASC, seq ASC', Sort('description', False)),
        both('sort', 'action, Service / AI Notebook (by pair)', ORG,
             EventFilter(scope='Service', category='AI Notebook'), 'scope = ? AND category = ?',
             ('Service', 'AI Notebook'), 'action ASC, ts ASC, seq ASC', Sort('action', False)),
        both('sort', 'description descending, Billing / Credit (by pair)', ORG,
             EventFilter(scope='Billing', category='Credit'), 'scope = ? AND category = ?', ('Billing', 'Credit'),
             'description DESC, ts DESC, seq DESC', Sort('description', True)),
        both('sort', 'action, last 7 days (by pair and action)', ORG, EventFilter(since=since), 'ts >= ?',
             (week_ago,), 'action ASC, ts ASC, seq ASC', Sort('action', False)),
        both('sort', 'scope, workspace research (value after value)', ORG, EventFilter(workspace='research'),
             'workspace_id = ?', (research,), 'scope ASC, ts ASC, seq ASC', Sort('scope', False)),
        both('sort', 'user, failed of Billing / Credit (value after value)', ORG,
             EventFilter(scope='Billing', category='Credit', status='FAILED'),
             'scope = ? AND category = ? AND status = ?', ('Billing', 'Credit', 'FAILED'),
             'actor ASC, ts ASC, seq ASC', Sort('user', False)),
        Case('chart', 'timeline, no filter (vs GROUP BY day)', lambda: timeline(ORG, EventFilter()), raw_runner(
            con, 'SELECT ts / 86400000, status, count(*) FROM event GROUP BY 1, 2', None, ())),
    ]


def sizes(path: str) -> list[tuple[str, int]]:
    """Tables and indexes of the database and of its search index file (store/derived/search_file.py), in bytes."""
    con = sqlite3.connect(path)
    con.execute('ATTACH DATABASE ? AS search', (str(search_file.path_for(path)),))
    rows = con.execute("SELECT name, sum(pgsize) FROM dbstat('main') GROUP BY name UNION ALL "
                       "SELECT name, sum(pgsize) FROM dbstat('search') GROUP BY name ORDER BY 2 DESC").fetchall()
    con.close()
    return [(name, size) for name, size in rows if size > 100_000]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--events', type=int, default=1_000_000)
    parser.add_argument('--runs', type=int, default=30)
    parser.add_argument('--only', metavar='TEXT', nargs='+', default=None,
                        help='run only the cases whose name holds one of these, e.g. --only search')
    parser.add_argument('--no-raw', action='store_true',
                        help='skip the hand-written SQL beside each case (at 10M events it takes minutes a case)')
    parser.add_argument('--postgres', metavar='URL', default=None,
                        help='also time the store calls on this PostgreSQL database (filled by migrate-db when empty)')
    args = parser.parse_args()
    url = bench_database(args.events)
    path = url.removeprefix('sqlite:///')
    map_mib = open_as_server(url)
    con = sqlite3.connect(path)
    con.execute('PRAGMA cache_size = -65536')
    con.execute(f'PRAGMA mmap_size = {map_mib * 2**20}')
    con.execute('ATTACH DATABASE ? AS search', (str(search_file.path_for(path)),))  # as the store's connections
    con.execute(f'PRAGMA search.mmap_size = {map_mib * 2**20}')
    total = con.execute('SELECT count(*) FROM event').fetchone()[0]
    print(f'\n{total:,} events in {path} ({Path(path).stat().st_size / 2**20:,.0f} MiB); page of {PAGE} + exact total;'
          f' {args.runs} runs each, warm cache, {map_mib} MiB mapped as the server does; milliseconds\n')
    print('| case | store p50 | store p95 | raw SQL p50 | raw SQL p95 | ratio p50 |')
    print('|---|---:|---:|---:|---:|---:|')
    on_sqlite: dict[str, tuple[float, float]] = {}
    with connection():
        for case in cases(con):
            if args.only and not any(text in f'{case.group}: {case.name}' for text in args.only):
                continue
            store = on_sqlite[f'{case.group}: {case.name}'] = p50_p95(timed(case.store, args.runs))
            if args.no_raw:
                print(f'| {case.group}: {case.name} | {store[0]:.1f} | {store[1]:.1f} | – | – | – |', flush=True)
                continue
            raw = p50_p95(timed(case.raw, args.runs))
            print(f'| {case.group}: {case.name} | {store[0]:.1f} | {store[1]:.1f} | {raw[0]:.1f} | {raw[1]:.1f} '
                  f'| {store[0] / raw[0]:.2f} |', flush=True)
    print('\n| table or index | MiB |\n|---|---:|')
    table = dict(sizes(path))
    for name, size in sizes(path):
        print(f'| {name} | {size / 2**20:,.1f} |')
    search = sum(v for k, v in table.items() if k.startswith('event_search'))
    print(f'\nsearch index / events table = {search / table["event"]:.2f}')
    if args.postgres:
        postgres_column(con, url, args.postgres, args.runs, on_sqlite)


def postgres_column(con: sqlite3.Connection, sqlite_url: str, pg_url: str, runs: int,
                    on_sqlite: dict[str, tuple[float, float]]) -> None:
    """The same store calls on PostgreSQL, the benchmark database copied there by migrate-db."""
    import time

    from store.engine.db import database
    from store.lifecycle.migrate import migrate
    from store.lifecycle.opening import close_database

    close_database()
    open_database(pg_url)
    with connection():
        have = database.execute_sql('SELECT count(*) FROM event').fetchone()[0]
    if not have:
        started = time.perf_counter()
        report = migrate(sqlite_url, pg_url)
        print(f'\nmigrate-db: {report.rows["event"]:,} events copied and verified in '
              f'{time.perf_counter() - started:.1f} s ({report.chain.summary()[:60]}); vacuumed and analyzed')
    print(f'\nPostgreSQL ({pg_url.split("@")[-1]}): the same store calls; milliseconds\n')
    print('| case | SQLite store p50 | PostgreSQL store p50 | PostgreSQL store p95 |')
    print('|---|---:|---:|---:|')
    with connection():
        for case in cases(con):
            name = f'{case.group}: {case.name}'
            if name not in on_sqlite:
                continue
            p50, p95 = p50_p95(timed(case.store, runs))
            print(f'| {name} | {on_sqlite[name][0]:.1f} | {p50:.1f} | {p95:.1f} |', flush=True)


if __name__ == '__main__':
    main()
