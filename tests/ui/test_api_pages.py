"""The API's cursor pages and the page's offset pages are one walk: the same events in the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from store.ledger.validation import validate_event
from store.people.tokens import create_token
from store.read.events import EventFilter, Sort, Viewer, find_events
from store.write.ingest import append_events
from store.write.seed import demo_events
from tests.conftest import event

END = datetime(2026, 10, 1, tzinfo=UTC)
VIEWS: list[dict[str, str]] = [
    {}, {'scope': 'Service'}, {'scope': 'Billing', 'category': 'Credit'}, {'status': 'FAILED'},
    {'user': 'alice@acme.io'}, {'workspace': 'research'},
    {'since': '2026-08-15T00:00:00Z', 'until': '2026-09-10T00:00:00Z'},
    {'search': 'a'}, {'search': 'nb'}, {'search': 'nb-'}, {'search': 'notebook'}, {'search': 'failed'},
    {'search': 'alice'}, {'search': 'credit', 'status': 'SUCCESS'},
    {'search': 'gpu', 'scope': 'Service', 'workspace': 'research'},
]


@pytest.fixture
def stored() -> None:
    """Demo events, and bursts that share one millisecond (a cursor falls inside them)."""
    append_events(list(demo_events(1_200, seed=7, end=END)))
    for n, moment in enumerate((END - timedelta(days=3), END - timedelta(days=40))):
        stamp = moment.isoformat().replace('+00:00', 'Z')
        append_events([validate_event(event(id=f'burst-{n}-{i}', timestamp=stamp, target=f'nb-burst-{i}',
                                            workspace=('research', 'alpha')[i % 2],
                                            status=('SUCCESS', 'FAILED')[i % 3 == 0]))
                       for i in range(45)])


def filter_of(params: dict[str, str]) -> EventFilter:
    times = {key: datetime.fromisoformat(params[key]) for key in ('since', 'until') if key in params}
    return EventFilter(**{**{k: v for k, v in params.items() if k not in times}, **times})


def page_walk(viewer: Viewer, flt: EventFilter) -> list[str]:
    """Every event of the view in the page's order, page by page as the table reads them."""
    ids: list[str] = []
    while True:
        page = find_events(viewer, flt, Sort(), offset=len(ids), limit=100)
        ids += [e['id'] for e in page.events]
        if len(ids) >= page.total:
            return ids


async def cursor_walk(api: httpx.AsyncClient, token: str, params: dict[str, str],
                      between_pages: Any = None) -> tuple[list[str], set[int]]:
    ids: list[str] = []
    totals: set[int] = set()
    cursor = None
    for _ in range(200):  # a cursor that does not move on would walk forever
        query = {**params, 'limit': '23', **({'cursor': cursor} if cursor else {})}
        response = await api.get('/api/v1/events', params=query, headers={'Authorization': f'Bearer {token}'})
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [e['id'] for e in body['events']]
        totals.add(body['total'])
        cursor = body['next_cursor']
        if cursor is None:
            return ids, totals
        if between_pages:
            between_pages()
    raise AssertionError(f'the walk of {params} did not end after 200 pages')


@pytest.mark.parametrize('workspace', [None, 'research'], ids=['organization', 'workspace'])
async def test_cursor_pages_walk_the_page_order_of_every_view(api, stored, workspace):
    token = create_token('walker', workspace, 'owner@acme.io')
    viewer = Viewer.organization() if workspace is None else Viewer.of_workspaces('t', {workspace})
    for params in VIEWS:
        if workspace and params.get('workspace') not in (None, workspace):
            continue
        expected = page_walk(viewer, filter_of(params))
        walked, totals = await cursor_walk(api, token, params)
        assert walked == expected, params
        assert totals == {len(expected)}, params
        assert expected or workspace, params  # Billing and Organization events belong to no workspace


async def test_events_appended_during_a_walk_neither_shift_nor_repeat_it(api, stored):
    token = create_token('walker', None, 'owner@acme.io')
    arrivals = iter(range(1_000))

    def append_live() -> None:
        now = datetime.now(UTC).isoformat().replace('+00:00', 'Z')
        append_events([validate_event(event(id=f'live-{next(arrivals)}', timestamp=now, target='nb-live'))
                       for _ in range(5)])

    for params in ({}, {'search': 'nb-'}, {'scope': 'Service', 'category': 'AI Notebook'}):
        expected = page_walk(Viewer.organization(), filter_of(params))
        walked, _ = await cursor_walk(api, token, params, between_pages=append_live)
        assert walked == expected, params
        assert len(set(walked)) == len(walked)
