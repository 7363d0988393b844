"""A real HTTP receiver for stream tests: a threading HTTP server on a free loopback port that checks every
request's signature, records the events it acknowledged, and can be told to fail (an HTTP status), stall or drop
the connection."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, secret: str = '') -> None:
        self.secret = secret
        self.mode = 'ok'  # ok | status | stall | drop
        self.status = 500
        self.stall_seconds = 0.0
        self.answer_delay = 0.0  # seconds between recording a body and acknowledging it
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []  # every acknowledged body, in arrival order
        self.bad_signatures = 0
        self.refused = 0  # requests answered with an error, stalled or dropped
        self.arrived = threading.Condition(self.lock)
        self.connections: set[socket.socket] = set()  # open client connections (kept alive between requests)
        self._listen(0)

    def _listen(self, port: int) -> None:
        self.server = ThreadingHTTPServer(('127.0.0.1', port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def go_down(self) -> None:
        """Stop listening and drop the open connections: connections are refused until `come_back`."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        with self.lock:
            open_connections, self.connections = list(self.connections), set()
        for connection in open_connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed by the client meanwhile

    def come_back(self) -> None:
        self._listen(self.server.server_address[1])
        self.thread.start()

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.server.server_address[1]}/hook'

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for body in self.bodies if 'events' in body for event in body['events']]

    def unique_ids(self) -> list[str]:
        """The received event ids in arrival order, each once (receivers dedupe by id)."""
        return list(dict.fromkeys(event['id'] for event in self.events()))

    def tally(self, sent: list[str]) -> tuple[int, str]:
        """How many events arrived more than once, and the line a fault test prints: sent, received, duplicated,
        missing."""
        everything = [event['id'] for event in self.events()]
        duplicated = len(everything) - len(set(everything))
        return duplicated, (f'sent {len(sent):,}, received {len(everything):,}, duplicated {duplicated:,}, '
                            f'missing {len(set(sent) - set(everything)):,}')

    def wait_for(self, count: int, timeout: float = 30) -> list[str]:
        """Wait until `count` distinct events arrived; returns their ids (fails the test on timeout)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                ids = list(dict.fromkeys(e['id'] for b in self.bodies if 'events' in b for e in b['events']))
                if len(ids) >= count:
                    return ids
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f'the receiver got {len(ids)} of {count} events in {timeout} s')
                self.arrived.wait(left)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections.add(self.connection)

            def finish(self) -> None:
                with receiver.lock:
                    receiver.connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                expected = 'sha256=' + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get('X-Audit-Signature', ''), expected):
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self._answer(401, b'bad signature')
                    return
                mode = receiver.mode
                if mode == 'drop':
                    with receiver.lock:
                        receiver.refused += 1
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == 'stall':
                    with receiver.lock:
                        receiver.refused += 1
                    time.sleep(receiver.stall_seconds)
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == 'status':
                    with receiver.lock:
                        receiver.refused += 1
                    self._answer(receiver.status, b'told to fail')
                    return
                with receiver.arrived:
                    receiver.bodies.append(json.loads(body))
                    receiver.arrived.notify_all()
                time.sleep(receiver.answer_delay)
                self._answer(200, b'ok')

            def _answer(self, status: int, text: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header('Content-Length', str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:  # the sender is gone (a test killed it): nothing was acknowledged
                    self.close_connection = True

        return Handler


@contextmanager
def running_receiver(secret: str = '') -> Iterator[Receiver]:
    receiver = Receiver(secret)
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join()
