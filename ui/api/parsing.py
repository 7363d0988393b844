"""Reading an API request: the body and its events, the token's right to write them, and the query of a read.

Every check refuses with an `ApiError` that names the field at fault (and, in a batch, the event's index);
the handlers answer it as JSON (ui/api/application.py). The limits are the schema's (ui/api/schema.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from store.engine.timefmt import to_millis
from store.ledger import taxonomy
from store.ledger.validation import CONTROL_CLASS, STATUSES, NewEvent, ValidationError, parse_timestamp, validate_event
from store.people.tokens import ApiToken
from store.read.events import EventFilter
from ui.api.schema import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_BATCH, MAX_BODY, MAX_LIMIT, MAX_SEARCH, NUMBER


class ApiError(Exception):
    """A refused request: its status, the field at fault and, in a batch, the event's index."""

    def __init__(self, status: int, field: str | None, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.status, self.field, self.message, self.index = status, field, message, index

    def body(self) -> dict[str, Any]:
        where = f'event {self.index}: ' if self.index is not None else ''
        what = f'{self.field}: ' if self.field else ''
        answer: dict[str, Any] = {'detail': f'{where}{what}{self.message}', 'field': self.field}
        if self.index is not None:
            answer['index'] = self.index
        return answer


# ---- appending ----

async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed 1 MiB (never read in full then)."""
    length = request.headers.get('content-length')
    if length is not None:
        if not length.strip().isdigit():
            raise ApiError(400, 'Content-Length', 'is not a number')
        if int(length) > MAX_BODY:
            raise ApiError(413, 'body', f'is {int(length):,} bytes; at most {MAX_BODY:,} (1 MiB) per request')
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, 'body', f'is larger than {MAX_BODY:,} bytes (1 MiB)')
        chunks.append(chunk)
    return b''.join(chunks)


def parse_events(body: bytes) -> tuple[list[Any], bool]:
    """The raw events of a body, and whether it was a batch."""
    if not body.strip():
        raise ApiError(400, 'body', 'is empty: send an event object or {"events": [...]}')
    try:
        data = json.loads(body.decode('utf-8-sig'), parse_constant=_not_json, parse_float=_finite)
    except UnicodeDecodeError:
        raise ApiError(400, 'body', 'is not UTF-8 text') from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, 'body', f'is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})') \
            from None
    except RecursionError:
        raise ApiError(400, 'body', 'is nested too deeply') from None
    except ValueError as exc:  # NaN, Infinity, a number too large to convert
        raise ApiError(400, 'body', f'is not valid JSON ({exc})') from None
    if not isinstance(data, dict):
        raise ApiError(400, 'body', 'must be an event object or {"events": [...]}')
    if 'events' not in data:
        return [data], False
    extra = sorted(set(data) - {'events'})
    if extra:
        raise ApiError(400, extra[0], 'is not allowed beside "events"')
    events = data['events']
    if not isinstance(events, list):
        raise ApiError(400, 'events', 'must be a list of event objects')
    if not events:
        raise ApiError(400, 'events', 'is empty')
    if len(events) > MAX_BATCH:
        raise ApiError(400, 'events', f'holds {len(events):,} events; at most {MAX_BATCH:,} per request')
    return events, True


def _not_json(name: str) -> Any:
    raise ValueError(f'{name} is not a JSON number')


def _finite(text: str) -> float:
    value = float(text)
    if value in (float('inf'), float('-inf')):
        raise ValueError(f'{text} is too large a number')
    return value


def check_events(raws: list[Any], batch: bool, token: ApiToken, *, surrogates: bool = False) -> list[NewEvent]:
    """Validate every event and the token's right to write it; the first problem refuses them all.

    `surrogates`: the body has \\uD800-\\uDFFF escapes, so look for unpaired ones, which cannot be stored.
    """
    now = datetime.now(UTC)
    checked = []
    for index, raw in enumerate(raws):
        at = index if batch else None
        try:
            event = validate_event(raw, now)
        except ValidationError as exc:
            raise ApiError(422, exc.field, exc.message, at) from None
        if surrogates and (field := _unpaired_surrogate(event)):
            raise ApiError(422, field, 'holds an unpaired surrogate (such as \\ud800): not valid Unicode', at)
        if token.workspace is not None and event.workspace != token.workspace:
            raise ApiError(403, 'workspace', f'this token writes only events of workspace {token.workspace!r}, '
                                             f'not {event.workspace or "organization-wide events"!r}', at)
        checked.append(event)
    return checked


_SURROGATE_ESCAPE = re.compile(rb'\\u[dD][89a-fA-F]')
_TEXT_FIELDS = ('id', 'user', 'scope', 'category', 'action', 'target', 'status', 'description', 'workspace')


def _unpaired_surrogate(event: NewEvent) -> str | None:
    """The first field whose text cannot be encoded as UTF-8."""
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        if value is not None and not _encodable(value):
            return name
    if event.metadata is not None and not _encodable(json.dumps(event.metadata, ensure_ascii=False)):
        return 'metadata'
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def read_events(body: bytes, token: ApiToken) -> list[NewEvent]:
    """The checked events of a POST body: all of them, or the first problem."""
    raws, batch = parse_events(body)
    return check_events(raws, batch, token, surrogates=bool(_SURROGATE_ESCAPE.search(body)))


# ---- reading ----

def encode_cursor(event: dict[str, Any]) -> str:
    """The position after `event`: its time in milliseconds and its sequence number, 12 hex digits each."""
    return f'{to_millis(event["timestamp"]):012x}{event["seq"]:012x}'


def decode_cursor(value: str) -> tuple[int, int]:
    """(ts, seq) of a cursor. Any cursor of the schema's form names a position: one past the last moment a
    timestamp can hold (year 9999) is read as that moment, before which every event lies."""
    if not _CURSOR.fullmatch(value):
        raise ApiError(400, 'cursor', 'is not a cursor this API returned')
    return min(int(value[:12], 16), _LAST_MILLIS), int(value[12:], 16)


_CURSOR = re.compile(CURSOR_PATTERN.strip('^$'))
_CONTROL = re.compile(f'[{CONTROL_CLASS}]')
_LAST_MILLIS = to_millis(datetime(9999, 12, 31, 23, 59, 59, 999000, UTC)) - 1  # a page reads to the cursor's ms + 1


def build_filter(token: ApiToken, query: Mapping[str, str]) -> EventFilter:
    """The filter of GET /api/v1/events' parameters, each checked as the schema states (ui/api/schema.py)."""
    search, user, workspace = (_text_parameter(query, name) for name in ('search', 'user', 'workspace'))
    if len(search) > MAX_SEARCH:
        raise ApiError(400, 'search', f'is longer than {MAX_SEARCH} characters')
    scope = _choice(query, 'scope', taxonomy.SCOPES)
    category = _choice(query, 'category', taxonomy.all_categories())
    status = _choice(query, 'status', STATUSES)
    if workspace and token.workspace is not None and workspace != token.workspace:
        raise ApiError(403, 'workspace', f'this token reads only workspace {token.workspace!r}')
    try:
        since_at, until_at = (parse_timestamp(query[name], name) if name in query else None
                              for name in ('since', 'until'))
    except ValidationError as exc:
        raise ApiError(400, exc.field, exc.message) from None
    return EventFilter(search=search, scope=scope, category=category, status=status, user=user or None,
                       workspace=workspace or None, since=since_at, until=until_at)


def _text_parameter(query: Mapping[str, str], name: str) -> str:
    value = query.get(name, '')
    if (bad := _CONTROL.search(value)) is not None:
        raise ApiError(400, name, f'contains the control character U+{ord(bad.group()):04X}')
    return value


def _choice(query: Mapping[str, str], name: str, allowed: Sequence[str]) -> str | None:
    if name not in query:
        return None
    if query[name] not in allowed:
        raise ApiError(400, name, f'{query[name]!r} is not one of {", ".join(allowed)}')
    return query[name]


def page_size(query: Mapping[str, str]) -> int:
    limit = query.get('limit')
    if limit is None:
        return DEFAULT_LIMIT
    if not NUMBER.fullmatch(limit) or not 1 <= int(limit) <= MAX_LIMIT:
        raise ApiError(400, 'limit', f'must be a whole number from 1 to {MAX_LIMIT}')
    return int(limit)
