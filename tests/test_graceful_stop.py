"""SIGTERM during a burst of ingestion from concurrent clients: every acknowledged batch is stored, whole; no
client sees a 5xx; the search index holds every event when the process has exited."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from store.ledger.chain import verify
from store.people.tokens import create_token
from tests.browser.conftest import start_server, stop_server
from tests.conftest import event, raw_sql

CLIENTS, BATCH = 6, 100
ACKED_BEFORE_STOP = 30  # batches answered 201 before the signal
EXIT_PATIENCE = 30  # seconds: a generous deadline, not a measurement (the server's own bound is 10 s)


def batch(client: int, number: int) -> dict:
    return {'events': [event(id=f'g-{client}-{number}-{i}', target=f'ctr-{client}-{number}-{i}')
                       for i in range(BATCH)]}


def test_sigterm_during_ingestion_loses_no_acknowledged_batch(database_url: str, tmp_path: Path) -> None:
    token = create_token('stop test', None, 'test')
    server = start_server(database_url, tmp_path / 'server.log')
    acked: list[tuple[int, int]] = []
    sent: list[tuple[int, int]] = []
    refused: list[str] = []  # answers that are neither 201 nor a dropped connection
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(timeout=60, headers={'Authorization': f'Bearer {token}'}) as http:
            for n in range(10_000):
                with lock:
                    sent.append((number, n))
                try:
                    response = http.post(f'{server.url}/api/v1/events', json=batch(number, n))
                except httpx.TransportError:  # refused or reset once the server stops: not acknowledged
                    return
                with lock:
                    if response.status_code == 201:
                        acked.append((number, n))
                    else:
                        refused.append(f'{response.status_code} {response.text[:200]}')
                        return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acked) < ACKED_BEFORE_STOP:
            assert time.monotonic() < deadline and not refused, refused
            time.sleep(0.01)
        acked_at_signal = len(acked)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(EXIT_PATIENCE)
        exit_seconds = time.monotonic() - signalled
        for thread in threads:
            thread.join(EXIT_PATIENCE)
    finally:
        stop_server(server)

    assert refused == []  # no 5xx, nor anything else but 201
    assert not any(thread.is_alive() for thread in threads)
    assert server.process.returncode in (0, -signal.SIGTERM)
    stored = Counter(uid.rsplit('-', 1)[0] for (uid,) in raw_sql("SELECT uid FROM event WHERE uid LIKE 'g-%'"))
    for client_number, n in acked:
        assert stored[f'g-{client_number}-{n}'] == BATCH, (client_number, n)
    assert set(stored.values()) == {BATCH}  # every batch whole or not at all, acknowledged or not
    assert len(stored) <= len(sent)
    report = verify()
    assert report.ok, report.summary()

    db_file = Path(database_url.removeprefix('sqlite:///'))
    with sqlite3.connect(db_file) as conn:
        conn.execute('ATTACH DATABASE ? AS search', (f'{db_file}.search',))
        newest, = conn.execute('SELECT max(seq) FROM main.event').fetchone()
        indexed, = conn.execute('SELECT max(seq) FROM search.search_progress').fetchone()
    assert indexed == newest  # the index's position was flushed before the process ended
    log = (tmp_path / 'server.log').read_text()
    assert 'Shutting down' in log and 'stopped: the database is closed' in log
    print(f'\nSIGTERM after {acked_at_signal} acknowledged batches: {len(acked)} acknowledged in all, '
          f'{len(stored)} stored, exit {exit_seconds:.2f} s after the signal')
