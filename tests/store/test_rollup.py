"""Totals from the daily counts equal plain counts of the rows, for every viewer, filter and time range."""

import itertools
from datetime import UTC, datetime, timedelta

from store.derived import rollup
from store.engine.db import database
from store.engine.timefmt import to_millis
from store.read.counts import rollup_total
from store.read.events import EventFilter, Viewer, count_events
from store.read.query import select_events
from store.write.ingest import append_events
from store.write.seed import demo_events

END = datetime(2026, 11, 1, 13, 37, 11, tzinfo=UTC)


def plain_count(viewer: Viewer, flt: EventFilter) -> int:
    query = select_events(viewer, flt)
    return database.execute_sql(f'SELECT count(*) FROM event e WHERE {query.where}', query.params).fetchone()[0]


def test_rollup_totals_equal_row_counts():
    append_events(list(demo_events(3000, seed=5, end=END, days=20)))
    append_events(list(demo_events(500, seed=6, end=END, days=3)))  # a second append adds to existing days
    user = database.execute_sql('SELECT actor FROM event GROUP BY actor ORDER BY count(*) DESC').fetchone()[0]
    viewers = [Viewer.organization(), Viewer.of_workspaces('a', {'research'}),
               Viewer.of_workspaces('b', {'production', 'staging'}), Viewer.of_workspaces('c', set())]
    filters = [EventFilter(), EventFilter(scope='Service'), EventFilter(scope='Billing', category='Payment'),
               EventFilter(status='FAILED'), EventFilter(workspace='research', scope='Workspace'),
               EventFilter(scope='Organization', status='FAILED'), EventFilter(user=user),
               EventFilter(user=user, scope='Service', status='FAILED'), EventFilter(user='nobody@example.com')]
    moments = [None, END - timedelta(days=25), END - timedelta(days=7, hours=5, minutes=3),
               datetime(2026, 10, 20, tzinfo=UTC), END - timedelta(hours=30), END - timedelta(minutes=1)]
    checked = 0
    for viewer, flt, since, until in itertools.product(viewers, filters, moments, moments):
        if since and until and since >= until:
            continue
        ranged = EventFilter(**{**flt.__dict__, 'since': since, 'until': until})
        expected = plain_count(viewer, ranged)
        assert count_events(viewer, ranged, now=to_millis(END)) == expected, (viewer, ranged)
        assert rollup_total(viewer, ranged) == expected, (viewer, ranged)
        checked += 1
    assert checked > 450


def test_rebuild_gives_the_same_counts():
    append_events(list(demo_events(800, seed=2, end=END, days=10)))
    append_events(list(demo_events(300, seed=3, end=END, days=4)))
    tables = {'event_count': 5, rollup.BY_USER: 6, rollup.BY_ACTION: 6, rollup.BY_USER_ACTION: 7}
    before = {table: database.execute_sql(f'SELECT * FROM {table} ORDER BY {", ".join(map(str, range(1, keys + 1)))}')
              .fetchall() for table, keys in tables.items()}
    rollup.rebuild()
    for table, keys in tables.items():
        assert database.execute_sql(
            f'SELECT * FROM {table} ORDER BY {", ".join(map(str, range(1, keys + 1)))}').fetchall() == before[table]
        assert sum(row[-1] for row in before[table]) == 1100
