"""Streams on SQLite and PostgreSQL: managing them, what they read, and delivering to a real HTTP receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest

from store.engine.db import StoreError, database
from store.read import activity as read_activity
from store.read.events import EventFilter, Viewer, events_after, find_events, page_after
from store.read.insight import timeline
from store.streams import delivery as stream_delivery
from store.streams import registry as streams
from store.streams.delivery import Deliverer, backoff_seconds, send_test, take_lease
from store.streams.formats import signature
from tests.conftest import event, utc
from tests.stream_receiver import running_receiver


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_delivery, 'FIRST_BACKOFF_SECONDS', 0.05)
    monkeypatch.setattr(stream_delivery, 'SCAN_SECONDS', 0.1)
    monkeypatch.setattr(stream_delivery, 'IDLE_SECONDS', 0.05)


@contextmanager
def delivering(owner: str = 'test-instance') -> Iterator[Deliverer]:
    deliverer = Deliverer(owner)
    deliverer.start()
    try:
        yield deliverer
    finally:
        deliverer.stop()


def wait_until(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError('timed out')
        time.sleep(0.05)


SERVICE = EventFilter(scope='Service')  # the events the tests add, not the streams' own records


def many(n: int, **fields) -> list[dict]:
    return [event(id=f'ev-{i:04d}', target=f'nb-{i}', **fields) for i in range(n)]


def log_actions(target: str) -> list[str]:
    found = find_events(Viewer.organization(), EventFilter(scope='Organization', category='Policy'), limit=100)
    return [e['action'] for e in reversed(found.events) if e['target'] == target]


def test_managing_a_stream_is_recorded_in_the_log(add_events) -> None:
    add_events(event(id='old'))
    stream, secret = streams.create_stream('siem', 'https://siem.example.com/hook?token=abc', None,
                                           EventFilter(scope='Billing', status='FAILED'), 'owner@acme.io')
    assert secret and stream.secret == secret and stream.format == 'json' and stream.state == 'active'
    assert stream.position == events_after(Viewer.organization(), EventFilter(), 0, 10)[0]['seq']  # after 'old'
    streams.pause_stream('siem', 'owner@acme.io')
    assert streams.get_stream('siem').state == 'paused'
    streams.resume_stream('siem', 'owner@acme.io')
    streams.change_stream('siem', 'owner@acme.io', flt=EventFilter(scope='Service'))
    assert streams.get_stream('siem').filter == EventFilter(scope='Service')
    streams.replay_stream('siem', utc(2026, 1, 1), 'owner@acme.io')
    assert streams.get_stream('siem').position == 0  # 'old' is the first event since then
    streams.remove_stream('siem', 'owner@acme.io')
    with pytest.raises(StoreError, match='no stream named'):
        streams.get_stream('siem')
    assert log_actions('siem') == ['Create Stream', 'Pause Stream', 'Resume Stream', 'Change Stream',
                                   'Replay Stream', 'Remove Stream']
    created = find_events(Viewer.organization(), EventFilter(search='Created stream siem')).events[0]
    assert 'token=abc' not in repr(created)  # a webhook URL's query may hold a credential


@pytest.mark.parametrize(('url', 'fmt', 'message'), [
    ('http://siem.example.com/x', None, 'loopback only'),
    ('ftp://host/x', None, 'must start with'),
    ('syslog+tcp://host', None, 'HOST:PORT'),
    ('file://relative.jsonl', None, 'file:///ABSOLUTE'),
    ('file:///tmp/x.txt', None, 'file:///ABSOLUTE'),
    ('file:///tmp/x.jsonl', 'slack', 'takes json, ocsf'),
    ('syslog+tls://host:6514', 'slack', 'takes json, ocsf, cef'),
])
def test_bad_destinations_are_refused_by_name(url: str, fmt: str | None, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        streams.create_stream('x', url, fmt, EventFilter(), 'owner@acme.io')
    assert streams.list_streams() == []


def test_a_name_is_taken_once_and_digest_is_for_chat_only() -> None:
    streams.create_stream('a', 'file:///tmp/a.jsonl', None, EventFilter(), 'owner@acme.io')
    with pytest.raises(StoreError, match='exists already'):
        streams.create_stream('a', 'file:///tmp/b.jsonl', None, EventFilter(), 'owner@acme.io')
    with pytest.raises(StoreError, match='--digest'):
        streams.create_stream('b', 'http://127.0.0.1:9/x', 'json', EventFilter(), 'owner@acme.io', digest_minutes=5)


def test_events_after_reads_the_view_in_storage_order_with_the_workspace_filter(add_events) -> None:
    add_events(*[event(id=f'a{i}', workspace='alpha' if i % 2 else 'beta', timestamp=f'2026-10-0{9 - i}T08:00:00Z')
                 for i in range(8)])
    seqs = [e['seq'] for e in events_after(Viewer.organization(), EventFilter(), 0, 100)]
    assert seqs == sorted(seqs) and len(seqs) == 8
    alpha = events_after(Viewer.organization(), EventFilter(workspace='alpha'), 0, 100)
    assert [e['id'] for e in alpha] == ['a1', 'a3', 'a5', 'a7']
    assert [e['id'] for e in events_after(Viewer.organization(), EventFilter(workspace='alpha'), alpha[1]['seq'], 1)] \
        == ['a5']


def test_a_webhook_gets_every_event_signed_in_order_with_positions(add_events) -> None:
    with running_receiver() as receiver:
        stream, secret = streams.create_stream('hook', receiver.url, None, EventFilter(scope='Service'),
                                               'owner@acme.io')
        receiver.secret = secret
        add_events(*many(30))
        add_events(event(id='billing', scope='Billing', category='Credit'))
        with delivering():
            ids = receiver.wait_for(30)
            wait_until(lambda: streams.get_stream('hook').delivered == 30)
        assert ids == [f'ev-{i:04d}' for i in range(30)]
        assert receiver.bad_signatures == 0
        delivered = receiver.events()
        assert set(delivered[0]) == {'id', 'timestamp', 'user', 'scope', 'category', 'action', 'target', 'status',
                                     'description', 'workspace', 'metadata', 'hash', 'position', 'previous_position'}
        assert delivered[0]['previous_position'] == stream.position
        for before, after in zip(delivered, delivered[1:], strict=False):
            assert after['previous_position'] == before['position'] < after['position']
        stored = {e['id']: e for e in events_after(Viewer.organization(), EventFilter(), 0, 100)}
        assert all(e['hash'] == stored[e['id']]['hash'] and e['position'] == stored[e['id']]['seq']
                   for e in delivered)
        final = streams.get_stream('hook')
        assert final.position == delivered[-1]['position'] and final.last_success and final.state == 'active'
        assert streams.lag(final).events == 0


def test_a_failing_receiver_is_retried_with_backoff_and_nothing_is_lost(add_events) -> None:
    with running_receiver() as receiver:
        _, secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        receiver.secret = secret
        receiver.mode = 'status'
        add_events(*many(10))
        with delivering():
            wait_until(lambda: streams.get_stream('hook').failures >= 2)
            failing = streams.get_stream('hook')
            assert failing.state == 'failing' and failing.last_error.startswith('HTTP 500')
            assert failing.position < events_after(Viewer.organization(), EventFilter(), 0, 100)[-1]['seq']
            assert failing.next_retry is not None
            receiver.mode = 'drop'
            wait_until(lambda: 'RemoteProtocolError' in (streams.get_stream('hook').last_error or '')
                       or 'Disconnected' in (streams.get_stream('hook').last_error or ''))
            receiver.mode = 'ok'
            ids = receiver.wait_for(10)
            wait_until(lambda: streams.get_stream('hook').state == 'active')
        assert ids == [f'ev-{i:04d}' for i in range(10)]
        assert receiver.refused >= 3


def test_a_stalled_receiver_times_out_and_is_retried(add_events, monkeypatch: pytest.MonkeyPatch) -> None:
    from store.streams import destinations as stream_destinations
    monkeypatch.setattr(stream_destinations, 'TIMEOUT_SECONDS', 0.3)
    with running_receiver() as receiver:
        _, secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        receiver.secret, receiver.mode, receiver.stall_seconds = secret, 'stall', 1.0
        add_events(*many(3))
        with delivering():
            wait_until(lambda: 'Timeout' in (streams.get_stream('hook').last_error or ''))
            receiver.mode = 'ok'
            assert receiver.wait_for(3) == ['ev-0000', 'ev-0001', 'ev-0002']


def test_a_4xx_pauses_the_stream_with_the_error_in_the_log(add_events) -> None:
    with running_receiver() as receiver:
        _, secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        receiver.secret, receiver.mode, receiver.status = secret, 'status', 403
        add_events(*many(2))
        with delivering():
            wait_until(lambda: streams.get_stream('hook').state == 'paused')
        paused = streams.get_stream('hook')
        assert paused.last_error.startswith('HTTP 403') and paused.delivered == 0
        pause = find_events(Viewer.organization(), EventFilter(search='Paused stream hook')).events[0]
        assert pause['user'] == 'system' and pause['status'] == 'FAILED'
        receiver.mode = 'ok'
        streams.resume_stream('hook', 'owner@acme.io')
        with delivering():
            assert receiver.wait_for(2) == ['ev-0000', 'ev-0001']


def test_429_and_408_are_retried_not_paused(add_events) -> None:
    with running_receiver() as receiver:
        _, secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        receiver.secret, receiver.mode, receiver.status = secret, 'status', 429
        add_events(*many(1))
        with delivering():
            wait_until(lambda: streams.get_stream('hook').failures >= 2)
            assert streams.get_stream('hook').state == 'failing'


def test_one_instance_holds_a_stream_and_another_takes_over_an_expired_lease(add_events) -> None:
    stream, _ = streams.create_stream('f', 'file:///tmp/never-written.jsonl', None, EventFilter(), 'owner@acme.io')
    assert take_lease(stream.id, 'instance-a')
    assert not take_lease(stream.id, 'instance-b')
    assert take_lease(stream.id, 'instance-a')  # renewed
    database.execute_sql('UPDATE stream SET lease_expires = 1 WHERE id = ?', (stream.id,))  # instance-a died
    assert take_lease(stream.id, 'instance-b')
    assert not take_lease(stream.id, 'instance-a')


def test_two_deliverers_deliver_each_batch_once(add_events) -> None:
    with running_receiver() as receiver:
        _, secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        receiver.secret = secret
        with delivering('instance-a'), delivering('instance-b'):
            for start in range(0, 40, 10):
                add_events(*[event(id=f'ev-{i:04d}') for i in range(start, start + 10)])
                time.sleep(0.1)
            ids = receiver.wait_for(40)
        assert ids == [f'ev-{i:04d}' for i in range(40)]
        assert len(receiver.events()) == 40  # no duplicates: one holder at a time


def test_a_catching_up_stream_starts_no_batch_while_a_read_is_in_progress(add_events, monkeypatch) -> None:
    monkeypatch.setattr(stream_delivery, 'BATCH', 10)
    monkeypatch.setattr(stream_delivery, 'READERS_LONGEST_SECONDS', 600.0)
    with running_receiver() as receiver:
        _, receiver.secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        add_events(*many(45))
        with ExitStack() as page_read:
            page_read.enter_context(read_activity.reading())  # a page's read, in progress until closed
            with delivering():
                wait_until(lambda: read_activity.waiting() == 1)  # the first batch was full: it waits
                time.sleep(0.5)  # room for more batches, were it not waiting
                assert [e['id'] for e in receiver.events()] == [f'ev-{i:04d}' for i in range(10)]
                assert read_activity.waiting() == 1
                page_read.close()  # the read ends: the catch-up goes on
                ids = receiver.wait_for(45)
        assert ids == [f'ev-{i:04d}' for i in range(45)] and len(receiver.events()) == 45
        assert streams.get_stream('hook').position == receiver.events()[-1]['position']


def test_nonstop_reading_slows_a_catch_up_but_never_stops_it_and_live_events_do_not_wait(add_events,
                                                                                      monkeypatch) -> None:
    monkeypatch.setattr(stream_delivery, 'BATCH', 10)
    monkeypatch.setattr(stream_delivery, 'READERS_LONGEST_SECONDS', 0.05)
    with running_receiver() as receiver:
        _, receiver.secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        add_events(*many(35))
        with read_activity.reading(), delivering():
            assert receiver.wait_for(35) == [f'ev-{i:04d}' for i in range(35)]
            monkeypatch.setattr(stream_delivery, 'READERS_LONGEST_SECONDS', 600.0)
            add_events(*[event(id=f'live-{i}') for i in range(3)])  # less than a batch: not catching up
            assert receiver.wait_for(38)[35:] == ['live-0', 'live-1', 'live-2']
            assert read_activity.waiting() == 0


def test_the_doors_reads_are_marked(add_events) -> None:
    add_events(*many(3))
    org, every = Viewer.organization(), EventFilter()
    for read in (lambda: find_events(org, every), lambda: page_after(org, every, None, 10),
                 lambda: timeline(org, every)):
        before = read_activity.last_read_ended()
        read()
        assert read_activity.last_read_ended() > before


def test_send_test_delivers_one_synthetic_event_without_moving_the_position(add_events) -> None:
    with running_receiver() as receiver:
        stream, secret = streams.create_stream('hook', receiver.url, None, SERVICE, 'owner@acme.io')
        receiver.secret = secret
        shown = send_test(stream)
        body = json.loads(shown)
        assert receiver.events()[0]['id'] == body['events'][0]['id'] and body['events'][0]['id'].startswith('test-')
        assert streams.get_stream('hook').position == stream.position
        receiver.mode, receiver.status = 'status', 410
        with pytest.raises(stream_delivery.DeliveryError, match='HTTP 410'):
            send_test(stream)


def test_the_signature_is_hmac_sha256_of_the_raw_body() -> None:
    # RFC 4231, test case 2
    assert signature('Jefe', b'what do ya want for nothing?') == \
        'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'


def test_backoff_doubles_with_jitter_and_is_capped_at_five_minutes() -> None:
    highest = [backoff_seconds(n, lambda low, high: high) for n in range(1, 15)]
    lowest = [backoff_seconds(n, lambda low, high: low) for n in range(1, 15)]
    assert highest[:4] == [0.05, 0.1, 0.2, 0.4]  # FIRST_BACKOFF_SECONDS is 0.05 in these tests
    assert max(highest) == 300 and lowest[-1] == 150


def test_receiver_helper_rejects_a_wrong_signature() -> None:
    import httpx

    with running_receiver('right') as receiver:
        answer = httpx.post(receiver.url, content=b'{"events":[]}',
                            headers={'X-Audit-Signature': signature('wrong', b'{"events":[]}')})
        assert answer.status_code == 401 and receiver.bad_signatures == 1


def test_a_search_filter_reads_events_the_search_index_has_not_reached_yet() -> None:
    from store.ledger.validation import validate_event
    from store.write.ingest import append_events

    append_events([validate_event(event(id=f's{i}', description='gpu quota' if i % 2 else 'other'))
                   for i in range(6)])  # not indexed yet (SQLite indexes beside the writers)
    found = events_after(Viewer.organization(), EventFilter(search='GPU'), 0, 100)
    assert [e['id'] for e in found] == ['s1', 's3', 's5']
