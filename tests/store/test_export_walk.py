"""The export is the page's walk to the end: its rows (through `iter_events` and in a CSV file) are exactly the
page's events in the page's order, `find_events` walked by offset, for every sort column, both directions, both
roles and each filter, on both engines; and events appended during an export are left out, none read twice."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from store.derived import sort_index
from store.read import events as events_module
from store.read import planner
from store.read.events import SORTABLE, EventFilter, Sort, Viewer, count_events, find_events, iter_events
from store.read.export import export_to_file
from store.read.ways import key_of
from tests.conftest import event, utc
from tests.store.test_export import as_text, display_row, read_csv

ORG = Viewer.organization()
ALPHA = Viewer.of_workspaces('admin-a@acme.io', {'alpha'})
BASE = utc(2026, 3, 1)
CHUNK = 7  # rows per chunk of the export and per page of the offset walk: many chunks from few events
Z_UTC = ZoneInfo('UTC')

FILTERS = [
    EventFilter(),
    EventFilter(scope='Service', category='AI Notebook'),
    EventFilter(status='FAILED'),
    EventFilter(user='bob@acme.io'),
    EventFilter(workspace='beta'),
    EventFilter(search='z'),  # keywords of 1, 2 and 3+ characters
    EventFilter(search='nb'),
    EventFilter(search='credit', status='SUCCESS'),
    EventFilter(search='notebook'),
    EventFilter(since=BASE + timedelta(minutes=8), until=BASE + timedelta(minutes=20)),
]
SORTS = [Sort(column, descending) for column in SORTABLE for descending in (True, False)]


def _raw(i: int, rng: random.Random, minutes: int = 30) -> dict[str, Any]:
    """A varied event; several share a millisecond, a user, a target or a description (ties in every order)."""
    scope, category = rng.choice([('Service', 'AI Notebook'), ('Billing', 'Credit'), ('Workspace', 'GPU Quota'),
                                  ('Organization', 'Member')])
    return event(id=f'w{i}', timestamp=(BASE + timedelta(minutes=rng.randrange(minutes))).isoformat(),
                 user=rng.choice(['ann@acme.io', 'bob@acme.io', 'cy@acme.io', 'Zed@acme.io']), scope=scope,
                 category=category, action=rng.choice(['Start Notebook', 'Add Credit', 'Create Container']),
                 target=rng.choice(['nb-1', 'nb-2', 'ctr-9', 'Zeta', 'ws-alpha']),
                 description=rng.choice(['Started notebook', 'Added credit', 'added credit', 'Created x', 'Z']),
                 status=rng.choice(['SUCCESS', 'FAILED']), workspace=rng.choice(['alpha', 'beta', None]))


@pytest.fixture
def store(add_events, monkeypatch) -> None:
    """Ninety events; on SQLite the first sixty in the sort tables and the rest in their unsorted tail, and every
    view big enough for the planner's walks (sort tables, common keywords tested on each event)."""
    rng = random.Random(19)
    add_events(*[_raw(i, rng) for i in range(60)])
    sort_index.flush()
    add_events(*[_raw(i, rng) for i in range(60, 90)])
    monkeypatch.setattr(planner, 'SORT_TABLE_FROM', 0)
    monkeypatch.setattr(planner, 'SORT_TABLE_FROM_FACETS', 0)
    monkeypatch.setattr(planner, 'COMMON_MATCHES', 10)


def _by_offset(viewer: Viewer, flt: EventFilter, sort: Sort) -> list[dict[str, Any]]:
    """The page's events, page after page by offset, as the Audit Logs page reads them."""
    walked: list[dict[str, Any]] = []
    while page := find_events(viewer, flt, sort, offset=len(walked), limit=CHUNK).events:
        walked += page
    return walked


def _one_way(monkeypatch, way: str) -> None:
    """Where the planner races two ways to a page, take the first (a walk) or the other (sorted matches) only:
    each must continue a walk exactly."""
    def forced(here, elsewhere, seconds, head_start):
        return here() if way == 'walked' else elsewhere()
    monkeypatch.setattr(planner, 'first_done', forced)


@pytest.mark.parametrize('way', ['walked', 'sorted'])
@pytest.mark.parametrize('viewer', [ORG, ALPHA], ids=['organization', 'workspace admin'])
def test_the_export_walks_the_pages_to_the_end_in_every_order(engine, store, monkeypatch, viewer, way):
    _one_way(monkeypatch, way)
    for flt in FILTERS:
        for sort in SORTS:
            expected = [e['id'] for e in _by_offset(viewer, flt, sort)]
            assert len(expected) == count_events(viewer, flt), (flt, sort)
            assert expected or flt.workspace == 'beta' and viewer is ALPHA, (flt, sort)
            assert [e['id'] for e in iter_events(viewer, flt, sort, chunk=CHUNK)] == expected, (flt, sort)
            if len(expected) > CHUNK:  # one chunk of everything: the same events
                assert [e['id'] for e in iter_events(viewer, flt, sort, chunk=1000)] == expected, (flt, sort)


@pytest.mark.parametrize('viewer', [ORG, ALPHA], ids=['organization', 'workspace admin'])
def test_the_csv_file_holds_the_pages_rows_in_the_pages_order(engine, store, tmp_path: Path, viewer):
    """Each filter in four of the orders, every order for some filter (a file per case costs more than a walk)."""
    cases = [(flt, sort) for n, flt in enumerate(FILTERS) for sort in SORTS[n % 4::4]]
    for number, (flt, sort) in enumerate(cases):
        expected = [display_row(e, Z_UTC) for e in _by_offset(viewer, flt, sort)]
        path = tmp_path / f'walk-{number}.csv'
        assert export_to_file(path, viewer, flt, sort, 'tester', tz=Z_UTC, chunk=CHUNK) == len(expected)
        assert [as_text(row) for row in read_csv(path)[1:]] == expected, (flt, sort)


def test_each_chunk_is_a_page_the_planner_continues_after_the_one_before(store, monkeypatch):
    plans: list[planner.Plan] = []
    pages: list[list[tuple]] = []

    def spy(plan: planner.Plan) -> list[tuple]:
        plans.append(plan)
        pages.append(planner.execute(plan))
        return pages[-1]

    monkeypatch.setattr(events_module, 'execute', spy)
    sort = Sort('target', False)
    rows = list(iter_events(ORG, EventFilter(), sort, chunk=CHUNK))
    assert len(rows) == 90 and len(plans) == 90 // CHUNK + 1
    assert plans[0].after is None and all(plan.upto == 90 and plan.limit == CHUNK for plan in plans)
    for before, plan in zip(pages, plans[1:], strict=False):
        assert plan.after == key_of(sort, before[-1]) and plan.offset == 0


def _appended(rng: random.Random, start: int) -> list[dict[str, Any]]:
    """Events that would fall everywhere in the views: newest, oldest, among the others, in any column's order."""
    raws = [_raw(i, rng) for i in range(start, start + 12)]
    raws += [event(id=f'w{start + 12}', timestamp=(BASE + timedelta(days=1)).isoformat(), target='aaa', user='a@x.io'),
             event(id=f'w{start + 13}', timestamp=(BASE - timedelta(days=1)).isoformat(), target='zzz', user='z@x.io')]
    return raws


@pytest.mark.parametrize('sort', [Sort(), Sort('timestamp', False), Sort('target'), Sort('user', False),
                                  Sort('category')], ids=lambda sort: f'{sort.column} {sort.descending}')
def test_events_appended_during_an_export_are_left_out_and_none_is_read_twice(engine, store, add_events, sort):
    rng = random.Random(7)
    for number, (viewer, flt) in enumerate([(ORG, EventFilter()), (ALPHA, EventFilter(search='notebook')),
                                            (ORG, EventFilter(status='SUCCESS'))]):
        expected = [e['id'] for e in _by_offset(viewer, flt, sort)]
        assert len(expected) > 2 * CHUNK, (viewer.name, flt)
        rows = iter_events(viewer, flt, sort, chunk=CHUNK)
        got = [next(rows)['id'] for _ in range(CHUNK)]
        add_events(*_appended(rng, 1000 + 100 * number))  # between the first chunk and the second
        got += [next(rows)['id'] for _ in range(3)]
        add_events(*_appended(rng, 1050 + 100 * number))  # and in the middle of a chunk's rows
        got += [e['id'] for e in rows]
        assert got == expected, (viewer.name, flt)
        assert len(set(got)) == len(got)


def test_a_file_written_while_events_arrive_holds_the_view_as_of_its_start(engine, store, add_events, tmp_path):
    rng = random.Random(11)
    starts = iter(range(2000, 3000, 20))
    for sort in (Sort(), Sort('description', False)):
        expected = [display_row(e, Z_UTC) for e in _by_offset(ORG, EventFilter(), sort)]
        chunks: list[int] = []

        def arrive(written: int, chunks: list[int] = chunks) -> None:  # called after each chunk is written
            chunks.append(written)
            if len(chunks) <= 3:
                add_events(*_appended(rng, next(starts)))

        path = tmp_path / f'{sort.column}.csv'
        assert export_to_file(path, ORG, EventFilter(), sort, 'tester', tz=Z_UTC, progress=arrive,
                              chunk=CHUNK) == len(expected)
        assert [as_text(row) for row in read_csv(path)[1:]] == expected
        assert len(chunks) > 3 and count_events(ORG, EventFilter()) == len(expected) + 3 * 14 + 1  # and the record


@pytest.mark.sqlite_only  # PostgreSQL's planner chooses between its indexes itself
def test_a_structured_view_in_another_columns_order_walks_that_columns_index(store, monkeypatch):
    """SQLite would find the matches through a facet's index and sort them all for every page, a walk to the
    end once per chunk; the planner walks the column's index instead, raced against that sort (a view holding
    at least DENSE_SHARE of the events; a sparser one is walked pair by pair, tests/store/test_read_plans.py)."""
    monkeypatch.setattr(planner, 'DENSE_SHARE', 0.3)
    flt = EventFilter(status='SUCCESS')
    plan = planner.plan_page(ORG, flt, Sort('action'), 0, CHUNK, count_events(ORG, flt))
    assert plan.first.name == planner.ORDER_WALK and plan.other is not None
    assert plan.other.name == planner.SORTED_MATCHES and not plan.other.by_index
    assert any('walk the index of the sort column' in line for line in planner.describe(plan))
    every = planner.plan_page(ORG, EventFilter(), Sort('user', False), 0, CHUNK, 90)
    assert every.first.name == planner.ORDER_WALK and every.other is None  # nothing to test: just follow it
    assert [row[1] for row in planner.execute(every)] == [e['id'] for e in iter_events(ORG, EventFilter(),
                                                                                       Sort('user', False))][:CHUNK]
