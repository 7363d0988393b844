"""One rule on every path: a Workspace Admin of alpha never sees an event of beta nor an organization-wide
event; an owner sees both. Each path that reads events is checked here side by side."""

from __future__ import annotations

import csv
import json

import httpx
import pytest
from nicegui.testing import User

from store.people.tokens import create_token
from store.read.events import EventFilter, Sort, count_events, find_events, iter_events, page_after, visible_users
from store.read.export import export_to_file
from tests.conftest import ADMIN_A, OWNER, event
from tests.ui.helpers import sign_in
from ui.api.application import create_api


@pytest.fixture
def two_workspaces(add_events, accounts):
    add_events(
        event(id='a1', workspace='alpha', target='alpha-thing', user='ann@acme.io'),
        event(id='b1', workspace='beta', target='beta-thing', user='bea@acme.io', description='secret beta work'),
        event(id='o1', workspace=None, scope='Billing', category='Credit', action='Add Credit', target='org-credit',
              user='bill@acme.io'),
    )
    return accounts


def ids(events) -> set[str]:
    return {e['id'] for e in events}


def test_store_reads(two_workspaces):
    alpha, owner = two_workspaces['admin_a'].viewer(), two_workspaces['owner'].viewer()
    for flt in (EventFilter(), EventFilter(search='beta'), EventFilter(workspace='beta'), EventFilter(scope='Billing'),
                EventFilter(user='bea@acme.io')):
        assert ids(find_events(alpha, flt).events) <= {'a1'}
        assert count_events(alpha, flt) == len(ids(find_events(alpha, flt).events))
        assert ids(iter_events(alpha, flt)) <= {'a1'}
        assert ids(page_after(alpha, flt, None, 100).events) <= {'a1'}
    assert visible_users(alpha) == ['ann@acme.io']
    assert ids(find_events(owner, EventFilter()).events) >= {'a1', 'b1', 'o1'}


def test_export(two_workspaces, tmp_path):
    for account, expected in (('admin_a', {'alpha-thing'}), ('owner', {'alpha-thing', 'beta-thing', 'org-credit'})):
        path = tmp_path / f'{account}.csv'
        export_to_file(path, two_workspaces[account].viewer(), EventFilter(), Sort(), account)
        targets = {row['Target'] for row in csv.DictReader(path.open(encoding='utf-8-sig'))}
        assert {t for t in targets if t.endswith(('-thing', '-credit'))} == expected


async def test_api_reads(two_workspaces):
    alpha_token = create_token('alpha reader', 'alpha', OWNER[0])
    org_token = create_token('org reader', None, OWNER[0])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(create_api()), base_url='http://test') as api:
        for query in ('', '?workspace=beta', '?search=beta', '?scope=Billing', '?user=bea@acme.io'):
            response = await api.get(f'/api/v1/events{query}', headers={'Authorization': f'Bearer {alpha_token}'})
            if response.status_code == 200:
                body = response.json()
                assert ids(body['events']) <= {'a1'} and body['total'] == len(body['events'])
            else:
                assert response.status_code == 403, response.text
        response = await api.get('/api/v1/events', headers={'Authorization': f'Bearer {org_token}'})
        assert ids(response.json()['events']) >= {'a1', 'b1', 'o1'}


@pytest.mark.parametrize('query', ['', '?search=beta', '?workspace=beta', '?scope=Billing&category=Credit',
                                   '?user=bea@acme.io'])
async def test_page_and_deep_links(user: User, two_workspaces, query: str) -> None:
    from nicegui import ui

    await sign_in(user, *ADMIN_A)
    await user.open(f'/audit-logs{query}')
    await user.should_see(marker='events', retries=100)
    table = next(iter(user.find(ui.table).elements))
    targets = {row['target'] for row in table.rows}
    assert not targets & {'beta-thing', 'org-credit'}
    assert table.pagination['rowsNumber'] == len(table.rows)
    assert 'secret beta work' not in json.dumps(table.rows)
