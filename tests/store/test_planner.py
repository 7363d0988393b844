"""The read planner decides in one place how a page is read; what it decides is what runs, and it says why."""

from datetime import timedelta

import pytest

from store.read import planner
from store.read.events import EventFilter, Sort, Viewer, count_events, find_events, iter_events
from store.read.planner import describe, execute, plan_page
from tests.conftest import event, utc

ORG = Viewer.organization()


@pytest.fixture
def many(add_events):
    base = utc(2026, 4, 1)
    add_events(*[event(id=f'p{i}', timestamp=(base + timedelta(hours=i % 90, minutes=i % 60)).isoformat(),
                       description='gpu failed' if i % 2 else 'cpu only', target=f't{(i * 7) % 23}',
                       workspace=('alpha', 'beta')[i % 2]) for i in range(120)])


def test_a_page_in_the_second_half_is_read_from_the_other_end_and_says_so(many):
    flt = EventFilter()
    total = count_events(ORG, flt)
    plan = plan_page(ORG, flt, Sort(), 100, 10, total)
    assert plan.reverse and plan.sort == Sort('timestamp', False) and plan.offset == total - 110
    lines = describe(plan)
    assert lines[0].endswith('then reversed') and any(line.startswith('because reverse:') for line in lines)
    whole = [e['id'] for e in iter_events(ORG, flt)]
    assert [row[1] for row in execute(plan)] == whole[100:110]


def test_a_deep_page_seeks_from_a_bucket_boundary_placed_by_the_counts(many, monkeypatch):
    monkeypatch.setattr(planner, 'SEEK_FROM', 1)
    flt = EventFilter(search='gpu')
    total = count_events(ORG, flt)
    plan = plan_page(ORG, flt, Sort(), 30, 5, total)
    assert plan.flt.until is not None and plan.offset < 30
    assert any(line.startswith('because seek:') for line in describe(plan))
    assert [row[1] for row in execute(plan)] == [e['id'] for e in iter_events(ORG, flt)][30:35]


@pytest.mark.sqlite_only  # the race of two ways is planned on SQLite
def test_a_keyword_sorted_by_another_column_races_a_walk_against_sorting_the_matches(many):
    flt = EventFilter(search='failed')
    plan = plan_page(ORG, flt, Sort('target'), 0, 10, count_events(ORG, flt))
    assert plan.first.name == planner.INDEX_ORDER and plan.other is not None
    assert plan.other.name == planner.SORTED_MATCHES and not plan.other.by_index
    assert plan.seconds >= planner.WALK_SECONDS and plan.head_start == planner.HEAD_START
    lines = describe(plan)
    assert lines[2].startswith('way: race.') and 'find every match, then sort them' in lines[3]
    expected = [e['id'] for e in iter_events(ORG, flt, Sort('target'))][:10]
    assert [row[1] for row in execute(plan)] == expected


def test_explain_gives_the_total_the_plan_and_the_page_it_read(many):
    flt = EventFilter(search='gpu', workspace='beta')
    lines = planner.explain(ORG, flt, Sort(), 0, 7)
    assert lines[0].startswith(f'total: {count_events(ORG, flt):,} events, summed from the view')
    assert lines[1].startswith('read 7 from offset 0 of at most 60 events, ordered by timestamp descending')
    assert lines[2] == 'view read: search gpu; workspace beta (organization)'
    assert any(line.startswith('way: ') for line in lines)
    assert lines[-1].startswith('page: 7 events in ')
    assert planner.explain(ORG, flt, Sort(), 500, 7)[-1] == 'page: none, the offset is past the last event'


@pytest.mark.sqlite_only  # an SQLite FTS5 plan choice; PostgreSQL's planner makes it
def test_common_terms_walk_another_columns_order_with_the_same_results(add_events, monkeypatch):
    import store.read.planner as planner

    base = utc(2026, 3, 1)
    add_events(*[event(id=f'c{i}', timestamp=(base + timedelta(minutes=(i * 37) % 101)).isoformat(),
                       action=('Start Notebook', 'Stop Notebook', 'Add Credit')[i % 3],
                       description='gpu notebook' if i % 3 else 'cpu only') for i in range(101)])
    sort = Sort('action', False)
    expected = {term: [e['id'] for e in find_events(ORG, EventFilter(search=term), sort, limit=20, offset=5).events]
                for term in ('notebook', 'cpu', 'gpu n')}
    monkeypatch.setattr(planner, 'COMMON_MATCHES', 10)
    assert planner.is_common_term('notebook', 67, 0)
    assert planner.is_common_term('nb', 67, 0)  # two characters: every indexed trigram starting with them
    assert not planner.is_common_term('n', 67, 0)  # one character: not narrowed by the index
    for term, ids_ in expected.items():
        page = find_events(ORG, EventFilter(search=term), sort, limit=20, offset=5)
        assert [e['id'] for e in page.events] == ids_


def _searched_in_python(viewer: Viewer, flt: EventFilter, descending: bool) -> list[str]:
    """The matches of `flt`'s keyword among the view's events, tested in Python, in time order."""
    term = flt.search.lower()
    view = [e for e in iter_events(viewer, EventFilter(**{**flt.__dict__, 'search': ''}), Sort('timestamp', False))
            if any(term in str(e[field]).lower()
                   for field in ('scope', 'category', 'user', 'action', 'target', 'description'))]
    view.sort(key=lambda e: (e['timestamp'], e['seq']), reverse=descending)
    return [e['id'] for e in view]


@pytest.mark.sqlite_only  # an SQLite FTS5 plan choice; PostgreSQL's planner makes it
@pytest.mark.parametrize('way', ['walked', 'walk out of time', 'through the index'])
def test_searched_pages_in_time_order_are_the_same_walked_or_through_the_index(add_events, monkeypatch, way):
    """A keyword's page in time order, found by walking the view or through the search index
    (store/read/planner.py `_in_time_order`), and after a walk that runs out of time, is exactly the slice of the
    whole order."""
    import store.read.planner as planner

    base = utc(2026, 3, 1)
    add_events(*[event(id=f'w{i}', timestamp=(base + timedelta(minutes=(i * 37) % 120)).isoformat(),
                       user=('ann@acme.io', 'bob@acme.io')[i % 2], workspace=('alpha', 'beta', None)[i % 3],
                       scope='Billing' if i % 4 == 0 else 'Service', category='Credit' if i % 4 == 0 else 'AI Notebook',
                       status='FAILED' if i % 5 == 0 else 'SUCCESS',
                       description='gpu failed' if i % 7 < 2 else 'cpu only') for i in range(120)])
    walks = []
    race = planner.first_done

    def counted(here, elsewhere, seconds, head_start):
        walks.append(seconds)
        return elsewhere() if way == 'walk out of time' else race(here, elsewhere, seconds, head_start)

    monkeypatch.setattr(planner, 'first_done', counted)
    monkeypatch.setattr(planner, 'WALK_SECONDS_PER_EVENT', 1.0 if way == 'through the index' else 0.0)
    filters = [EventFilter(search='failed'), EventFilter(search='gpu f'), EventFilter(search='cpu', user='bob@acme.io'),
               EventFilter(search='failed', scope='Service'), EventFilter(search='only', status='FAILED'),
               EventFilter(search='failed', since=base + timedelta(minutes=30), until=base + timedelta(minutes=90))]
    for viewer in (ORG, Viewer.of_workspaces('a', {'alpha'})):
        for flt in filters:
            for descending in (True, False):
                whole = _searched_in_python(viewer, flt, descending)
                assert whole, (viewer, flt)
                for offset in range(0, len(whole) + 7, 7):
                    page = find_events(viewer, flt, Sort('timestamp', descending), offset=offset, limit=7)
                    assert page.total == len(whole)
                    assert [e['id'] for e in page.events] == whole[offset:offset + 7], (viewer.name, flt, offset)
    assert bool(walks) == (way != 'through the index')


@pytest.mark.parametrize('sort', [Sort(), Sort('timestamp', False)])
def test_deep_pages_placed_by_the_view_counts_equal_the_plain_slice(add_events, monkeypatch, sort):
    """Deep pages in time order start from a bucket boundary the view's counts place; every page, for every
    filter (a keyword and a user too) and both visibilities, is still exactly the slice of the whole order."""
    import store.read.planner as planner

    base = utc(2026, 5, 1)
    add_events(*[event(id=f'd{i}', timestamp=(base + timedelta(hours=(i * 7) % 150, minutes=i % 60)).isoformat(),
                       scope='Billing' if i % 3 else 'Service', category='Credit' if i % 3 else 'AI Notebook',
                       status='FAILED' if i % 5 == 0 else 'SUCCESS',
                       workspace=None if i % 3 else ('alpha', 'beta')[i % 2])
                 for i in range(90)])
    monkeypatch.setattr(planner, 'SEEK_FROM', 1)
    admin = Viewer.of_workspaces('a', {'alpha'})
    filters = [EventFilter(), EventFilter(scope='Billing'), EventFilter(status='FAILED'),
               EventFilter(since=base + timedelta(hours=30, minutes=7), until=base + timedelta(hours=101, minutes=3)),
               EventFilter(scope='Service', since=base + timedelta(hours=13)), EventFilter(search='credit'),
               EventFilter(search='nb', status='SUCCESS'), EventFilter(user='alice@acme.io')]
    seeks = 0
    for viewer in (ORG, admin):
        for flt in filters:
            whole = [e['id'] for e in iter_events(viewer, flt, sort)]
            for offset in range(0, len(whole) + 3, 7):
                page = find_events(viewer, flt, sort, offset=offset, limit=6)
                assert [e['id'] for e in page.events] == whole[offset:offset + 6], (viewer, flt, offset)
                assert page.total == len(whole)
                seeks += planner._seek(viewer, flt, sort, offset, page.total) is not None
    assert seeks > 40
    assert planner._seek(ORG, EventFilter(search='credit'), sort, 40, 60) is not None
    assert planner._seek(ORG, EventFilter(), Sort('user'), 40, 90) is None
