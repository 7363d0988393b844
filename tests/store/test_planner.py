"""The read planner decides in one place how a page is read; what it decides is what runs, and it says why."""

from datetime import timedelta

import pytest

from store.read import planner
from store.read.events import EventFilter, Sort, Viewer, count_events, iter_events
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
