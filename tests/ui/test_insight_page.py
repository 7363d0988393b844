"""Time range, Status, User and Workspace filters, the timeline, the event detail and its link, live tail,
the Workspaces and Policies pages and dark mode, with NiceGUI's simulated user against a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nicegui import app, ui
from nicegui.testing import User

from store.read.events import EventFilter
from tests.conftest import ADMIN_A, OWNER, event, utc
from tests.ui.helpers import PATIENCE
from tests.ui.test_audit_logs_page import choose, column, open_as, until
from ui.audit_logs import page as audit_logs
from ui.audit_logs.event_detail import event_link
from ui.audit_logs.filter_state import FilterState

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


@pytest.fixture
def recent(add_events) -> None:
    """Events at known distances from now, of two workspaces, two users and both statuses."""
    add_events(
        event(timestamp=ago(minutes=20), user='carol@acme.io', status='FAILED', target='nb-20m', id='evt-20m',
              metadata={'ip': '10.0.0.7', 'request_id': 'req-1'}),
        event(timestamp=ago(hours=3), user='dave@acme.io', target='nb-3h'),
        event(timestamp=ago(days=3), user='carol@acme.io', target='nb-3d', workspace='beta'),
        event(timestamp=ago(days=20), user='dave@acme.io', status='FAILED', target='nb-20d'),
        event(timestamp=ago(days=60), user='carol@acme.io', scope='Workspace', category='GPU Quota',
              action='Change GPU Quota', target='alpha/H100', description='Raised the quota'),
    )


def element(user: User, marker: str):
    return next(iter(user.find(marker=marker).elements))


# --- the filter state: pure logic -------------------------------------------------------------------------------

def test_new_filters_round_trip_through_the_url() -> None:
    state = FilterState(status='FAILED', user='carol@acme.io', workspace='research', time='7d')
    assert state.url() == '/audit-logs?status=FAILED&user=carol%40acme.io&workspace=research&time=7d'
    assert FilterState.from_query(state.params(), ['research']) == (state, [])
    assert state.chips() == [('status', 'Status: FAILED'), ('user', 'User: carol@acme.io'),
                             ('workspace', 'Workspace: research'), ('time', 'Time: last 7 days')]
    now = utc(2026, 10, 8, 12)
    assert state.to_filter(now) == EventFilter(status='FAILED', user='carol@acme.io', workspace='research',
                                               since=utc(2026, 10, 1, 12))

    custom = FilterState().with_range(utc(2026, 10, 1, 8), utc(2026, 10, 2, 8, 30, 15))
    assert custom.url() == '/audit-logs?since=2026-10-01T08%3A00%3A00Z&until=2026-10-02T08%3A30%3A15Z'
    assert FilterState.from_query(custom.params()) == (custom, [])
    assert custom.chips() == [('time', 'Time: 2026-10-01 08:00 – 2026-10-02 08:30:15')]
    from zoneinfo import ZoneInfo
    assert custom.chips(ZoneInfo('Europe/Berlin')) == [('time', 'Time: 2026-10-01 10:00 – 2026-10-02 10:30:15')]
    assert FilterState(since=utc(2026, 10, 1)).time_text() == 'from 2026-10-01 00:00'
    assert custom.with_time('24h').since is None and custom.without('time') == FilterState()
    with pytest.raises(ValueError):
        FilterState().with_range(utc(2026, 10, 2), utc(2026, 10, 1))


def test_bad_new_link_values_are_ignored_with_a_notice() -> None:
    state, notices = FilterState.from_query({'status': 'broken', 'time': '2y', 'since': 'yesterday',
                                             'until': '2026-10-01T08:00:00+02:00', 'workspace': 'beta'}, ['alpha'])
    assert state == FilterState(until=utc(2026, 10, 1, 6))
    assert notices == [
        'Ignored unknown status "broken" from the link: use SUCCESS or FAILED.',
        'Ignored workspace "beta" from the link: it is not a workspace you can see.',
        'Ignored unknown time range "2y" from the link: use 1h, 24h, 7d, 30d, or since and until.',
        'Ignored since "yesterday" from the link: use an ISO 8601 time such as 2026-10-01T08:00:00Z.',
    ]
    state, notices = FilterState.from_query({'since': '2026-10-02T00:00:00Z', 'until': '2026-10-01T00:00:00Z',
                                             'status': 'failed', 'until ': 'x'})
    assert state == FilterState(status='FAILED')
    assert notices == ['Ignored the time range from the link: since must be before until.']
    state, notices = FilterState.from_query({'time': '24h', 'since': '2026-10-01'})
    assert state == FilterState(time='24h') and len(notices) == 1
    # an offset's '+' that arrived as a space (an unencoded link) is still read
    assert FilterState.from_query({'since': '2026-10-01T08:00:00 02:00'})[0].since == utc(2026, 10, 1, 6)


# --- the page ---------------------------------------------------------------------------------------------------

async def test_status_user_workspace_and_time_filters(user: User, accounts, recent, url_changes) -> None:
    table = await open_as(user, *OWNER)
    assert table.pagination['rowsNumber'] == 6  # five events and the owner's sign-in
    choose(user, 'status', 'FAILED')
    await until(lambda: column(table, 'target') == ['nb-20m', 'nb-20d'], 'the FAILED events')
    await user.should_see('Status: FAILED')
    assert url_changes[-1] == '/audit-logs?status=FAILED'

    choose(user, 'time', 'Last 7 days')
    await until(lambda: column(table, 'target') == ['nb-20m'], 'the last 7 days')
    await user.should_see('Time: last 7 days')
    assert url_changes[-1] == '/audit-logs?status=FAILED&time=7d'
    with user:
        element(user, 'chip-status').value = False
    await until(lambda: column(table, 'target') == ['owner@acme.io', 'nb-20m', 'nb-3h', 'nb-3d'], 'every status')

    user.find(marker='user').trigger('focus')  # the users in view are read when the field gets the focus
    await until(lambda: 'carol@acme.io' in element(user, 'user').options, 'the users in view')
    user.find(marker='user').click()
    assert element(user, 'user').options == ['carol@acme.io', 'dave@acme.io', 'owner@acme.io']  # the last 7 days
    user.find('carol@acme.io').click()
    await until(lambda: column(table, 'target') == ['nb-20m', 'nb-3d'], "carol's events")
    await user.should_see('User: carol@acme.io')

    choose(user, 'workspace', 'beta')
    await until(lambda: column(table, 'target') == ['nb-3d'], 'the beta events')
    await user.should_see('Workspace: beta')
    assert url_changes[-1] == '/audit-logs?user=carol%40acme.io&workspace=beta&time=7d'

    choose(user, 'time', 'All time')
    await until(lambda: table.pagination['rowsNumber'] == 1, 'all time')
    await user.should_not_see('Time: last 7 days')


async def test_a_custom_range_from_the_dialog(user: User, accounts, recent) -> None:
    table = await open_as(user, *OWNER)
    choose(user, 'time', 'Custom range…')
    await user.should_see(marker='custom-range')
    start, end = NOW - timedelta(days=4), NOW - timedelta(hours=1)
    user.find(marker='range-from').type(start.strftime('%Y-%m-%dT%H:%M'))
    user.find(marker='range-to').type(end.strftime('%Y-%m-%dT%H:%M'))
    user.find('Apply').click()
    await until(lambda: column(table, 'target') == ['nb-3h', 'nb-3d'], 'the custom range')
    await user.should_see(f'Time: {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}')

    user.find(marker='custom-range-button').click()  # the wrong way round: an error, nothing applied
    await user.should_see(marker='range-from')
    user.find(marker='range-from').clear().type(end.strftime('%Y-%m-%dT%H:%M'))
    user.find(marker='range-to').clear().type(start.strftime('%Y-%m-%dT%H:%M'))
    user.find('Apply').click()
    await user.should_see('the start of the time range must be before its end')
    assert column(table, 'target') == ['nb-3h', 'nb-3d']


async def test_the_timeline_follows_filters_and_visibility_and_sets_the_range(user: User, accounts,
                                                                             recent) -> None:
    table = await open_as(user, *OWNER)
    chart = element(user, 'timeline')
    series = chart.options['series']
    assert sum(series[0]['data']) + sum(series[1]['data']) == 6
    assert sum(series[1]['data']) == 2
    await user.should_see('Events over time: 6 in view, one bar per day')

    choose(user, 'status', 'FAILED')
    await until(lambda: sum(element(user, 'timeline').options['series'][1]['data']) == 2
                and sum(element(user, 'timeline').options['series'][0]['data']) == 0, 'a FAILED-only timeline')
    choose(user, 'time', 'Last 24 hours')
    await until(lambda: len(element(user, 'timeline').options['xAxis']['data']) >= 96, '15-minute bars')
    await user.should_see('Events over time: 1 in view, one bar per 15 minutes')

    failed = element(user, 'timeline').options['series'][1]['data']
    index = failed.index(1)
    user.find(marker='timeline').trigger('range', {'first': index, 'last': index})  # a click on that bar
    await user.should_see(marker='chip-time')
    bar = element(user, 'timeline')  # the range is that bar's 15 minutes
    await until(lambda: table.pagination['rowsNumber'] == 1 and 'Time: ' in element(user, 'chip-time').text
                and 'last 24 hours' not in element(user, 'chip-time').text, 'the bar\'s range')
    assert column(table, 'target') == ['nb-20m']
    await until(lambda: len(bar.options['xAxis']['data']) <= 16, 'one bar per minute')
    user.find(marker='timeline').trigger('range', {'first': 0, 'last': 10**6})  # out of range: ignored
    assert column(table, 'target') == ['nb-20m']


async def test_an_admin_timeline_counts_only_their_workspace(user: User, accounts, recent) -> None:
    await open_as(user, *ADMIN_A)
    series = element(user, 'timeline').options['series']
    assert sum(series[0]['data']) + sum(series[1]['data']) == 4  # not beta's event


async def test_row_detail_and_its_link(user: User, accounts, recent) -> None:
    table = await open_as(user, *OWNER)
    seq = next(row['seq'] for row in table.rows if row['target'] == 'nb-20m')
    user.find(marker='events').trigger('rowClick', [{}, {'seq': seq}, 1])
    await user.should_see(marker='detail')
    await user.should_see('evt-20m')
    await user.should_see('"ip": "10.0.0.7",\n  "request_id": "req-1"')
    await user.should_see('Chain hash')
    link = element(user, 'event-link')
    assert link.props['href'] == event_link('evt-20m') == '/audit-logs?event=evt-20m'

    await user.open('/audit-logs?event=evt-20m&scope=Service')  # the copied link opens the panel
    await user.should_see(marker='detail', retries=PATIENCE)
    await user.should_see('evt-20m')
    await user.should_see('Scope: Service')


async def test_a_link_to_an_event_the_viewer_cannot_see_says_not_found(user: User, accounts, add_events) -> None:
    add_events(event(id='beta-secret', workspace='beta', target='nb-secret'))
    await open_as(user, *ADMIN_A, path='/audit-logs?event=beta-secret')
    await user.should_see('Event not found: the link names no event you can see.')
    await user.should_not_see('nb-secret')
    await user.open('/audit-logs?event=no-such-event')
    await user.should_see('Event not found: the link names no event you can see.', retries=PATIENCE)


async def test_live_tail_shows_new_rows_and_pauses(user: User, accounts, recent, add_events,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_logs, 'LIVE_SECONDS', 0.1)
    table = await open_as(user, *OWNER)
    user.find(marker='live').click()
    await user.should_see('Live', retries=PATIENCE)
    add_events(event(timestamp=datetime.now(UTC).isoformat(), target='nb-live', user='zed@acme.io'))
    await until(lambda: column(table, 'target')[0] == 'nb-live', 'the live row')
    assert table.rows[0].get('fresh') is True
    assert not any(row.get('fresh') for row in table.rows[1:])
    await until(lambda: sum(sum(s['data']) for s in element(user, 'timeline').options['series']) == 7,
                'the timeline to follow')

    seq = table.rows[1]['seq']
    user.find(marker='events').trigger('rowClick', [{}, {'seq': seq}, 1])  # reading a detail pauses
    await user.should_see('Paused: reading an event', retries=PATIENCE)
    add_events(event(timestamp=datetime.now(UTC).isoformat(), target='nb-while-reading'))
    await user.should_see('Paused: reading an event')
    assert 'nb-while-reading' not in column(table, 'target')
    user.find(marker='detail-close').click()
    await until(lambda: column(table, 'target')[0] == 'nb-while-reading', 'the tail to resume')

    add_events(*(event(timestamp=ago(days=40, minutes=i), target=f'old-{i}') for i in range(30)))
    user.find(marker='events').trigger('request', {'pagination': {'page': 2, 'rowsPerPage': 25, 'sortBy': 'timestamp',
                                                                  'descending': True}})
    await until(lambda: table.pagination['page'] == 2, 'page 2')
    await user.should_see('Paused: not on the first page', retries=PATIENCE)
    user.find(marker='live').click()
    await user.should_not_see('Paused: not on the first page')


async def test_workspaces_page_lists_visible_workspaces_with_links(user: User, accounts, recent) -> None:
    await open_as(user, *OWNER)
    await user.open('/workspaces')
    await user.should_see(marker='workspaces', retries=PATIENCE)
    await user.should_see('alpha')
    await user.should_see('beta')
    quota = element(user, 'quota-alpha')
    assert quota.props['href'] == '/audit-logs?scope=Workspace&category=GPU%20Quota&workspace=alpha'
    labels = [e.text for e in user.find(marker='workspaces').elements.pop().descendants() if isinstance(e, ui.label)]
    assert labels[4:8] == ['2', '1', '1', '0']  # alpha: nb-20m (FAILED) and nb-3h in the last 7 days; nb-20d is older
    user.find('Quota changes').click()  # the first one: alpha
    await user.should_see('Workspace: alpha', retries=PATIENCE)
    await user.should_see('Category: GPU Quota')


async def test_an_admin_sees_only_their_workspaces_and_no_organization_policies(user: User, accounts,
                                                                                recent) -> None:
    await open_as(user, *ADMIN_A)
    await user.open('/workspaces')
    await user.should_see(marker='workspace-alpha', retries=PATIENCE)
    await user.should_not_see(marker='workspace-beta')
    await user.open('/policies')
    await user.should_see(marker='no-policies', retries=PATIENCE)
    await user.open('/audit-logs?workspace=beta')  # another workspace in a link: ignored, never shown
    await user.should_see('Ignored workspace "beta" from the link: it is not a workspace you can see.',
                          retries=PATIENCE)
    await user.should_not_see('Workspace: beta')


async def test_policies_page_shows_last_attach_and_detach(user: User, accounts, add_events) -> None:
    def policy(ts: str, action: str, status: str = 'SUCCESS') -> dict:
        return event(timestamp=ts, scope='Organization', category='Policy', action=action, target='AuditViewer',
                     status=status, workspace=None)
    add_events(policy('2026-10-01T08:00:00Z', 'Create Policy'), policy('2026-10-02T09:15:00Z', 'Attach Policy'),
               policy('2026-10-03T10:30:00Z', 'Detach Policy'))
    await open_as(user, *OWNER)
    await user.open('/policies')
    await user.should_see(marker='policy-AuditViewer', retries=PATIENCE)
    await user.should_see('2026-10-02 09:15:00')
    await user.should_see('2026-10-03 10:30:00')
    link = element(user, 'attachments-AuditViewer')
    assert link.props['href'] == '/audit-logs?scope=Organization&category=Policy&search=AuditViewer'


async def test_dark_mode_is_remembered_per_account(user: User, accounts) -> None:
    await open_as(user, *OWNER)
    dark = next(iter(user.find(kind=ui.dark_mode).elements))
    assert dark.value is False
    user.find(marker='dark-mode').click()
    await until(lambda: dark.value is True, 'dark mode')
    assert app.storage.general[f'dark_mode:{OWNER[0]}'] is True
    await user.open('/workspaces')
    await user.should_see(marker='workspaces', retries=PATIENCE)
    assert next(iter(user.find(kind=ui.dark_mode).elements)).value is True
