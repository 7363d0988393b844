"""The HTTP API: appending, reading, tokens and every kind of refusal, against the real store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from nicegui import app as nicegui_app
from nicegui.testing import User

from store.ledger.chain import verify
from store.people.tokens import create_token, list_tokens, revoke_token
from store.read.events import EventFilter, Viewer, count_events, find_events
from tests.conftest import event
from ui.api.schema import MAX_BODY

ORG = Viewer.organization()


@pytest.fixture
def org_token() -> str:
    return create_token('ci', None, 'owner@acme.io')


@pytest.fixture
def alpha_token() -> str:
    return create_token('alpha writer', 'alpha', 'owner@acme.io')


def auth(token: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {token}'}


def stored() -> int:
    return count_events(ORG, EventFilter(scope='Service'))


async def post(api: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await api.post('/api/v1/events', content=content,
                          headers={**auth(token), 'Content-Type': 'application/json'})


# ---- appending ----

async def test_one_event_is_stored_and_answered_with_its_id(api, org_token):
    response = await post(api, org_token, event(id='evt-1'))
    assert response.status_code == 201
    assert response.json() == {'ids': ['evt-1'], 'stored': 1, 'duplicates': 0}
    [stored_event] = find_events(ORG, EventFilter(scope='Service')).events
    assert (stored_event['id'], stored_event['action'], stored_event['workspace']) == ('evt-1', 'Start Notebook',
                                                                                       'alpha')


async def test_a_batch_is_stored_in_order_and_retries_are_not_stored_twice(api, org_token):
    batch = {'events': [event(id=f'b-{i}', target=f'nb-{i}') for i in range(1000)]}
    first = await post(api, org_token, batch)
    assert first.status_code == 201
    assert first.json()['stored'] == 1000 and first.json()['ids'][:2] == ['b-0', 'b-1']
    again = await post(api, org_token, {'events': [*batch['events'][:10], event(id='new')]})
    assert again.json() == {'ids': [*(f'b-{i}' for i in range(10)), 'new'], 'stored': 1, 'duplicates': 10}
    assert stored() == 1001
    assert verify().ok


async def test_generated_ids_and_the_servers_time(api, org_token):
    response = await post(api, org_token, event(timestamp=None))
    [generated] = response.json()['ids']
    assert len(generated) == 36
    [stored_event] = find_events(ORG, EventFilter(scope='Service')).events
    assert stored_event['id'] == generated and stored_event['timestamp'].year >= 2026


@pytest.mark.parametrize(('body', 'status', 'field', 'index'), [
    ({'events': [event(), event(scope='Galaxy')]}, 422, 'scope', 1),
    ({'events': [event(), event(), event(category='Credit')]}, 422, 'category', 2),
    ({'events': [event(status='MAYBE')]}, 422, 'status', 0),
    ({'events': [event(timestamp='yesterday')]}, 422, 'timestamp', 0),
    ({'events': [event(timestamp=12)]}, 422, 'timestamp', 0),
    ({'events': [event(user=42)]}, 422, 'user', 0),
    ({'events': [event(description='x' * 4001)]}, 422, 'description', 0),
    ({'events': [event(action=None)]}, 422, 'action', 0),
    ({'events': [event(colour='red')]}, 422, 'colour', 0),
    ({'events': [event(metadata=[1])]}, 422, 'metadata', 0),
    ({'events': [event(), 'not an object']}, 422, 'event', 1),
    (event(scope='Galaxy'), 422, 'scope', None),
    ({'events': [event()] * 1001}, 400, 'events', None),
    ({'events': []}, 400, 'events', None),
    ({'events': {'a': 1}}, 400, 'events', None),
    ({'events': [event()], 'extra': 1}, 400, 'extra', None),
    ([event()], 400, 'body', None),
])
async def test_bad_input_is_refused_naming_the_field_and_index_and_nothing_is_stored(api, org_token, body, status,
                                                                                      field, index):
    response = await post(api, org_token, body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer['field'] == field
    assert answer.get('index') == index
    assert field in answer['detail']
    if index is not None:
        assert answer['detail'].startswith(f'event {index}: ')
    assert stored() == 0


@pytest.mark.parametrize(('content', 'message'), [
    (b'{"user": "a@acme.io", ', 'is not valid JSON'),
    (b'', 'is empty'),
    (b'\xff\xfe{}', 'not UTF-8'),
    (b'null', 'must be an event object'),
    (b'{"events": [' + b'[' * 100_000 + b']' * 100_000 + b']}', 'nested too deeply'),
    (b'{"user": "a@acme.io", "metadata": {"x": NaN}}', 'NaN is not a JSON number'),
    (b'{"user": "a@acme.io", "metadata": {"x": 1e999}}', 'too large a number'),
    (b'{"user": "a@acme.io", "metadata": {"x": ' + b'9' * 5000 + b'}}', 'not valid JSON'),
])
async def test_malformed_bodies_get_400(api, org_token, content, message):
    response = await post(api, org_token, content)
    assert response.status_code == 400
    assert response.json()['field'] == 'body' and message in response.json()['detail']


async def test_text_that_is_not_unicode_is_refused_with_its_index(api, org_token):
    lone = json.dumps(event(target='x')).replace('"x"', '"\\ud800"')
    body = f'{{"events": [{json.dumps(event())}, {lone}]}}'
    response = await post(api, org_token, body.encode())
    assert response.status_code == 422
    assert (response.json()['field'], response.json()['index']) == ('target', 1)
    assert stored() == 0


async def test_a_body_over_one_mib_gets_413_before_it_is_read(api, org_token):
    big = b'{"events": [' + b' ' * MAX_BODY + b']}'
    response = await post(api, org_token, big)
    assert response.status_code == 413 and response.json()['field'] == 'body'

    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(10_000):  # 640 MB if it were all read
            consumed += 65536
            yield b' ' * 65536

    response = await api.post('/api/v1/events', content=endless(), headers=auth(org_token))
    assert response.status_code == 413
    assert consumed <= MAX_BODY + 2 * 65536
    assert stored() == 0


async def test_tokens_are_required_and_revoked_ones_refused(api, org_token):
    assert (await api.get('/api/v1/taxonomy')).status_code == 401
    missing = await api.post('/api/v1/events', json=event())
    assert missing.status_code == 401 and missing.headers['www-authenticate'] == 'Bearer'
    assert (await post(api, 'al_wrong', event())).status_code == 401
    assert (await api.get('/api/v1/events', headers={'Authorization': 'Basic abc'})).status_code == 401
    [token] = list_tokens()
    revoke_token(token.id, 'owner@acme.io')
    assert (await post(api, org_token, event())).status_code == 401
    assert stored() == 0


async def test_a_workspace_token_writes_and_reads_only_its_workspace(api, org_token, alpha_token, add_events):
    add_events(event(id='in-beta', workspace='beta'), event(id='org-wide', workspace=None))
    ok = await post(api, alpha_token, {'events': [event(id='a1'), event(id='a2')]})
    assert ok.status_code == 201
    for bad, index in (([event(id='a3'), event(workspace='beta')], 1), ([event(workspace=None)], 0)):
        refused = await post(api, alpha_token, {'events': bad})
        assert refused.status_code == 403
        assert (refused.json()['field'], refused.json()['index']) == ('workspace', index)
    listed = (await api.get('/api/v1/events', headers=auth(alpha_token))).json()
    assert sorted(e['id'] for e in listed['events']) == ['a1', 'a2'] and listed['total'] == 2
    other = await api.get('/api/v1/events', params={'workspace': 'beta'}, headers=auth(alpha_token))
    assert other.status_code == 403 and other.json()['field'] == 'workspace'
    everything = (await api.get('/api/v1/events', params={'scope': 'Service'}, headers=auth(org_token))).json()
    assert everything['total'] == 4


async def test_no_method_edits_or_deletes_an_event(api, org_token):
    await post(api, org_token, event(id='keep'))
    for method in ('PUT', 'PATCH', 'DELETE'):
        for path in ('/api/v1/events', '/api/v1/events/keep'):
            response = await api.request(method, path, headers=auth(org_token), json=event(description='edited'))
            assert response.status_code == 405, (method, path)
    [kept] = find_events(ORG, EventFilter(scope='Service')).events
    assert kept['description'] == 'Started notebook nb-1'


def test_group_commit_keeps_each_request_all_or_nothing():
    from datetime import UTC, datetime

    from store.ledger.validation import NewEvent, validate_event
    from store.write.ingest import prepare
    from ui.api.group_commit import GroupCommit, _Waiting

    first = _Waiting(prepare([validate_event(event(id='g1')), validate_event(event(id='g2'))]))
    same_ids = _Waiting(prepare([validate_event(event(id='g2')), validate_event(event(id='g3'))]))
    GroupCommit._write([first, same_ids])  # one transaction; an id of an earlier request is a duplicate
    assert (first.result.stored, first.result.duplicates) == (2, 0)
    assert (same_ids.result.stored, same_ids.result.duplicates, same_ids.result.ids) == (1, 1, ['g2', 'g3'])

    broken = NewEvent('bad', datetime.now(UTC), 'a@acme.io', 'Service', 'AI Notebook', 'Start', '', 'MAYBE', '',
                      None, None)  # refused by the database's CHECK, not by validation
    good, bad = _Waiting(prepare([validate_event(event(id='g4'))])), _Waiting(prepare([broken]))
    GroupCommit._write([good, bad])
    assert good.result.stored == 1 and bad.error is not None and bad.result is None
    assert stored() == 4
    assert verify().ok


# ---- reading ----

async def test_reading_newest_first_with_a_stable_keyset_cursor(api, org_token, add_events):
    add_events(*[event(id=f'e{i:02}', timestamp=f'2026-10-01T08:00:{i:02}Z') for i in range(25)])
    page = {'limit': 10, 'scope': 'Service'}
    first = (await api.get('/api/v1/events', params=page, headers=auth(org_token))).json()
    assert [e['id'] for e in first['events']] == [f'e{i:02}' for i in range(24, 14, -1)]
    assert first['total'] == 25 and first['next_cursor']
    add_events(event(id='newer', timestamp='2026-10-02T00:00:00Z'))  # arrives between two pages
    second = (await api.get('/api/v1/events', params={**page, 'cursor': first['next_cursor']},
                            headers=auth(org_token))).json()
    assert [e['id'] for e in second['events']] == [f'e{i:02}' for i in range(14, 4, -1)]
    third = (await api.get('/api/v1/events', params={**page, 'cursor': second['next_cursor']},
                           headers=auth(org_token))).json()
    assert [e['id'] for e in third['events']] == [f'e{i:02}' for i in range(4, -1, -1)]
    assert third['next_cursor'] is None and third['total'] == 26


async def test_events_in_json_use_the_field_names(api, org_token, add_events):
    add_events(event(id='x', timestamp='2026-10-01T10:00:00+02:00', metadata={'ip': '192.0.2.1'}))
    [answer] = (await api.get('/api/v1/events', params={'scope': 'Service'}, headers=auth(org_token))).json()['events']
    assert answer == {
        'id': 'x', 'timestamp': '2026-10-01T08:00:00.000Z', 'user': 'alice@acme.io', 'scope': 'Service',
        'category': 'AI Notebook', 'action': 'Start Notebook', 'target': 'nb-1', 'status': 'SUCCESS',
        'description': 'Started notebook nb-1', 'workspace': 'alpha', 'metadata': {'ip': '192.0.2.1'},
        'hash': answer['hash']}
    assert len(answer['hash']) == 64


async def test_the_filters_of_the_page(api, org_token, add_events):
    add_events(
        event(id='1', scope='Billing', category='Credit', action='Add Credit', status='FAILED', user='bob@acme.io',
              timestamp='2026-10-01T00:00:00Z', workspace='beta'),
        event(id='2', description='GPU quota raised', timestamp='2026-10-02T00:00:00Z'),
        event(id='3', timestamp='2026-10-03T00:00:00Z'))

    async def ids(**params: str) -> list[str]:
        response = await api.get('/api/v1/events', params=params, headers=auth(org_token))
        assert response.status_code == 200, response.text
        return [e['id'] for e in response.json()['events']]

    assert await ids(scope='Billing', category='Credit') == ['1']
    assert await ids(status='FAILED') == ['1']
    assert await ids(user='bob@acme.io') == ['1']
    assert await ids(workspace='alpha', search='quota') == ['2']
    assert await ids(since='2026-10-02', until='2026-10-03T00:00:00Z') == ['2']
    assert await ids(scope='Billing', category='Member') == []  # each parameter valid alone: nothing matches both


async def test_the_schema_states_every_rule_of_the_parameters(user: User, org_token):
    """Schemathesis generates requests from these (tests/test_api_contract.py); here the bounds themselves."""
    spec = (await user.http_client.get('/openapi.json')).json()
    params = {p['name']: p['schema'] for p in spec['paths']['/api/v1/events']['get']['parameters']}
    assert params['limit'] == {'type': 'integer', 'minimum': 1, 'maximum': 1000, 'default': 100}
    assert params['scope']['enum'] == ['Organization', 'Billing', 'Workspace', 'Service']
    assert params['status']['enum'] == ['SUCCESS', 'FAILED']
    assert params['since']['format'] == params['until']['format'] == 'date-time'
    assert params['search']['maxLength'] == 200
    event = spec['paths']['/api/v1/events']['post']['requestBody']['content']['application/json']['schema']['oneOf'][0]
    assert event['required'] == ['user', 'scope', 'category', 'action']
    assert event['properties']['description']['anyOf'][0]['maxLength'] == 4000
    assert event['properties']['user']['maxLength'] == 320
    billing = next(branch for branch in event['oneOf'] if branch['properties']['scope']['const'] == 'Billing')
    assert billing['properties']['category']['enum'] == ['Credit', 'Payment', 'Plan', 'Voucher']


async def test_any_cursor_of_the_schemas_form_is_a_position(api, org_token, add_events):
    add_events(event(id='only'))
    for cursor in ('ffffffffffffffffffffffff', '000000000000000000000000'):
        response = await api.get('/api/v1/events', params={'cursor': cursor}, headers=auth(org_token))
        assert response.status_code == 200, response.text
    assert response.json()['events'] == []  # before the first millisecond of 1970: nothing


async def test_options_lists_the_methods_of_events(api):
    response = await api.options('/api/v1/events')
    assert response.status_code == 204 and response.headers['allow'] == 'GET, POST, OPTIONS'
    assert (await api.request('TRACE', '/api/v1/events')).headers['allow'] == 'GET, POST, OPTIONS'


@pytest.mark.parametrize(('params', 'field'), [
    ({'scope': 'Galaxy'}, 'scope'), ({'scope': ''}, 'scope'), ({'status': ''}, 'status'), ({'since': ''}, 'since'),
    ({'limit': '\u00b2'}, 'limit'), ({'limit': ''}, 'limit'), ({'search': 'a\x00'}, 'search'),
    ({'category': 'Nope'}, 'category'), ({'status': 'ok'}, 'status'), ({'since': 'last week'}, 'since'),
    ({'until': '2026-13-01'}, 'until'), ({'limit': '0'}, 'limit'), ({'limit': 'ten'}, 'limit'),
    ({'limit': '1001'}, 'limit'), ({'cursor': 'not-a-cursor'}, 'cursor'), ({'search': 'x' * 201}, 'search'),
])
async def test_bad_parameters_get_400_naming_them(api, org_token, params, field):
    response = await api.get('/api/v1/events', params=params, headers=auth(org_token))
    assert response.status_code == 400, response.text
    assert response.json()['field'] == field


async def test_taxonomy(api, org_token):
    response = await api.get('/api/v1/taxonomy', headers=auth(org_token))
    assert response.json()['Billing'] == ['Credit', 'Payment', 'Plan', 'Voucher']
    assert list(response.json()) == ['Organization', 'Billing', 'Workspace', 'Service']


# ---- served by the app: docs, and outside NiceGUI's per-request storage ----

async def test_docs_describe_the_api(user: User, org_token):
    docs = await user.http_client.get('/docs')
    assert docs.status_code == 200 and 'swagger' in docs.text.lower()
    spec = (await user.http_client.get('/openapi.json')).json()
    assert set(spec['paths']) == {'/api/v1/events', '/api/v1/taxonomy'}
    post_spec = spec['paths']['/api/v1/events']['post']
    assert {'201', '400', '401', '403', '413', '422'} <= set(post_spec['responses'])
    assert 'events' in json.dumps(post_spec['requestBody'])


async def test_cookieless_api_calls_create_no_user_storage(user: User, org_token):
    users = nicegui_app.storage._users  # NiceGUI's per-session storages, created by its middleware
    before = len(users)
    for _ in range(30):
        user.http_client.cookies.clear()
        response = await user.http_client.get('/api/v1/taxonomy', headers=auth(org_token))
        assert response.status_code == 200 and 'set-cookie' not in response.headers
        user.http_client.cookies.clear()
        response = await user.http_client.post('/api/v1/events', json=event(), headers=auth(org_token))
        assert response.status_code == 201
    assert len(users) == before
    user.http_client.cookies.clear()
    await user.http_client.get('/login')  # a page request without a cookie does create one: the check can see it
    assert len(users) == before + 1
