"""8 clients send 100,000 events through the real server while it is stopped and restarted twice.

Clients retry a batch with the same ids until it is answered; afterwards exactly 100,000 events are
stored and they form one valid chain. The first stop is graceful (SIGTERM), the second a kill -9.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx

from store.ledger.chain import verify
from store.people.tokens import create_token
from store.read.events import EventFilter, Viewer, count_events
from tests.browser.conftest import Server, start_server, stop_server

CLIENTS, BATCHES, BATCH = 8, 100, 1000
RESTART_AT = (BATCHES // 3, 2 * BATCHES // 3)  # batches answered before each restart


def batch_body(number: int) -> bytes:
    return json.dumps({'events': [
        {'id': f'c-{number}-{i}', 'timestamp': f'2026-10-{1 + i % 28:02}T{i % 24:02}:00:00Z',
         'user': f'user{i % 37}@acme.io', 'scope': 'Service', 'category': 'GPU Container', 'action': 'Start Container',
         'target': f'ctr-{number}-{i}', 'description': f'Started container ctr-{number}-{i}',
         'workspace': f'ws-{i % 5}'} for i in range(BATCH)]}).encode()


def test_clients_retrying_through_restarts_store_every_event_once(database_url: str, tmp_path: Path) -> None:
    token = create_token('load test', None, 'test')
    bodies = [batch_body(n) for n in range(BATCHES)]
    pending = list(range(BATCHES - 1, -1, -1))
    lock = threading.Lock()
    answered: list[str] = []  # ids from 201 answers
    failures: list[str] = []
    current: dict[str, Server] = {'server': start_server(database_url, tmp_path / 'server-0.log')}
    retries = 0

    def client() -> None:
        nonlocal retries
        with httpx.Client(timeout=30, headers={'Authorization': f'Bearer {token}',
                                               'Content-Type': 'application/json'}) as http:
            while True:
                with lock:
                    if not pending or failures:
                        return
                    number = pending.pop()
                while True:
                    url = current['server'].url
                    try:
                        response = http.post(f'{url}/api/v1/events', content=bodies[number])
                    except httpx.TransportError:
                        response = None
                    if response is not None and response.status_code == 201:
                        with lock:
                            answered.extend(response.json()['ids'])
                        break
                    if response is not None and response.status_code < 500:
                        failures.append(f'batch {number}: {response.status_code} {response.text[:200]}')
                        return
                    with lock:
                        retries += 1
                    time.sleep(0.05)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        for round_number, threshold in enumerate(RESTART_AT, start=1):
            while len(answered) < threshold * BATCH and any(t.is_alive() for t in threads):
                time.sleep(0.01)
            old = current['server']
            if round_number == 1:
                stop_server(old)  # graceful: requests in flight finish
            else:
                old.process.send_signal(signal.SIGKILL)  # a crash: requests in flight are cut off
                old.process.wait(10)
            current['server'] = start_server(database_url, tmp_path / f'server-{round_number}.log')
        for thread in threads:
            thread.join(120)
    finally:
        stop_server(current['server'])
    elapsed = time.monotonic() - started

    assert failures == []
    assert not any(t.is_alive() for t in threads)
    assert len(answered) == BATCHES * BATCH and len(set(answered)) == BATCHES * BATCH
    assert count_events(Viewer.organization(), EventFilter(scope='Service')) == BATCHES * BATCH
    assert count_events(Viewer.organization(), EventFilter()) == BATCHES * BATCH + 1  # + the token's creation
    report = verify()
    assert report.ok, report.summary()
    assert report.checked == BATCHES * BATCH + 1
    print(f'\n{BATCHES * BATCH:,} events by {CLIENTS} clients through 2 restarts in {elapsed:.1f} s, '
          f'{retries} retried requests')
