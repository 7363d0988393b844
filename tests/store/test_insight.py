"""The timeline, one event by id, and the workspace and policy summaries, against a real SQLite store."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from store.engine.timefmt import to_millis
from store.read import counts
from store.read.events import EventFilter, Viewer, count_events
from store.read.insight import UNIT, Timeline, choose_unit, find_event, policy_summaries, timeline, workspace_activity
from store.write.ingest import append_events
from store.write.seed import demo_events
from tests.conftest import event, utc

NOW = datetime(2026, 11, 1, 13, 37, 11, tzinfo=UTC)
ORG = Viewer.organization()
VIEWERS = [ORG, Viewer.of_workspaces('a', {'research'}), Viewer.of_workspaces('b', {'production', 'staging'}),
           Viewer.of_workspaces('c', set())]


def check_shape(result: Timeline, flt: EventFilter) -> None:
    """Bars are contiguous, each inside the filter's own range, and there are not too many of them."""
    assert len(result.buckets) <= 130
    for bucket in result.buckets:
        assert bucket.start < bucket.end
        assert bucket.success >= 0 and bucket.failed >= 0
        if flt.since:
            assert bucket.start >= to_millis(flt.since)
        if flt.until:
            assert bucket.end <= to_millis(flt.until)
    for before, after in itertools.pairwise(result.buckets):
        assert before.end == after.start


@pytest.fixture
def spread(add_events) -> None:
    """Events over 150 days, denser in the last 3 days, in the last hour, and a few after `NOW`."""
    append_events(list(demo_events(2500, seed=5, end=NOW, days=150)))
    append_events(list(demo_events(600, seed=6, end=NOW, days=3)))
    workspaces = ('research', 'production', None)
    add_events(*(event(timestamp=(NOW - timedelta(seconds=43 * i + 1)).isoformat(), user=f'u{i % 7}@acme.io',
                       status='FAILED' if i % 5 == 0 else 'SUCCESS', workspace=workspaces[i % 3],
                       scope='Service' if workspaces[i % 3] else 'Billing',
                       category='AI Notebook' if workspaces[i % 3] else 'Credit') for i in range(80)))
    add_events(*(event(timestamp=(NOW + timedelta(minutes=20 * i + 1)).isoformat(), workspace='research')
                 for i in range(5)))


def test_bars_add_up_to_the_total_for_every_viewer_filter_and_range(spread) -> None:
    filters = [EventFilter(), EventFilter(scope='Service'), EventFilter(status='FAILED'),
               EventFilter(scope='Billing', category='Payment'), EventFilter(workspace='research'),
               EventFilter(search='notebook'), EventFilter(user='alice@acme.io'),
               EventFilter(search='h1', status='SUCCESS')]
    ranges = [(None, None), (NOW - timedelta(hours=1), None), (NOW - timedelta(hours=24), None),
              (NOW - timedelta(days=3), None), (NOW - timedelta(days=7), None), (NOW - timedelta(days=30), None),
              (NOW - timedelta(days=40, hours=3), NOW - timedelta(days=2, minutes=7)),
              (NOW - timedelta(hours=5, minutes=30), NOW - timedelta(hours=3)), (None, NOW - timedelta(days=100)),
              (utc(2026, 10, 1), utc(2026, 10, 2))]
    units = set()
    for viewer, flt, (since, until) in itertools.product(VIEWERS, filters, ranges):
        ranged = replace(flt, since=since, until=until)
        result = timeline(viewer, ranged, now=to_millis(NOW))
        assert result.total == count_events(viewer, ranged), (viewer, ranged)
        check_shape(result, ranged)
        units.add(result.unit.name)
    assert {'minute', '15 minutes', 'hour', 'day', 'week'} <= units


def test_the_bar_width_follows_the_span(spread) -> None:
    def unit(since: datetime | None, until: datetime | None = NOW, **fields) -> str:
        return timeline(ORG, EventFilter(since=since, until=until, **fields), now=to_millis(NOW)).unit.name

    assert unit(NOW - timedelta(hours=1)) == 'minute'
    assert unit(NOW - timedelta(hours=6)) == '5 minutes'
    assert unit(NOW - timedelta(hours=24)) == '15 minutes'
    assert unit(NOW - timedelta(days=3)) == 'hour'
    assert unit(NOW - timedelta(days=7)) == 'day'
    assert unit(None, None) == 'week'  # all time: 150 days of events
    assert unit(NOW - timedelta(hours=1), search='notebook') == 'minute'
    assert [choose_unit(span).name for span in (10**12, 10**11)] == ['year', 'month']


def test_presets_end_now_and_an_open_start_begins_at_the_oldest_event(add_events) -> None:
    add_events(event(timestamp='2026-10-30T08:00:00Z'), event(timestamp='2026-10-30T09:30:00Z', status='FAILED'),
               event(timestamp='2026-10-31T20:00:00Z'))
    result = timeline(ORG, EventFilter(), now=to_millis(NOW))
    assert result.unit.name == 'hour'  # 36 hours of events
    assert result.buckets[0].start == to_millis(utc(2026, 10, 30, 8))
    assert result.buckets[-1].end == to_millis(utc(2026, 10, 31, 21))
    assert [(b.success, b.failed) for b in result.buckets if b.total] == [(1, 0), (0, 1), (1, 0)]

    week = timeline(ORG, EventFilter(since=NOW - timedelta(days=7)), now=to_millis(NOW))
    assert week.unit.name == 'day'
    assert week.buckets[0].start == to_millis(NOW - timedelta(days=7))  # clipped to the range
    assert week.buckets[-1].end == to_millis(utc(2026, 11, 2))  # the range runs until now, in today's bar
    assert [(b.success, b.failed) for b in week.buckets if b.total] == [(1, 1), (1, 0)]


def test_no_events_give_empty_bars_over_a_range_and_none_without_one() -> None:
    assert timeline(ORG, EventFilter(), now=to_millis(NOW)).buckets == []
    last_hour = timeline(ORG, EventFilter(since=NOW - timedelta(hours=1)), now=to_millis(NOW))
    assert last_hour.unit.name == 'minute' and last_hour.total == 0 and 60 <= len(last_hour.buckets) <= 61
    assert timeline(Viewer.of_workspaces('c', set()), EventFilter(), now=to_millis(NOW)).buckets == []


def test_a_short_span_with_too_many_rows_uses_day_bars(spread, monkeypatch: pytest.MonkeyPatch) -> None:
    flt = EventFilter(since=NOW - timedelta(days=3))
    assert timeline(ORG, flt, now=to_millis(NOW)).unit.name == 'hour'
    monkeypatch.setattr(counts, 'ROW_LIMIT', 100)
    result = timeline(ORG, flt, now=to_millis(NOW))
    assert result.unit.name == 'day'
    assert result.total == count_events(ORG, flt, now=to_millis(NOW)) == count_events(ORG, flt)


def test_calendar_units_start_on_mondays_and_first_days() -> None:
    week, month, year = UNIT['week'], UNIT['month'], UNIT['year']
    thursday = to_millis(utc(2026, 10, 29, 15))
    assert week.start(week.key(thursday)) == to_millis(utc(2026, 10, 26))  # a Monday
    assert week.end(week.key(thursday)) == to_millis(utc(2026, 11, 2))
    assert month.start(month.key(thursday)) == to_millis(utc(2026, 10, 1))
    assert month.end(month.key(to_millis(utc(2026, 12, 31, 23)))) == to_millis(utc(2027, 1, 1))
    assert year.start(year.key(thursday)) == to_millis(utc(2026, 1, 1))


def test_find_event_answers_only_what_the_viewer_may_see(add_events) -> None:
    add_events(event(id='in-alpha', workspace='alpha', metadata={'ip': '10.0.0.1'}),
               event(id='org-wide', workspace=None, scope='Billing', category='Credit', action='Add Credit'))
    found = find_event(ORG, 'in-alpha')
    assert found['id'] == 'in-alpha' and found['metadata'] == {'ip': '10.0.0.1'} and len(found['hash']) == 64
    assert find_event(Viewer.of_workspaces('x', {'alpha'}), 'in-alpha')['workspace'] == 'alpha'
    assert find_event(Viewer.of_workspaces('x', {'beta'}), 'in-alpha') is None
    assert find_event(Viewer.of_workspaces('x', {'alpha'}), 'org-wide') is None
    assert find_event(ORG, 'no-such-id') is None


def test_workspace_activity_counts_the_last_days_of_visible_workspaces(spread) -> None:
    since = NOW - timedelta(days=7)
    rows = workspace_activity(ORG, since)
    assert [row.name for row in rows] == ['data-science', 'ml-platform', 'production', 'research', 'staging']
    for row in rows:
        assert row.events == count_events(ORG, EventFilter(workspace=row.name, since=since))
        assert row.failed == count_events(ORG, EventFilter(workspace=row.name, since=since, status='FAILED'))
    assert sum(row.events for row in rows) > 300 and sum(row.failed for row in rows) > 0
    admin = workspace_activity(Viewer.of_workspaces('b', {'production', 'staging'}), since)
    assert admin == [row for row in rows if row.name in ('production', 'staging')]


def test_policy_summaries_show_last_attach_and_detach(add_events) -> None:
    def policy(ts: str, action: str, name: str, status: str = 'SUCCESS') -> dict:
        return event(timestamp=ts, scope='Organization', category='Policy', action=action, target=name,
                     status=status, workspace=None)

    add_events(policy('2026-10-01T08:00:00Z', 'Create Policy', 'ReadOnly'),
               policy('2026-10-02T08:00:00Z', 'Attach Policy', 'ReadOnly'),
               policy('2026-10-03T08:00:00Z', 'Detach Policy', 'ReadOnly'),
               policy('2026-10-04T08:00:00Z', 'Attach Policy', 'ReadOnly', status='FAILED'),
               policy('2026-10-05T08:00:00Z', 'Create Policy', 'Billing'),
               policy('2026-10-06T08:00:00Z', 'Create Token', 'ci-token'),  # other Policy events are no policy
               event(timestamp='2026-10-07T08:00:00Z', action='Attach Policy', target='not-org', workspace='alpha'))
    rows = policy_summaries(ORG)
    assert [(r.name, r.events, r.last_attached, r.last_detached, r.last_event) for r in rows] == [
        ('Billing', 1, None, None, utc(2026, 10, 5, 8)),
        ('ReadOnly', 4, utc(2026, 10, 2, 8), utc(2026, 10, 3, 8), utc(2026, 10, 4, 8)),
    ]
    assert policy_summaries(Viewer.of_workspaces('a', {'alpha'})) == []  # organization-wide events


def test_keyword_and_user_bars_follow_new_events_from_the_kept_hourly_counts(add_events) -> None:
    """The hourly counts a keyword or user total is summed from serve the chart, and take in new events."""
    add_events(*(event(timestamp=(NOW - timedelta(hours=3 * i, minutes=5)).isoformat(), description=f'gpu job {i}',
                       user='ann@acme.io' if i % 2 else 'bo@acme.io') for i in range(30)))
    flts = [EventFilter(search='gpu job'), EventFilter(user='ann@acme.io')]
    before = {flt: timeline(ORG, flt, now=to_millis(NOW)) for flt in flts}
    add_events(event(timestamp=(NOW - timedelta(hours=2, minutes=50)).isoformat(), description='gpu job late',
                     user='ann@acme.io', status='FAILED'),
               event(timestamp=(NOW - timedelta(minutes=1)).isoformat(), description='no match', user='cy@acme.io'))
    for flt in flts:
        after = timeline(ORG, flt, now=to_millis(NOW))
        assert after.unit.name == before[flt].unit.name == 'hour'
        assert after.total == before[flt].total + 1 == count_events(ORG, flt)
        changed = [(b.start, a.failed - b.failed) for a, b in zip(after.buckets, before[flt].buckets, strict=False)
                   if (a.success, a.failed) != (b.success, b.failed)]
        hour = to_millis(NOW - timedelta(hours=2, minutes=50)) // 3_600_000 * 3_600_000
        assert changed == [(hour, 1)]
