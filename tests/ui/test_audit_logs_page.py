"""The Audit Logs page's logic with NiceGUI's simulated user, against a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nicegui import ui
from nicegui.testing import User

from store.read.events import EventFilter, EventPage, Sort, Viewer, find_events
from tests.conftest import ADMIN_A, OWNER, event
from ui.audit_logs import export_dialog
from ui.audit_logs.event_table import EventTable, read_pagination
from ui.audit_logs.filter_state import FilterState
from ui.shell import db


async def until(condition: Callable[[], Any], what: str = 'condition') -> None:
    """Wait for a background handler to finish (a bounded wait, not a timing assertion)."""
    for _ in range(250):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f'gave up waiting for {what}')


async def open_as(user: User, email: str, password: str, path: str = '/audit-logs') -> ui.table:
    await user.open(path)
    user.find('Email').type(email)
    user.find('Password').type(password)
    user.find('Log in').click()
    await user.should_see(marker='events', retries=100)  # argon2 takes a moment on a busy machine
    return table_of(user)


def table_of(user: User) -> ui.table:
    return next(iter(user.find(marker='events').elements))


def column(table: ui.table, name: str) -> list[Any]:
    return [row[name] for row in table.rows]


def choose(user: User, marker: str, option: str) -> None:
    user.find(marker=marker).click()
    user.find(option).click()


@pytest.fixture
def mixed_events(add_events) -> None:
    add_events(
        event(timestamp='2026-10-01T08:00:00Z', user='carol@acme.io', scope='Billing', category='Credit',
              action='Add Credit', target='credit-1', description='Added $500 in credits', workspace=None),
        event(timestamp='2026-10-02T08:00:00Z', user='dave@acme.io', scope='Billing', category='Payment',
              action='Charge Card', target='inv-7', status='FAILED', description='Card declined', workspace=None),
        event(timestamp='2026-10-03T08:00:00Z', user='erin@acme.io', scope='Workspace', category='GPU Quota',
              action='Change Quota', target='alpha/H100', description='Raised gpu quota', workspace='alpha'),
        event(timestamp='2026-10-04T08:00:00Z', user='frank@acme.io', scope='Service', category='AI Notebook',
              action='Start Notebook', target='nb-beta', description='Started nb-beta', workspace='beta'),
    )


# --- the filter state: pure logic -------------------------------------------------------------------------------

def test_filter_state_round_trips_through_the_url() -> None:
    state = FilterState().with_search('  gpu ').with_scope('Workspace').with_category('GPU Quota')
    assert state.url() == '/audit-logs?scope=Workspace&category=GPU%20Quota&search=gpu'
    assert FilterState.from_query({'scope': 'Workspace', 'category': 'GPU Quota', 'search': 'gpu'}) == (state, [])
    assert state.to_filter() == EventFilter(search='gpu', scope='Workspace', category='GPU Quota')
    assert state.chips() == [('scope', 'Scope: Workspace'), ('category', 'Category: GPU Quota'),
                             ('search', 'Search: gpu')]
    assert FilterState().url() == '/audit-logs'


def test_scope_changes_keep_only_categories_of_the_scope() -> None:
    member = FilterState().with_scope('Organization').with_category('Member')
    assert member.with_scope('Workspace').category == 'Member'  # Workspace has a Member category too
    assert member.with_scope('Billing').category is None
    assert member.without('scope') == FilterState()
    assert FilterState().with_category('Credit').category is None  # no scope, no category
    assert FilterState().with_scope('Billing').with_category('Member').category is None


def test_bad_link_values_are_ignored_with_a_notice() -> None:
    state, notices = FilterState.from_query({'scope': 'Galaxy', 'category': 'Credit', 'search': 'x' * 500})
    assert state == FilterState(search='x' * 200)
    assert notices == ['Ignored unknown scope "Galaxy" from the link.',
                       'Ignored category "Credit" from the link: choose a scope first.']
    state, notices = FilterState.from_query({'scope': 'Billing', 'category': 'AI Notebook'})
    assert state == FilterState(scope='Billing')
    assert notices == ['Ignored category "AI Notebook" from the link: it is not a category of Billing.']


def test_unexpected_pagination_falls_back_to_defaults() -> None:
    assert read_pagination({'sortBy': 'hash; DROP', 'descending': None, 'rowsPerPage': 7, 'page': -3}) == \
        (Sort('timestamp', True), 1, 50)
    assert read_pagination({'sortBy': 'user', 'descending': False, 'rowsPerPage': 25, 'page': 4}) == \
        (Sort('user', False), 4, 25)


# --- the page -----------------------------------------------------------------------------------------------------

async def test_opens_on_every_visible_event_newest_first(user: User, accounts, mixed_events) -> None:
    table = await open_as(user, *OWNER)
    assert [c['label'] for c in table.columns] == ['Timestamp', 'User', 'Scope', 'Category', 'Action', 'Target',
                                                   'Status', 'Description']
    assert table.columns[0]['tooltip'] == 'Shown in time zone UTC'
    assert column(table, 'user')[1:] == ['frank@acme.io', 'erin@acme.io', 'dave@acme.io', 'carol@acme.io']
    assert column(table, 'action')[0] == 'Sign In'  # the owner's own sign-in, just now
    assert table.rows[-1]['timestamp'] == '2026-10-01 08:00:00'
    assert table.pagination['rowsNumber'] == 5
    assert table.pagination['rowsPerPage'] == 50
    assert table.props['rows-per-page-options'] == [25, 50, 100]


async def test_a_workspace_admin_sees_only_their_workspace(user: User, accounts, mixed_events) -> None:
    table = await open_as(user, *ADMIN_A)
    await user.should_see('Workspace: alpha')
    assert column(table, 'target') == ['alpha/H100']
    assert table.pagination['rowsNumber'] == 1
    table_element = user.find(marker='events')
    table_element.trigger('request', {'pagination': {'page': 1, 'rowsPerPage': 100, 'sortBy': 'user',
                                                     'descending': False}})
    await until(lambda: table.pagination['rowsPerPage'] == 100, 'the reload')
    assert column(table, 'target') == ['alpha/H100']


async def test_scope_enables_category_with_its_options_and_chips_follow(user: User, accounts, mixed_events,
                                                                        url_changes) -> None:
    table = await open_as(user, *OWNER)
    category = next(iter(user.find(marker='category').elements))
    assert not category.enabled
    choose(user, 'scope', 'Billing')
    await until(lambda: table.pagination['rowsNumber'] == 2, 'the Billing events')
    assert category.enabled
    assert list(category.options.values()) == ['', 'Credit', 'Payment', 'Plan', 'Voucher']
    await user.should_see('Scope: Billing')
    assert url_changes[-1] == '/audit-logs?scope=Billing'

    choose(user, 'category', 'Payment')
    await until(lambda: table.pagination['rowsNumber'] == 1, 'the Payment events')
    assert column(table, 'status') == ['FAILED']
    await user.should_see('Category: Payment')
    assert url_changes[-1] == '/audit-logs?scope=Billing&category=Payment'

    choose(user, 'scope', 'Service')  # Payment is no category of Service: it goes
    await until(lambda: column(table, 'user') == ['frank@acme.io'], 'the Service events')
    assert category.value is None
    assert list(category.options.values()) == ['', 'AI Notebook', 'GPU Container', 'AI Inference']
    await user.should_not_see('Category: Payment')
    assert url_changes[-1] == '/audit-logs?scope=Service'

    user.find(marker='scope').clear()  # the blank option
    await until(lambda: table.pagination['rowsNumber'] == 5, 'every event')
    assert not category.enabled
    await user.should_not_see('Scope: Service')
    assert url_changes[-1] == '/audit-logs'


async def test_each_chip_clears_its_filter_and_scope_takes_category_along(user: User, accounts, mixed_events,
                                                                          url_changes) -> None:
    table = await open_as(user, *OWNER, path='/audit-logs?scope=Billing&category=Credit&search=credits')
    assert column(table, 'target') == ['credit-1']
    for text in ('Scope: Billing', 'Category: Credit', 'Search: credits'):
        await user.should_see(text)
    search = next(iter(user.find(marker='search').elements))
    assert search.value == 'credits'

    with user:
        next(iter(user.find(marker='chip-search').elements)).value = False
    await until(lambda: search.value == '', 'the search to clear')
    await user.should_not_see('Search: credits')
    assert url_changes[-1] == '/audit-logs?scope=Billing&category=Credit'

    with user:
        next(iter(user.find(marker='chip-scope').elements)).value = False
    await until(lambda: table.pagination['rowsNumber'] == 5, 'every event')
    await user.should_not_see('Category: Credit')
    assert next(iter(user.find(marker='category').elements)).value is None
    assert url_changes[-1] == '/audit-logs'


async def test_search_is_one_input_over_the_text_columns(user: User, accounts, mixed_events) -> None:
    table = await open_as(user, *OWNER)
    user.find(marker='search').type('GPU')
    await until(lambda: table.pagination['rowsNumber'] == 1, 'the search')
    assert column(table, 'target') == ['alpha/H100']
    await user.should_see('Search: GPU')
    user.find(marker='search').clear()
    await until(lambda: table.pagination['rowsNumber'] == 5, 'every event')
    user.find(marker='search').type('dave@')
    await until(lambda: column(table, 'user') == ['dave@acme.io'], 'the user search')


async def test_enter_searches_what_is_typed_without_waiting_for_the_model(user: User, accounts, mixed_events) -> None:
    """Enter sends the input's text as typed (the browser's, before the debounce updates the model)."""
    table = await open_as(user, *OWNER)
    search = user.find(marker='search')
    search.trigger('keydown.enter', 'GPU')
    await until(lambda: table.pagination['rowsNumber'] == 1, 'the search on Enter')
    assert column(table, 'target') == ['alpha/H100']
    await user.should_see('Search: GPU')
    search.trigger('keydown.enter', '')
    await until(lambda: table.pagination['rowsNumber'] == 5, 'every event again')


async def test_a_bad_link_shows_a_notice_not_an_error(user: User, accounts, mixed_events) -> None:
    table = await open_as(user, *OWNER, path='/audit-logs?scope=Galaxy&category=Credit')
    await user.should_see('Ignored unknown scope "Galaxy" from the link.')
    await user.should_see('Ignored category "Credit" from the link: choose a scope first.')
    assert table.pagination['rowsNumber'] == 5


async def test_empty_state_offers_to_clear_the_filters(user: User, accounts, mixed_events) -> None:
    table = await open_as(user, *OWNER, path='/audit-logs?search=no-such-thing')
    assert table.rows == []
    await user.should_see('No events match these filters.')
    user.find('Clear filters').click()
    await until(lambda: table.pagination['rowsNumber'] == 5, 'every event')
    await user.should_not_see('Search: no-such-thing')


async def test_refresh_shows_new_events_and_keeps_the_view(user: User, accounts, mixed_events, add_events) -> None:
    table = await open_as(user, *OWNER, path='/audit-logs?scope=Billing')
    user.find(marker='events').trigger('request', {'pagination': {'page': 1, 'rowsPerPage': 25, 'sortBy': 'user',
                                                                  'descending': False}})
    await until(lambda: table.pagination['rowsPerPage'] == 25, 'the sort')
    add_events(event(user='bob@acme.io', scope='Billing', category='Voucher', action='Redeem Voucher',
                     target='V-1', description='Redeemed', workspace=None))
    user.find('Refresh').click()
    await until(lambda: table.pagination['rowsNumber'] == 3, 'the new event')
    assert column(table, 'user') == ['bob@acme.io', 'carol@acme.io', 'dave@acme.io']
    assert (table.pagination['sortBy'], table.pagination['descending'], table.pagination['rowsPerPage']) == \
        ('user', False, 25)
    await user.should_see('Scope: Billing')


async def test_paging_and_sorting_happen_on_the_server(user: User, accounts, add_events) -> None:
    add_events(*(event(timestamp=f'2026-10-01T08:{i // 60:02d}:{i % 60:02d}Z', user=f'u{i:03d}@acme.io',
                       target=f'nb-{i}') for i in range(120)))
    table = await open_as(user, *OWNER)
    assert len(table.rows) == 50 and table.pagination['rowsNumber'] == 121
    element = user.find(marker='events')
    element.trigger('request', {'pagination': {'page': 3, 'rowsPerPage': 50, 'sortBy': 'user', 'descending': False}})
    await until(lambda: table.pagination['page'] == 3, 'page 3')
    assert len(table.rows) == 21
    assert column(table, 'user') == [f'u{i:03d}@acme.io' for i in range(99, 120)]
    element.trigger('request', {'pagination': {'page': 2, 'rowsPerPage': 100, 'sortBy': 'timestamp',
                                               'descending': False}})
    await until(lambda: table.pagination['rowsPerPage'] == 100, 'page size 100')
    assert len(table.rows) == 21
    assert column(table, 'user')[0] == 'u100@acme.io'


async def test_export_passes_the_current_filter_and_sort(user: User, accounts, mixed_events,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    async def export_view(account, flt, sort) -> None:
        calls.append((account.email, flt, sort))
    monkeypatch.setattr(export_dialog, 'export_view', export_view)
    table = await open_as(user, *OWNER, path='/audit-logs?scope=Billing&search=card')
    user.find(marker='events').trigger('request', {'pagination': {'page': 1, 'rowsPerPage': 50, 'sortBy': 'status',
                                                                  'descending': False}})
    await until(lambda: table.pagination['sortBy'] == 'status', 'the sort')
    user.find('Export').click()
    await until(lambda: calls, 'the export')
    assert calls == [(OWNER[0], EventFilter(search='card', scope='Billing'), Sort('status', False))]


async def test_a_row_opens_its_detail(user: User, accounts, add_events) -> None:
    add_events(event(description='x' * 300 + ' the end', metadata={'ip': '10.0.0.7'}, id='evt-42'))
    table = await open_as(user, *OWNER)
    seq = next(row['seq'] for row in table.rows if row['action'] == 'Start Notebook')
    user.find(marker='events').trigger('rowClick', [{}, {'seq': seq}, 1])
    await user.should_see('evt-42')
    await user.should_see('"ip": "10.0.0.7"')
    await user.should_see('x' * 300 + ' the end')


async def test_a_stale_response_never_overwrites_a_newer_one(user: User, accounts, add_events) -> None:
    add_events(*(event(timestamp=f'2026-10-01T08:00:{i:02d}Z', target=f'nb-{i}') for i in range(30)))
    viewer = Viewer.organization()
    gate = asyncio.Event()
    holder: dict[str, EventTable] = {}

    async def fetch(sort: Sort, offset: int, limit: int) -> EventPage:
        if offset == 0 and not gate.is_set():
            await gate.wait()  # the first request is slow: it answers after the second
        return await db.call(find_events, viewer, EventFilter(), sort, offset, limit)

    @ui.page('/stale')
    async def stale_page() -> None:
        first = await db.call(find_events, viewer, EventFilter(), Sort(), 10, 10)
        holder['table'] = EventTable(fetch, ZoneInfo('UTC'), first, page_size=25)

    await open_as(user, *OWNER)  # pages need a session
    await user.open('/stale')
    table = holder['table']
    slow = asyncio.create_task(table.load({'page': 1, 'rowsPerPage': 25}))
    await asyncio.sleep(0)
    await table.load({'page': 2, 'rowsPerPage': 25})
    assert column(table.table, 'target') == [f'nb-{i}' for i in range(5, -1, -1)]  # the sign-in event is newest
    gate.set()
    await slow
    assert table.table.pagination['page'] == 2
    assert column(table.table, 'target') == [f'nb-{i}' for i in range(5, -1, -1)]  # the sign-in event is newest
    assert not table.progress.visible
