"""Streams delivered by a process of their own (cli/delivery.py): the server's child at idle CPU priority, tied
to the server's life, restarted when it dies; `main.py stream deliver` beside a server that delivers nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.delivery import DeliveryProcess
from main import main
from store.engine.db import connection
from store.lifecycle.opening import open_database
from store.read.events import EventFilter
from store.streams import registry as streams
from tests.browser.conftest import ROOT, parent_of, start_server, stop_process
from tests.conftest import event
from tests.store.test_streams import wait_until
from tests.stream_receiver import Receiver, running_receiver

SERVICE = EventFilter(scope='Service')


def stream_to(receiver: Receiver, database_url: str) -> None:
    open_database(database_url)
    with connection():
        _, receiver.secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')


def lease_owner() -> str | None:
    with connection():
        stream = streams.get_stream('hook')
    return stream.lease_owner


def holder_pid() -> int:
    """The process that holds the stream's lease (its owner is host:pid:random)."""
    owner = lease_owner()
    assert owner is not None
    return int(owner.rsplit(':', 2)[1])


def ended(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (its parent was killed)."""
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] == 'Z'
    except FileNotFoundError:
        return True


def test_the_server_delivers_in_a_child_process_at_idle_priority_that_ends_with_it(database_url, add_events,
                                                                                      tmp_path) -> None:
    with running_receiver() as receiver:
        stream_to(receiver, database_url)
        add_events(*(event(id=f'ev-{n:03d}') for n in range(20)))
        server = start_server(database_url, tmp_path / 'server.log')
        try:
            assert receiver.wait_for(20) == [f'ev-{n:03d}' for n in range(20)]
            child = holder_pid()
            assert child != server.process.pid and parent_of(child) == server.process.pid
            assert os.sched_getscheduler(child) == os.SCHED_IDLE  # a core only when the server leaves one
            assert os.sched_getscheduler(server.process.pid) == os.SCHED_OTHER
        finally:
            server.process.kill()  # no graceful stop: the child must notice by itself
            server.process.wait()
        wait_until(lambda: ended(child))
        assert lease_owner() is None  # it finished its batch and gave the stream up


def test_a_delivery_process_that_dies_is_started_again(database_url, add_events, monkeypatch) -> None:
    monkeypatch.setenv('AUDIT_STREAM_LEASE_SECONDS', '2')  # the killed process's lease runs out soon
    with running_receiver() as receiver:
        stream_to(receiver, database_url)
        add_events(*(event(id=f'ev-{n:03d}') for n in range(10)))
        delivery = DeliveryProcess(database_url)
        delivery.start()
        try:
            receiver.wait_for(10)
            first = delivery.pid
            assert first is not None and delivery.alive()
            os.kill(first, signal.SIGKILL)
            wait_until(lambda: not delivery.alive())  # readiness sees it down...
            wait_until(lambda: delivery.pid != first and delivery.alive())  # ...until it runs again
            add_events(*(event(id=f'ev-{n:03d}') for n in range(10, 20)))
            assert receiver.wait_for(20)[-1] == 'ev-019'
        finally:
            last = delivery.pid
            delivery.stop()
        assert last is not None and ended(last)  # stopped with the server, not left running
        assert lease_owner() is None


def test_stream_deliver_delivers_beside_a_server_that_delivers_nothing(database_url, add_events, tmp_path) -> None:
    with running_receiver() as receiver:
        stream_to(receiver, database_url)
        add_events(*(event(id=f'ev-{n:03d}') for n in range(15)))
        server = start_server(database_url, tmp_path / 'server.log', extra_env={'AUDIT_STREAM_DELIVERY': 'off'})
        deliverer = subprocess.Popen([sys.executable, 'main.py', '--db', database_url, 'stream', 'deliver'],
                                     cwd=ROOT)
        try:
            assert receiver.wait_for(15) == [f'ev-{n:03d}' for n in range(15)]
            assert holder_pid() == deliverer.pid  # the server's process took no part
        finally:
            deliverer.terminate()
            assert deliverer.wait(30) == 0  # SIGTERM: its batch finished, its leases given up
            stop_process(server.process)
        assert lease_owner() is None


def test_a_wrong_delivery_setting_stops_the_start_with_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys) -> None:
    monkeypatch.setenv('AUDIT_STREAM_DELIVERY', 'sometimes')
    assert main(['serve', '--port', '9']) == 1
    assert capsys.readouterr().err == 'error: AUDIT_STREAM_DELIVERY must be process, thread or off, not ' \
                                      "'sometimes'\n"
