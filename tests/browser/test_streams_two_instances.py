"""Two app instances on one database (SQLite and PostgreSQL): one delivers a stream at a time; when it is killed
with SIGKILL the other takes the stream over, and nothing is lost or out of order after dedupe by id."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from store.read.events import EventFilter, Viewer, events_after
from store.streams import registry as streams
from tests.browser.conftest import start_server, stop_server
from tests.conftest import OWNER, event
from tests.stream_receiver import running_receiver

QUICK_LEASE = {'AUDIT_STREAM_LEASE_SECONDS': '2'}


def test_the_other_instance_takes_over_a_killed_ones_stream(engine: str, database_url: str, add_events,
                                                             tmp_path: Path) -> None:
    with running_receiver() as receiver:
        _, receiver.secret = streams.create_stream('siem', receiver.url, None, EventFilter(scope='Service'), OWNER[0])
        a = start_server(database_url, tmp_path / 'a.log', extra_env=QUICK_LEASE)
        b = start_server(database_url, tmp_path / 'b.log', extra_env=QUICK_LEASE)
        try:
            add_events(*[event(id=f't{i:04d}') for i in range(300)])
            receiver.wait_for(300)
            owner = streams.get_stream('siem').lease_owner
            holder, other = (a, b) if owner and f':{a.process.pid}:' in owner else (b, a)
            assert owner and f':{holder.process.pid}:' in owner
            receiver.answer_delay = 0.5
            add_events(*[event(id=f't{i:04d}') for i in range(300, 600)])
            receiver.wait_for(600)  # received, not yet acknowledged
            os.kill(holder.process.pid, signal.SIGKILL)
            holder.process.wait(10)
            receiver.answer_delay = 0.0
            add_events(*[event(id=f't{i:04d}') for i in range(600, 900)])
            ids = receiver.wait_for(900, timeout=60)
            deadline = time.monotonic() + 20
            while f':{other.process.pid}:' not in (streams.get_stream('siem').lease_owner or ''):
                assert time.monotonic() < deadline, 'the other instance did not take the lease'
                time.sleep(0.1)
        finally:
            stop_server(a)
            stop_server(b)
    expected = [e['id'] for e in events_after(Viewer.organization(), EventFilter(scope='Service'), 0, 5_000)]
    duplicated, counts = receiver.tally(expected)
    print(f'\n{engine}: {counts}')
    assert ids == expected
    assert duplicated <= 300  # at most the batch in flight at the kill
