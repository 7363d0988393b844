"""Stream faults under live ingestion: the receiver answering 500 for a while, then down (refusing connections);
prints the events sent, received, duplicated and missing once the stream caught up.

    .venv/bin/python -m tests.benchmarks.fault_streams [--rate R] [--failing-seconds S] [--down-seconds S]

`main.py serve` on a fresh SQLite database; a client POSTs R events/s through the API throughout; the stream
delivers to a real HTTP receiver in this process (tests/stream_receiver.py), which checks every signature.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx

from store.engine.db import connection
from store.lifecycle.opening import close_database, open_database
from store.people.tokens import create_token
from store.read.events import EventFilter
from store.streams.registry import create_stream
from tests.browser.conftest import start_server, stop_server
from tests.stream_receiver import running_receiver


def ingest(url: str, token: str, rate: int, stop: threading.Event, sent: list[str]) -> None:
    batch = max(1, rate // 10)
    with httpx.Client(base_url=url, headers={'Authorization': f'Bearer {token}'}) as client:
        begin, tick = time.perf_counter(), 0
        while not stop.is_set():
            ids = [f'f-{tick}-{i}' for i in range(batch)]
            body = {'events': [{'id': i, 'user': 'fault@acme.io', 'scope': 'Service', 'category': 'GPU Container',
                                'action': 'Start Container', 'target': i} for i in ids]}
            client.post('/api/v1/events', json=body).raise_for_status()
            sent.extend(ids)
            tick += 1
            pause = begin + tick / 10 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--rate', type=int, default=200)
    parser.add_argument('--failing-seconds', type=int, default=30)
    parser.add_argument('--down-seconds', type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, running_receiver() as receiver:
        url = f'sqlite:///{Path(folder) / "fault.db"}'
        open_database(url)
        with connection():
            token = create_token('fault', None, 'fault')
            _, receiver.secret = create_stream('fault', receiver.url, None, EventFilter(scope='Service'), 'fault')
        close_database()
        server = start_server(url, Path(folder) / 'server.log')
        stop, sent = threading.Event(), []
        client = threading.Thread(target=ingest, args=(server.url, token, args.rate, stop, sent))
        try:
            client.start()
            time.sleep(5)
            print(f'receiver answers 500 for {args.failing_seconds} s', flush=True)
            receiver.mode, receiver.status = 'status', 500
            time.sleep(args.failing_seconds)
            receiver.mode = 'ok'
            time.sleep(5)
            print(f'receiver down for {args.down_seconds} s', flush=True)
            receiver.go_down()
            time.sleep(args.down_seconds)
            receiver.come_back()
            time.sleep(5)
            stop.set()
            client.join()
            started = time.monotonic()
            receiver.wait_for(len(sent), timeout=600)
            print(f'caught up {time.monotonic() - started:.0f} s after the ingestion stopped', flush=True)
        finally:
            stop.set()
            stop_server(server)
        everything = [event['id'] for event in receiver.events()]
        in_order = receiver.unique_ids() == sent
        _, counts = receiver.tally(sent)
        print(f'{counts}; order kept after dedupe by id: {in_order}; refused requests {receiver.refused:,}, '
              f'bad signatures {receiver.bad_signatures}; {len(everything):,} deliveries')


if __name__ == '__main__':
    main()
