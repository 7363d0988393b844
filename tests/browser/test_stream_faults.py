"""Stream faults with real processes, shortened (tests/benchmarks/fault_streams.py runs them at full length): a
`main.py serve` process delivers a stream to the real test receiver while a client POSTs events through the API;
the receiver answers 500 for a while, then is down (refusing connections) for a while. Every event arrives, in
order after dedupe by id. (A server killed with SIGKILL mid-batch: test_streams_browser.py; two instances with
one killed, on SQLite and PostgreSQL: test_streams_two_instances.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from store.people.tokens import create_token
from store.read.events import EventFilter
from store.streams import registry as streams
from store.streams.delivery import BATCH
from tests.browser.conftest import start_server, stop_server
from tests.conftest import OWNER
from tests.stream_receiver import running_receiver

FAILING_SECONDS = 3.0  # the goal: 30 s
DOWN_SECONDS = 4.0  # the goal: 60 s


def ingest(url: str, token: str, stop: threading.Event, sent: list[str]) -> None:
    """POST 10 events every 0.1 s until `stop`; `sent` gets the ids the API stored (201), in order."""
    with httpx.Client(base_url=url, headers={'Authorization': f'Bearer {token}'}, timeout=30) as client:
        tick = 0
        while not stop.is_set():
            ids = [f'f{tick:05d}-{i}' for i in range(10)]
            body = {'events': [{'id': i, 'user': 'fault@acme.io', 'scope': 'Service', 'category': 'GPU Container',
                                'action': 'Start Container', 'target': i} for i in ids]}
            client.post('/api/v1/events', json=body).raise_for_status()
            sent.extend(ids)
            tick += 1
            stop.wait(0.1)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f'timed out waiting until {what}'
        time.sleep(0.1)


def last_error() -> str:
    return streams.get_stream('fault').last_error or ''


def test_a_receiver_failing_then_down_under_live_ingestion_loses_nothing(database_url: str, tmp_path: Path) -> None:
    token = create_token('fault', None, OWNER[0])
    with running_receiver() as receiver:
        _, receiver.secret = streams.create_stream('fault', receiver.url, None, EventFilter(scope='Service'),
                                                   OWNER[0])
        server = start_server(database_url, tmp_path / 'server.log')
        stop, sent = threading.Event(), []
        client = threading.Thread(target=ingest, args=(server.url, token, stop, sent))
        try:
            client.start()
            receiver.wait_for(50)  # delivering live

            receiver.mode, receiver.status = 'status', 500
            failing_since = time.monotonic()
            wait_until(lambda: last_error().startswith('HTTP 500'), 'the stream saw the 500s')
            time.sleep(max(0.0, failing_since + FAILING_SECONDS - time.monotonic()))
            refused_while_failing = receiver.refused
            receiver.mode = 'ok'
            wait_until(lambda: streams.get_stream('fault').state == 'active', 'the stream recovered')

            receiver.go_down()
            down_since = time.monotonic()
            wait_until(lambda: 'Connect' in last_error(), 'the stream saw the receiver down')
            time.sleep(max(0.0, down_since + DOWN_SECONDS - time.monotonic()))
            receiver.come_back()
            time.sleep(1)
            stop.set()
            client.join(30)
            ids = receiver.wait_for(len(sent), timeout=60)
        finally:
            stop.set()
            client.join(30)
            stop_server(server)
    duplicated, counts = receiver.tally(sent)
    print(f'\n{counts}; {refused_while_failing} requests answered 500')
    assert refused_while_failing >= 1 and receiver.bad_signatures == 0
    assert ids == sent  # nothing lost, in order after dedupe by id
    assert duplicated <= BATCH  # no crash here: at most a batch whose answer was lost as the receiver went down
