"""Where a stream's batches go: a webhook, a Slack-compatible chat webhook, syslog over TCP or TLS, a JSON Lines file.

A sender's `send` returns once the destination has acknowledged the whole batch (a webhook's 2xx, the bytes
written to syslog's socket, the file's fsync) and raises DeliveryError otherwise; `permanent` marks a refusal
that retrying cannot mend (a webhook's 4xx other than 408 and 429), which pauses the stream.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from store.engine import settings
from store.streams.formats import (
    json_line,
    octet_counted,
    render_json,
    signature,
    slack_digest,
    slack_event,
    syslog_message,
    webhook_body,
)
from store.streams.registry import Destination, Stream

TIMEOUT_SECONDS = 10.0
RETRIED_4XX = (408, 429)
USER_AGENT = 'audit-logs-stream/1'


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, events: list[dict[str, Any]], previous: int) -> str:
        """Deliver the batch (events in storage order; `previous` is the position delivered before the first);
        returns what was sent, for the Send test button."""

    def close(self) -> None: ...


def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, plus AUDIT_STREAM_CA_FILE's when set (a private CA's syslog server)."""
    context = ssl.create_default_context()
    extra = settings.STREAM_CA_FILE.value()
    if extra:
        try:
            context.load_verify_locations(cafile=extra)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f'{settings.STREAM_CA_FILE.env} {extra!r} cannot be read: {exc}') from exc
    return context


def _chained(events: list[dict[str, Any]], previous: int) -> list[tuple[dict[str, Any], int]]:
    """Each event with the position delivered before it."""
    chained = []
    for event in events:
        chained.append((event, previous))
        previous = event['seq']
    return chained


class WebhookSender:
    """POSTs `{"events": [...]}` signed with `X-Audit-Signature: sha256=<hex>`; a 2xx acknowledges the batch."""

    def __init__(self, stream: Stream) -> None:
        self.url = stream.destination
        self.secret = stream.secret or ''
        self.format = stream.format
        self.client = httpx.Client(timeout=TIMEOUT_SECONDS, verify=tls_context(), follow_redirects=False,
                                   headers={'User-Agent': USER_AGENT})

    def post(self, body: bytes) -> None:
        headers = {'Content-Type': 'application/json', 'X-Audit-Signature': signature(self.secret, body)}
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f'{type(exc).__name__}: {exc or "no answer"}') from exc
        if 200 <= response.status_code < 300:
            return
        text = response.text[:200].strip()
        permanent = 400 <= response.status_code < 500 and response.status_code not in RETRIED_4XX
        raise DeliveryError(f'HTTP {response.status_code}{": " + text if text else ""}', permanent=permanent)

    def send(self, events: list[dict[str, Any]], previous: int) -> str:
        body = webhook_body([render_json(event, before, self.format) for event, before in _chained(events, previous)])
        self.post(body)
        return body.decode()

    def close(self) -> None:
        self.client.close()


class ChatSender(WebhookSender):
    """A Slack-compatible incoming webhook: one `{"text": ...}` message per event (a digest: DigestSender)."""

    def __init__(self, stream: Stream, link_base: str) -> None:
        super().__init__(stream)
        self.link_base = link_base
        self.name = stream.name

    def send(self, events: list[dict[str, Any]], previous: int) -> str:
        shown = []
        for event in events:
            body = json.dumps(slack_event(event, self.link_base), ensure_ascii=False).encode()
            self.post(body)
            shown.append(body.decode())
        return '\n'.join(shown)

    def send_digest(self, events: list[dict[str, Any]], count: int, minutes: int) -> str:
        body = json.dumps(slack_digest(events, count, minutes, self.name, self.link_base), ensure_ascii=False).encode()
        self.post(body)
        return body.decode()


class SyslogSender:
    """RFC 5424 messages, octet-counted (RFC 6587), over one kept TCP or TLS connection."""

    def __init__(self, stream: Stream) -> None:
        self.destination: Destination = stream.target
        self.format = stream.format
        self.hostname = socket.gethostname()
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.destination.host, self.destination.port), timeout=TIMEOUT_SECONDS)
            if self.destination.tls:
                sock = tls_context().wrap_socket(sock, server_hostname=self.destination.host)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f'cannot connect to {self.destination.host}:{self.destination.port}: {exc}') from exc
        return sock

    def send(self, events: list[dict[str, Any]], previous: int) -> str:
        messages = [syslog_message(event, before, self.format, self.hostname)
                    for event, before in _chained(events, previous)]
        if self.sock is None:
            self.sock = self._connect()
        try:
            self.sock.sendall(b''.join(octet_counted(message) for message in messages))
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise DeliveryError(f'syslog connection lost: {exc}') from exc
        return '\n'.join(message.decode(errors='replace') for message in messages)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


def rotated_name(path: Path, day: str) -> Path:
    """Where a finished day's file goes: `audit.jsonl` → `audit-2026-10-01.jsonl`."""
    return path.with_name(f'{path.stem}-{day}{path.suffix}')


class FileSender:
    """JSON Lines appended to PATH.jsonl and fsync'd; the first write of a new UTC day renames the file to
    PATH-YYYY-MM-DD.jsonl (the day of its last write) and starts a new one."""

    def __init__(self, stream: Stream) -> None:
        self.path = Path(stream.target.path)
        self.format = stream.format

    def _rotate(self, today: str) -> None:
        try:
            written = datetime.fromtimestamp(self.path.stat().st_mtime, UTC).date().isoformat()
        except FileNotFoundError:
            return
        if written < today:
            target = rotated_name(self.path, written)
            if not target.exists():
                os.replace(self.path, target)

    def send(self, events: list[dict[str, Any]], previous: int) -> str:
        data = b''.join(json_line(render_json(event, before, self.format))
                        for event, before in _chained(events, previous))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rotate(datetime.now(UTC).date().isoformat())
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise DeliveryError(f'cannot append to {self.path}: {exc}') from exc
        return data.decode()

    def close(self) -> None:
        pass


def sender_for(stream: Stream) -> Sender:
    kind = stream.target.kind
    if kind == 'webhook':
        if stream.format == 'slack':
            return ChatSender(stream, settings.PUBLIC_URL.value())
        return WebhookSender(stream)
    if kind == 'syslog':
        return SyslogSender(stream)
    return FileSender(stream)
