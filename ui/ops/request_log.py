"""The server's log: one line per request and per background event, as text or JSON (AUDIT_LOG_FORMAT), with
secrets taken out.

`RequestLog` wraps the whole ASGI app: it times each request, logs one line when it ends (the route's template
rather than the path, so a path parameter such as an export's one-time link stays out; never the query
string), and tells the metrics (ui/ops/metrics.py) about API requests and page loads. Every line, of any logger,
passes `scrub`, which masks bearer values, API tokens, passwords in URLs and `name=value` pairs whose name
says secret, token, password or session.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.engine.db import StoreError
from store.people.tokens import PREFIX as TOKEN_PREFIX
from ui.api.application import is_api_path
from ui.ops import metrics

log = logging.getLogger('audit.request')

_SECRETS = [
    (re.compile(r'(?i)\b(bearer\s+)[^\s"\',;]+'), r'\1***'),
    (re.compile(re.escape(TOKEN_PREFIX) + r'[A-Za-z0-9_-]{8,}'), TOKEN_PREFIX + '***'),
    (re.compile(r'(://[^:/\s@"]+:)[^@\s/"]+@'), r'\1***@'),
    (re.compile(r'(?i)\b([\w-]*(?:password|passwd|secret|token|session)[\w-]*["\']?\s*[=:]\s*["\']?)'
                r'[^\s"\'&,;]+'), r'\1***'),
]


def scrub(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__('%(asctime)s %(levelname)s %(name)s %(message)s')

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return _iso(record.created)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request's fields, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {'time': _iso(record.created), 'level': record.levelname, 'logger': record.name,
                                 'message': record.getMessage()}
        entry.update(getattr(record, 'fields', {}))
        if record.exc_info:
            entry['exception'] = self.formatException(record.exc_info)
        # each text scrubbed before it is quoted: a pattern run over the JSON could cut an escape in two
        return json.dumps({key: scrub(value) if isinstance(value, str) else value for key, value in entry.items()},
                          ensure_ascii=False, default=str)


def _iso(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def configure_logging(fmt: str) -> None:
    """Every logger of the process writes through one handler on standard error, at INFO and above."""
    if fmt not in ('text', 'json'):
        raise StoreError(f"AUDIT_LOG_FORMAT must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == 'json' else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ('watchfiles', 'httpx', 'httpcore'):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger('uvicorn.error').addFilter(_not_uvicorn_websocket_line)


def _not_uvicorn_websocket_line(record: logging.LogRecord) -> bool:
    """uvicorn logs each websocket's opening with its query string (NiceGUI's client ids); `RequestLog` logs
    the websocket without it when it ends."""
    return not str(record.msg).startswith('%s - "WebSocket %s"')


class RequestLog:
    """ASGI: log each HTTP request and websocket when it ends, and count API requests and page loads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] not in ('http', 'websocket'):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get('path', '')  # as asked: a mounted app may rewrite it in the scope
        seen: dict[str, Any] = {'status': None, 'html': False}

        async def watch(message: Message) -> None:
            if message['type'] == 'http.response.start':
                seen['status'] = message['status']
                seen['html'] = any(name.lower() == b'content-type' and value.startswith(b'text/html')
                                   for name, value in message.get('headers', ()))
            elif message['type'] == 'websocket.accept':
                seen['status'] = 101
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if seen['status'] is None:
                seen['status'] = 500
            raise
        finally:
            _ended(scope, path, seen['status'], seen['html'], time.perf_counter() - started)


def route_of(scope: Scope) -> str | None:
    """The matched route's template (`/api/v1/events`, `/export/download/{token}`), or None (also for a mounted
    app, such as static files or NiceGUI's websocket, whose own paths follow the mount's)."""
    route = scope.get('route')
    if route is None or isinstance(route, Mount):
        return None
    return getattr(route, 'path_format', None) or getattr(route, 'path', None)


def _ended(scope: Scope, path: str, status: int | None, html: bool, seconds: float) -> None:
    route = route_of(scope)
    shown = route or path[:200]
    method = scope.get('method', 'WS') if scope['type'] == 'http' else 'WS'
    client = scope['client'][0] if scope.get('client') else '-'
    answered = str(status) if status is not None else 'no-response'
    if scope['type'] == 'http' and is_api_path(path):
        metrics.count_request(route or 'unmatched', method, status or 0, seconds)
    elif method == 'GET' and status == 200 and html:
        metrics.count_page_load(route or 'unmatched')
    fields = {'method': method, 'path': shown, 'status': status, 'duration_ms': round(seconds * 1000, 1),
              'client': client}
    log.info('%s %s %s %.1f ms %s', method, shown, answered, seconds * 1000, client, extra={'fields': fields})
