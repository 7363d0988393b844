"""Two app instances on one database (SQLite and PostgreSQL): one delivers a stream at a time; when it is killed
with SIGKILL the other takes the stream over, and nothing is lost or out of order after dedupe by id."""

from __future__ import annotations

import time
from pathlib import Path

from store.read.events import EventFilter, Viewer, events_after
from store.streams import registry as streams
from tests.browser.conftest import kill_app, parent_of, start_server, stop_server
from tests.conftest import OWNER, event
from tests.stream_receiver import running_receiver

QUICK_LEASE = {'AUDIT_STREAM_LEASE_SECONDS': '2'}


def delivering_app() -> int | None:
    """The server whose delivery process holds the stream's lease (an owner is host:pid:random)."""
    owner = streams.get_stream('siem').lease_owner
    return parent_of(int(owner.rsplit(':', 2)[1])) if owner else None


def test_the_other_instance_takes_over_a_killed_ones_stream(engine: str, database_url: str, add_events,
                                                             tmp_path: Path) -> None:
    with running_receiver() as receiver:
        _, receiver.secret = streams.create_stream('siem', receiver.url, None, EventFilter(scope='Service'), OWNER[0])
        a = start_server(database_url, tmp_path / 'a.log', extra_env=QUICK_LEASE)
        b = start_server(database_url, tmp_path / 'b.log', extra_env=QUICK_LEASE)
        try:
            add_events(*[event(id=f't{i:04d}') for i in range(300)])
            receiver.wait_for(300)
            holder, other = (a, b) if delivering_app() == a.process.pid else (b, a)
            assert delivering_app() == holder.process.pid
            receiver.answer_delay = 0.5
            add_events(*[event(id=f't{i:04d}') for i in range(300, 600)])
            receiver.wait_for(600)  # received, not yet acknowledged
            kill_app(holder)
            receiver.answer_delay = 0.0
            add_events(*[event(id=f't{i:04d}') for i in range(600, 900)])
            ids = receiver.wait_for(900, timeout=60)
            deadline = time.monotonic() + 20
            while delivering_app() != other.process.pid:
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
