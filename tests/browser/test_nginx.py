"""The scale-out deployment with real parts: two app instances on one PostgreSQL behind nginx (the README's
configuration), Chromium through nginx, and one instance stopped while the browser and API clients work on."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Page, expect

from store.ledger.chain import verify
from store.people.tokens import create_token
from tests.browser.conftest import Server, log_in, start_server, stop_server
from tests.browser.nginx import start_nginx, stop_nginx
from tests.conftest import OWNER, event, raw_sql

BATCH = 50
PATIENCE_MS = 30_000  # a generous deadline for the browser's reconnection, not a measurement


@pytest.fixture
def engine() -> str:
    """Instances share sessions and the hash chain's lock through one PostgreSQL, as the README deploys them."""
    return 'postgresql'


def port(server: Server) -> int:
    return urlparse(server.url).port or 80


def rows(page: Page, text: str):
    return page.locator('.q-table tbody tr', has_text=text)


def test_two_instances_behind_nginx_survive_one_stopping(accounts, add_events, database_url: str, tmp_path: Path,
                                                         page: Page) -> None:
    add_events(*[event(id=f'seed-{i}', target=f'seed-{i}', description=f'Started seed-{i}') for i in range(30)])
    token = create_token('through nginx', None, OWNER[0])
    auth = {'Authorization': f'Bearer {token}'}
    instances = [start_server(database_url, tmp_path / f'instance-{n}.log') for n in (1, 2)]
    nginx = None
    clients: list[threading.Thread] = []
    stop_clients = threading.Event()
    try:
        nginx = start_nginx(tmp_path / 'nginx', [port(server) for server in instances])
        front = Server(nginx.url, database_url, nginx.process)
        assert httpx.get(f'{nginx.url}/readyz').status_code == 200

        # sign in, filter, live tail, export: all through nginx
        log_in(page, front, *OWNER)
        page.get_by_text('All of Acme').wait_for()
        page.get_by_label('Search').press_sequentially('seed-2')
        expect(page.locator('.q-table__bottom')).to_contain_text('of 11')  # seed-2 and seed-20 … seed-29
        page.get_by_role('switch', name='Live').click()
        post = httpx.post(f'{nginx.url}/api/v1/events', headers=auth,
                          json=event(id='live-1', target='seed-2-live', description='arrived while live'))
        assert post.status_code == 201, post.text
        expect(rows(page, 'seed-2-live')).to_have_count(1, timeout=PATIENCE_MS)
        page.get_by_role('button', name='Export').click()
        with page.expect_download(timeout=PATIENCE_MS) as info:
            page.get_by_role('button', name='CSV (.csv)').click()
        info.value.save_as(tmp_path / 'export.csv')
        with open(tmp_path / 'export.csv', encoding='utf-8-sig', newline='') as handle:
            assert len(list(csv.reader(handle))) - 1 == 12

        # the instance that holds this browser (ip_hash: every request from 127.0.0.1 goes to the same one)
        served = {upstream for method, uri, status, upstream in nginx.access_log() if uri == '/audit-logs'}
        assert len(served) == 1, served
        holder = next(server for server in instances if served == {f'127.0.0.1:{port(server)}'})
        other = next(server for server in instances if server is not holder)

        # API clients keep sending batches through nginx while that instance stops
        acked: list[str] = []
        answers: list[str] = []
        lock = threading.Lock()

        def client(number: int) -> None:
            with httpx.Client(timeout=60, headers=auth) as http:
                n = 0
                while not stop_clients.is_set():
                    body = {'events': [event(id=f'n-{number}-{n}-{i}', target=f'load-{number}-{n}-{i}')
                                       for i in range(BATCH)]}
                    response = http.post(f'{nginx.url}/api/v1/events', json=body)
                    with lock:
                        if response.status_code == 201:
                            acked.extend(response.json()['ids'])
                        else:
                            answers.append(f'{response.status_code} {response.text[:200]}')
                    n += 1

        clients = [threading.Thread(target=client, args=(n,)) for n in range(3)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acked) < 10 * BATCH:
            assert time.monotonic() < deadline and not answers, answers
            time.sleep(0.02)
        page.evaluate('window.beforeTheStop = true')
        stop_server(holder)  # SIGTERM, as systemd stops it
        acked_at_stop = len(acked)
        while len(acked) < acked_at_stop + 10 * BATCH:
            assert time.monotonic() < deadline and not answers, answers
            time.sleep(0.02)
        stop_clients.set()
        for thread in clients:
            thread.join(60)

        # the browser reconnected to the other instance, reloaded the page there and is still signed in
        page.wait_for_function('!window.beforeTheStop', timeout=PATIENCE_MS)
        page.get_by_text('All of Acme').wait_for(timeout=PATIENCE_MS)
        expect(page.get_by_label('Email')).to_have_count(0)
        expect(page.locator('.q-chip', has_text='Search: seed-2')).to_be_visible()  # the address kept the filter
        post = httpx.post(f'{nginx.url}/api/v1/events', headers=auth,
                          json=event(id='after-1', target='seed-2-after', description='after the stop'))
        assert post.status_code == 201, post.text
        page.get_by_role('button', name='Refresh').click()
        expect(rows(page, 'seed-2-after')).to_have_count(1, timeout=PATIENCE_MS)
        assert {upstream for method, uri, status, upstream in nginx.access_log()
                if uri == '/audit-logs'} >= {f'127.0.0.1:{port(other)}'}
        forwarded = httpx.get(f'{nginx.url}/metrics', headers={'X-Forwarded-For': '203.0.113.9'})
        assert forwarded.status_code == 403  # nginx forwards the client's address; the guard sees it
    finally:
        stop_clients.set()
        for thread in clients:
            thread.join(60)
        if nginx is not None:
            stop_nginx(nginx)
        for server in instances:
            stop_server(server)

    assert answers == []  # not one 5xx (nor any other refusal) across the stop
    stored = {uid for (uid,) in raw_sql("SELECT uid FROM event WHERE uid LIKE 'n-%'")}
    assert set(acked) <= stored and len(acked) == len(set(acked))
    assert not [line for line in nginx.access_log() if line[2].startswith('5')]
    report = verify()
    assert report.ok, report.summary()
    print(f'\nnginx, 2 instances: {len(acked):,} events acknowledged ({acked_at_stop:,} before the stop), '
          f'all stored, 0 5xx')
