"""Delivering streams: one background thread per process leases streams, one thread per leased stream delivers.
The server runs them in a delivery process of its own (cli/delivery.py), or with AUDIT_STREAM_DELIVERY=thread
in its own process.

A lease is a row's `lease_owner` with an expiry in the database, renewed while delivering and taken over once
expired, so with several app instances on one database exactly one delivers each stream, and another takes
over once the lease runs out (AUDIT_STREAM_LEASE_SECONDS) when it dies. A stream's position is stored only
after the destination acknowledged the batch, and only while the lease and the stream's generation are
unchanged: a crash resends at most the batch in flight, and nothing is skipped. It is stored in the stream's
progress row (store/streams/progress.py), apart from the events' file on SQLite. Failures are retried with
exponential backoff and jitter, capped at MAX_BACKOFF_SECONDS; a refusal retrying cannot mend (a webhook's 4xx
other than 408/429) pauses the stream. A stream catching up a backlog (its last batch was full) yields to the
readers of its own process between batches (store/read/activity.py): in the server's process they share the
interpreter lock.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import peewee

from store.engine import settings
from store.engine.db import StoreError, connection, database, write_transaction
from store.engine.timefmt import now_millis
from store.ledger import chain
from store.read import activity as read_activity
from store.read.events import count_after, events_after
from store.streams import progress
from store.streams.destinations import ChatSender, DeliveryError, Sender, sender_for
from store.streams.formats import DIGEST_LISTED
from store.streams.registry import AUDIT_CATEGORY, AUDIT_SCOPE, Stream, get_stream_by_id, list_streams
from store.streams.verify import TEST_PREFIX
from store.write.self_audit import record

log = logging.getLogger(__name__)

BATCH = 500
SCAN_SECONDS = 1.0  # how often the process looks for streams to take
IDLE_SECONDS = 0.25  # how often a stream with nothing to send looks for new events
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0
# A catching-up stream starts its next batch once no read was in progress for READERS_QUIET_SECONDS, or after
# READERS_LONGEST_SECONDS of reading (so nonstop reading slows a catch-up to a batch a second, never stops it).
# Measured at 1M events (bench_streams.py --readers): a 1 s quiet spell kept the page's reads nearer their quiet
# figures than 0.2 s did.
READERS_QUIET_SECONDS = 1.0
READERS_LONGEST_SECONDS = 1.0


def backoff_seconds(failures: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """The wait before retry number `failures` (1, 2, ...): doubling from 1 s, capped at 5 minutes, with the
    upper half jittered so many streams that failed together do not retry together."""
    ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** max(0, failures - 1))
    return rng(ceiling / 2, ceiling)


def lease_millis() -> int:
    value = settings.STREAM_LEASE_SECONDS.value()
    if not value.isdigit() or int(value) < 1:
        raise StoreError(f'{settings.STREAM_LEASE_SECONDS.env} must be a whole number of seconds, not {value!r}')
    return int(value) * 1000


def take_lease(stream_id: int, owner: str, kept: Stream | None = None) -> bool:
    """Take or renew the stream's lease for `owner`: free, expired or already ours. False when another holds it
    or the stream is paused or gone. With `kept`, the stream as this owner last read it, its position is copied
    into the stream's own row (store/streams/progress.py)."""
    now = now_millis()
    cursor = database.execute_sql(
        f"UPDATE stream SET lease_owner = ?, lease_expires = ?, {_KEEP_POSITION} WHERE id = ? AND state <> 'paused' "
        'AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires < ?)',
        (owner, now + lease_millis(), *_kept(kept), stream_id, owner, now))
    return cursor.rowcount == 1


def release_lease(stream_id: int, owner: str) -> None:
    """Give the lease up, the position delivered so far copied into the stream's own row."""
    database.execute_sql(f'UPDATE stream SET lease_owner = NULL, lease_expires = NULL, {_KEEP_POSITION} '
                         'WHERE id = ? AND lease_owner = ?', (*_kept(get_stream_by_id(stream_id)), stream_id, owner))


# A position moves forward within its generation only; one of another generation is not this stream's any more.
_KEEP_POSITION = 'position = CASE WHEN generation = ? AND position < ? THEN ? ELSE position END'


def _kept(stream: Stream | None) -> tuple[int, int, int]:
    return (-1, 0, 0) if stream is None else (stream.generation, stream.position, stream.position)


def acknowledge(stream: Stream, owner: str, last: tuple[int, str], count: int, *, digest: bool = False) -> bool:
    """Store the position the destination acknowledged (`last`: the last event's position and hash); False when
    the stream changed or the lease was lost meanwhile (the batch is then sent again by whoever delivers next:
    at least once). The stream's own row is written only when it was failing: a catch-up's positions go to
    its progress row (store/streams/progress.py)."""
    now = now_millis()
    if not progress.record(stream.id, stream.created_at, stream.generation, owner, *last, count, now, digest):
        return False
    if stream.failures or stream.next_retry or stream.state != 'active':
        database.execute_sql(
            "UPDATE stream SET failures = 0, next_retry = NULL, state = 'active' "
            'WHERE id = ? AND lease_owner = ? AND generation = ?', (stream.id, owner, stream.generation))
    return True


def record_failure(stream: Stream, owner: str, error: str, permanent: bool) -> None:
    """Note a failed delivery: retried after a backoff, or (permanent) the stream is paused with the error."""
    now = now_millis()
    failures = stream.failures + 1
    state = 'paused' if permanent else 'failing'
    retry = None if permanent else now + int(backoff_seconds(failures) * 1000)
    with write_transaction():
        cursor = database.execute_sql(
            'UPDATE stream SET failures = ?, last_error = ?, last_error_at = ?, next_retry = ?, state = ?, '
            f'generation = generation + ?, {_KEEP_POSITION} WHERE id = ? AND lease_owner = ? AND generation = ?',
            (failures, error[:500], now, retry, state, 1 if permanent else 0, *_kept(stream), stream.id, owner,
             stream.generation))
        if permanent and cursor.rowcount == 1:
            record('system', 'Pause Stream', stream.name,
                   f'Paused stream {stream.name}: the destination refused a delivery ({error[:200]})',
                   scope=AUDIT_SCOPE, category=AUDIT_CATEGORY, status='FAILED', metadata={'error': error[:500]})


@dataclass
class _Worker:
    thread: threading.Thread
    stop: threading.Event


class Deliverer:
    """Per process: takes the lease of each stream to deliver and runs one thread per stream it holds."""

    def __init__(self, owner: str | None = None) -> None:
        self.owner = owner or f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: dict[int, _Worker] = {}

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name='stream-deliverer', daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """False once its thread has died while it should run (for readiness, store/lifecycle/health.py)."""
        thread = self._thread
        return thread is None or thread.is_alive()

    def stop(self) -> None:
        """Stop every stream's thread after its current delivery and give up the leases."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for worker in self._workers.values():
            worker.stop.set()
        for worker in self._workers.values():
            worker.thread.join()
        self._workers.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._scan()
            except (peewee.DatabaseError, peewee.InterfaceError, OSError) as exc:
                log.warning('streams: cannot read the streams: %s', exc)
            self._stop.wait(SCAN_SECONDS)

    def _scan(self) -> None:
        for stream_id, worker in list(self._workers.items()):
            if not worker.thread.is_alive():
                del self._workers[stream_id]
        with connection():
            streams = list_streams()
            for stream in streams:
                if stream.id in self._workers or stream.state == 'paused':
                    continue
                if take_lease(stream.id, self.owner):
                    stop = threading.Event()
                    thread = threading.Thread(target=self._deliver, args=(stream.id, stop), name=f'stream-{stream.id}',
                                              daemon=True)
                    self._workers[stream.id] = _Worker(thread, stop)
                    thread.start()

    def _deliver(self, stream_id: int, stop: threading.Event) -> None:
        try:
            with connection():
                _StreamLoop(stream_id, self.owner, stop).run()
        except (peewee.DatabaseError, peewee.InterfaceError) as exc:
            log.warning('streams: stream %s stopped on a database error: %s', stream_id, exc)
        finally:
            try:
                with connection():
                    release_lease(stream_id, self.owner)
            except (peewee.DatabaseError, peewee.InterfaceError):
                pass  # the lease expires by itself


class _StreamLoop:
    """Delivers one stream while this process holds its lease."""

    def __init__(self, stream_id: int, owner: str, stop: threading.Event) -> None:
        self.stream_id = stream_id
        self.owner = owner
        self.stop = stop
        self.sender: Sender | None = None
        self.sender_key: tuple | None = None
        self.renewed_at = time.monotonic()  # the Deliverer took the lease just before
        self.catching_up = False  # the last batch was full: more are waiting

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.catching_up:
                    read_activity.wait_for_readers(self.stop, READERS_QUIET_SECONDS, READERS_LONGEST_SECONDS)
                stream = get_stream_by_id(self.stream_id)
                if stream is None or stream.state == 'paused' or not self._renewed(stream):
                    return
                wait = self.step(stream)
                if wait:
                    self.stop.wait(wait)
        finally:
            self._close()

    def _renewed(self, stream: Stream) -> bool:
        """Whether this process still holds the lease; renewed (a write, which also keeps the position in the
        stream's row) once a third of it has passed, and after a position could not be stored."""
        if time.monotonic() - self.renewed_at < lease_millis() / 3000:
            return True
        if not take_lease(self.stream_id, self.owner, stream):
            return False
        self.renewed_at = time.monotonic()
        return True

    def _acknowledged(self, stream: Stream, last: tuple[int, str], count: int, digest: bool = False) -> None:
        if not acknowledge(stream, self.owner, last, count, digest=digest):
            self.renewed_at = float('-inf')  # changed meanwhile, or the lease was lost: check before sending more

    def _sender(self, stream: Stream) -> Sender:
        key = (stream.destination, stream.format, stream.secret)
        if self.sender is None or key != self.sender_key:
            self._close()
            self.sender, self.sender_key = sender_for(stream), key
        return self.sender

    def _close(self) -> None:
        if self.sender is not None:
            self.sender.close()
            self.sender = None

    def step(self, stream: Stream) -> float:
        """One delivery (or none); returns how long to wait before the next."""
        self.catching_up = False
        now = now_millis()
        if stream.next_retry and now < stream.next_retry:
            return min(1.0, (stream.next_retry - now) / 1000)
        if stream.digest_minutes:
            return self._digest(stream, now)
        events = events_after(stream.viewer(), stream.filter, stream.position, BATCH)
        self.catching_up = len(events) == BATCH
        if not events:
            return IDLE_SECONDS
        try:
            self._sender(stream).send(events, stream.position)
        except DeliveryError as exc:
            self._close()
            record_failure(stream, self.owner, str(exc), exc.permanent)
            return 0.0
        self._acknowledged(stream, (events[-1]['seq'], events[-1]['hash']), len(events))
        return 0.0

    def _digest(self, stream: Stream, now: int) -> float:
        """At most one message per `digest_minutes`: the count of the events since the last and the first few."""
        due = (stream.last_sent or 0) + stream.digest_minutes * 60_000
        if now < due:
            return min(1.0, (due - now) / 1000)
        head, head_hash = chain.head()
        count = count_after(stream.viewer(), stream.filter, stream.position, head)
        if not count:
            return IDLE_SECONDS
        first = events_after(stream.viewer(), stream.filter, stream.position, DIGEST_LISTED, head)
        sender = self._sender(stream)
        try:
            if not isinstance(sender, ChatSender):
                raise DeliveryError('a digest needs a chat destination (--format slack)', permanent=True)
            sender.send_digest(first, count, stream.digest_minutes)
        except DeliveryError as exc:
            self._close()
            record_failure(stream, self.owner, str(exc), exc.permanent)
            return 0.0
        self._acknowledged(stream, (head, head_hash), count, digest=True)
        return 0.0


def synthetic_event() -> dict:
    """The synthetic event the Send test button delivers (position 0: it is not in the log)."""
    return {'seq': 0, 'id': f'{TEST_PREFIX}{uuid.uuid4()}', 'timestamp': datetime.now(UTC), 'user': 'system',
            'scope': AUDIT_SCOPE, 'category': AUDIT_CATEGORY, 'action': 'Test Stream', 'target': 'test',
            'status': 'SUCCESS', 'description': 'A test event sent from the Streams page; it is not in the log.',
            'workspace': None, 'metadata': {'test': True}, 'hash': '0' * 64}


def send_test(stream: Stream) -> str:
    """Deliver one synthetic event to the stream's destination now; returns what was sent (DeliveryError if not).
    The stream's position and counters do not change."""
    sender = sender_for(stream)
    try:
        return sender.send([synthetic_event()], stream.position)
    finally:
        sender.close()
