"""The HTTP API under /api/v1: append events, read them with the page's filters, and the taxonomy.

It is a FastAPI app of its own, served by the same process in front of NiceGUI's middleware (see
`register`): API calls carry a Bearer token and no cookie, and NiceGUI would otherwise create a
per-request user storage for every cookieless call. The OpenAPI docs at /docs describe this API.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from nicegui import app as nicegui_app
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from store import taxonomy
from store.db import StoreError, database
from store.events import EventFilter, page_after
from store.ingest import AppendResult, Prepared, append_prepared, prepare
from store.timefmt import iso, to_millis
from store.tokens import ApiToken, authenticate_token
from store.validation import MAX_LENGTH, STATUSES, NewEvent, ValidationError, parse_timestamp, validate_event

log = logging.getLogger(__name__)

PREFIX = '/api/v1'
MAX_BODY = 1024 * 1024
MAX_BATCH = 1000
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_SEARCH = 200
# Requests the API app answers instead of NiceGUI: the API itself and its documentation.
API_PATHS = ('/api/',)
DOC_PATHS = ('/docs', '/docs/oauth2-redirect', '/openapi.json')

T = TypeVar('T')


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


# ---- documentation models (the handlers read and write plain JSON; these describe it) ----

class EventIn(BaseModel):
    """One event to append. Unknown fields are refused."""

    id: str | None = Field(None, max_length=MAX_LENGTH['id'],
                           description='Your unique id: a retry with the same id is not stored twice.')
    timestamp: str | None = Field(None, description='ISO 8601; without a zone it is UTC; default: now.',
                                  examples=['2026-10-01T08:00:00Z'])
    user: str = Field(max_length=MAX_LENGTH['user'], description="The actor's email, or `system`.")
    scope: Literal['Organization', 'Billing', 'Workspace', 'Service']
    category: str = Field(description="One of the scope's categories (GET /api/v1/taxonomy).")
    action: str = Field(max_length=MAX_LENGTH['action'], examples=['Stop Notebook'])
    target: str | None = Field(None, max_length=MAX_LENGTH['target'])
    status: Literal['SUCCESS', 'FAILED'] = 'SUCCESS'
    description: str | None = Field(None, max_length=MAX_LENGTH['description'])
    workspace: str | None = Field(None, max_length=MAX_LENGTH['workspace'],
                                  description='Empty for organization-wide events; a workspace token must name '
                                              'its own workspace.')
    metadata: dict[str, Any] | None = Field(None, description='Any JSON object up to 16 KiB.')


class EventOut(BaseModel):
    id: str
    timestamp: str = Field(description='ISO 8601 UTC with milliseconds and Z.')
    user: str
    scope: str
    category: str
    action: str
    target: str
    status: str
    description: str
    workspace: str | None
    metadata: dict[str, Any] | None
    hash: str = Field(description="SHA-256 over the event's content and the previous event's hash.")


class EventList(BaseModel):
    events: list[EventOut]
    total: int = Field(description='How many events match, on every page.')
    next_cursor: str | None = Field(description='Pass as `cursor` for the next (older) page; null on the last.')


class Appended(BaseModel):
    ids: list[str] = Field(description="Every event's id, in the order sent (generated where none was sent).")
    stored: int
    duplicates: int = Field(description='Events whose id was stored already (or repeated in the request).')


class Problem(BaseModel):
    detail: str
    field: str | None = Field(description='The field or parameter at fault.')
    index: int | None = Field(None, description="In a batch, the event's position (from 0).")


_EVENT_SCHEMA = EventIn.model_json_schema()
_EVENT_SCHEMA['additionalProperties'] = False
_BODY_SCHEMA = {'oneOf': [_EVENT_SCHEMA, {
    'type': 'object', 'title': 'Batch', 'required': ['events'], 'additionalProperties': False,
    'properties': {'events': {'type': 'array', 'items': _EVENT_SCHEMA, 'minItems': 1, 'maxItems': MAX_BATCH}},
}]}
PROBLEMS = {status: {'model': Problem, 'description': text} for status, text in (
    (400, 'Malformed JSON, a bad parameter, or more than 1,000 events'),
    (401, 'No token, or not a valid one'),
    (403, "The token's workspace does not cover this"),
    (413, 'The body is larger than 1 MiB'),
    (422, 'An event breaks a rule; `field` and `index` name it'),
)}


# ---- the token ----

_bearer = HTTPBearer(auto_error=False, description='An API token from `python main.py create-token` or the '
                                                   'API tokens page.')


def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiToken:
    if credentials is None:
        raise ApiError(401, 'Authorization', 'send an API token: "Authorization: Bearer <token>"')
    token = kept_connection(authenticate_token, credentials.credentials)
    if token is None:
        raise ApiError(401, 'Authorization', 'the token is not valid (unknown or revoked)')
    return token


Token = Annotated[ApiToken, Depends(require_token)]


def kept_connection(fn: Callable[..., T], *args: Any) -> T:
    """Run a store function on this worker thread's connection, opened once and kept for the next call.

    Opening one costs about 0.6 ms (pragmas, schema); the API's worker threads are few and long-lived.
    """
    if database.is_closed():
        database.connect()
    return fn(*args)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Store work in Starlette's thread pool (not NiceGUI's, which the pages use)."""
    return await run_in_threadpool(kept_connection, fn, *args)


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


class GroupCommit:
    """One writer at a time stores every request that is waiting, in one transaction (group commit).

    A request thread queues its prepared events and waits for the writer's turn. Whoever gets the turn
    takes the whole queue; the others find their request done when their turn comes. A commit costs
    about the same for one request or several, so under load this stores more events per second
    (measured: 44 ms per 1,000 events in the write transaction one request at a time, 34 ms four at
    a time). Each request stays all or nothing: if a shared transaction fails, each is retried alone.
    """

    MAX_GROUP = 8  # requests per transaction: bounds the time a transaction holds the database lock

    def __init__(self) -> None:
        self._turn = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Waiting] = []

    def append(self, prepared: list[Prepared]) -> AppendResult:
        mine = _Waiting(prepared)
        with self._queue_lock:
            self._queue.append(mine)
        while not mine.done:
            with self._turn:
                if mine.done:
                    break
                with self._queue_lock:
                    group, self._queue = self._queue[:self.MAX_GROUP], self._queue[self.MAX_GROUP:]
                self._write(group)
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    @staticmethod
    def _write(group: list[_Waiting]) -> None:
        try:
            results = kept_connection(append_prepared, [waiting.prepared for waiting in group])
        except Exception:
            if len(group) == 1:
                group[0].finish(error=sys.exc_info()[1])
                return
            for waiting in group:  # one request's problem must not refuse the others
                GroupCommit._write([waiting])
            return
        for waiting, result in zip(group, results, strict=True):
            waiting.finish(result=result)


class _Waiting:
    __slots__ = ('prepared', 'result', 'error', 'done')

    def __init__(self, prepared: list[Prepared]) -> None:
        self.prepared, self.result, self.error, self.done = prepared, None, None, False

    def finish(self, result: AppendResult | None = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.done = result, error, True


writer = GroupCommit()


def ingest(body: bytes, token: ApiToken) -> AppendResult:
    raws, batch = parse_events(body)
    events = check_events(raws, batch, token, surrogates=bool(_SURROGATE_ESCAPE.search(body)))
    return writer.append(prepare(events))


# ---- reading ----

def encode_cursor(event: dict[str, Any]) -> str:
    raw = f'{to_millis(event["timestamp"])}:{event["seq"]}'.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def decode_cursor(value: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(value + '=' * (-len(value) % 4)).decode()
        ts, seq = text.split(':')
        return int(ts), int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(400, 'cursor', 'is not a cursor this API returned') from None


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    return {'id': event['id'], 'timestamp': iso(event['timestamp']), 'user': event['user'],
            'scope': event['scope'], 'category': event['category'], 'action': event['action'],
            'target': event['target'], 'status': event['status'], 'description': event['description'],
            'workspace': event['workspace'], 'metadata': event['metadata'], 'hash': event['hash']}


def build_filter(token: ApiToken, search: str | None, scope: str | None, category: str | None, status: str | None,
                 user: str | None, workspace: str | None, since: str | None, until: str | None) -> EventFilter:
    if search and len(search) > MAX_SEARCH:
        raise ApiError(400, 'search', f'is longer than {MAX_SEARCH} characters')
    if scope and scope not in taxonomy.SCOPES:
        raise ApiError(400, 'scope', f'{scope!r} is not one of {", ".join(taxonomy.SCOPES)}')
    if category:
        known = taxonomy.categories(scope) if scope else taxonomy.all_categories()
        if category not in known:
            where = f'a category of {scope}' if scope else 'a known category'
            raise ApiError(400, 'category', f'{category!r} is not {where} ({", ".join(known)})')
    if status and status not in STATUSES:
        raise ApiError(400, 'status', f'{status!r} must be SUCCESS or FAILED')
    if workspace and token.workspace is not None and workspace != token.workspace:
        raise ApiError(403, 'workspace', f'this token reads only workspace {token.workspace!r}')
    try:
        since_at = parse_timestamp(since, 'since') if since else None
        until_at = parse_timestamp(until, 'until') if until else None
    except ValidationError as exc:
        raise ApiError(400, exc.field, exc.message) from None
    return EventFilter(search=search or '', scope=scope or None, category=category or None, status=status or None,
                       user=user or None, workspace=workspace or None, since=since_at, until=until_at)


def list_events(token: ApiToken, flt: EventFilter, cursor: tuple[int, int] | None, limit: int) -> dict[str, Any]:
    viewer = token.viewer()
    page = page_after(viewer, flt, cursor, limit + 1)
    more = len(page.events) > limit
    rows = page.events[:limit]
    return {'events': [event_json(row) for row in rows], 'total': page.total,
            'next_cursor': encode_cursor(rows[-1]) if more else None}


# ---- routes ----

router = APIRouter(prefix=PREFIX)


@router.post('/events', status_code=201, response_model=Appended, responses=PROBLEMS, summary='Append events',
             openapi_extra={'requestBody': {'required': True, 'content': {'application/json': {
                 'schema': _BODY_SCHEMA}}}})
async def post_events(request: Request, token: Token) -> dict[str, Any]:
    """One event object, or `{"events": [...]}` with up to 1,000: all are stored, or none.

    An event whose `id` is stored already is not stored again, so a client may retry a request safely.
    """
    body = await read_body(request)
    result = await in_thread(ingest, body, token)
    return {'ids': result.ids, 'stored': result.stored, 'duplicates': result.duplicates}


@router.get('/events', response_model=EventList, responses=PROBLEMS, summary='Read events, newest first')
async def get_events(
    token: Token,
    search: Annotated[str | None, Query(description='Words in user, action, target, description, scope or '
                                                   'category (case-insensitive substring).')] = None,
    scope: Annotated[str | None, Query(description='Organization, Billing, Workspace or Service.')] = None,
    category: Annotated[str | None, Query(description="One of the scope's categories.")] = None,
    status: Annotated[str | None, Query(description='SUCCESS or FAILED.')] = None,
    user: Annotated[str | None, Query(description="The actor's email, exactly.")] = None,
    workspace: Annotated[str | None, Query(description='One workspace.')] = None,
    since: Annotated[str | None, Query(description='ISO 8601; events at or after it.')] = None,
    until: Annotated[str | None, Query(description='ISO 8601; events before it.')] = None,
    cursor: Annotated[str | None, Query(description='`next_cursor` of the previous page.')] = None,
    limit: Annotated[str | None, Query(description=f'Events per page, 1 to {MAX_LIMIT} '
                                                   f'(default {DEFAULT_LIMIT}).')] = None,
) -> JSONResponse:
    """The events the token may see that match every given filter, newest first, a page at a time.

    Pages follow a keyset cursor, so events that arrive meanwhile do not shift them.
    """
    flt = build_filter(token, search, scope, category, status, user, workspace, since, until)
    if limit is None or limit == '':
        size = DEFAULT_LIMIT
    elif not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise ApiError(400, 'limit', f'must be a whole number from 1 to {MAX_LIMIT}')
    else:
        size = int(limit)
    position = decode_cursor(cursor) if cursor else None
    return JSONResponse(await in_thread(list_events, token, flt, position, size))


@router.get('/taxonomy', responses={401: PROBLEMS[401]}, summary='Scopes and their categories')
async def get_taxonomy(token: Token) -> dict[str, list[str]]:
    """`{"Scope": ["Category", ...]}` for the four scopes, with the installation's extra categories."""
    return taxonomy.taxonomy()


READ_ONLY = 'audit events are read-only: no method edits or deletes an event'


@router.api_route('/events', methods=['PUT', 'PATCH', 'DELETE'], include_in_schema=False)
async def refuse_bulk_change() -> JSONResponse:
    return JSONResponse({'detail': READ_ONLY, 'field': None}, status_code=405, headers={'Allow': 'GET, POST'})


@router.api_route('/events/{event_id:path}', methods=['PUT', 'PATCH', 'DELETE', 'POST'], include_in_schema=False)
async def refuse_change(event_id: str) -> JSONResponse:
    return JSONResponse({'detail': READ_ONLY, 'field': None}, status_code=405, headers={'Allow': ''})


# ---- the app ----

async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {'WWW-Authenticate': 'Bearer'} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    field = str(first.get('loc', ['request'])[-1])
    return JSONResponse({'detail': f'{field}: {first.get("msg", "is not valid")}', 'field': field}, status_code=422)


async def _store_refused(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({'detail': str(exc), 'field': None}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if 'database is locked' in str(exc):  # waited longer than the busy timeout for the write lock
        log.warning('API request gave up waiting for the database: %s', exc)
        return JSONResponse({'detail': 'the database is busy; retry the same request', 'field': None},
                            status_code=503, headers={'Retry-After': '1'})
    log.exception('API request failed', exc_info=exc)
    return JSONResponse({'detail': 'internal error; it has been logged', 'field': None}, status_code=500)


def create_api() -> FastAPI:
    api = FastAPI(title='Audit Logs API', version='1',
                  description='Append audit events and read them back. Every call needs an API token: '
                              '`Authorization: Bearer <token>`.',
                  docs_url='/docs', redoc_url=None, openapi_url='/openapi.json')
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(RequestValidationError, _request_invalid)
    api.add_exception_handler(StoreError, _store_refused)
    api.add_exception_handler(Exception, _unexpected)
    api.include_router(router)
    return api


class ApiFirst:
    """ASGI: hand API and docs requests to the API app before NiceGUI's session and storage middleware."""

    def __init__(self, app: ASGIApp, api: ASGIApp) -> None:
        self.app, self.api = app, api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http' and is_api_path(scope['path']):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def is_api_path(path: str) -> bool:
    return path.startswith(API_PATHS) or path in DOC_PATHS


def register() -> None:
    """Serve the API from this process, outside NiceGUI's per-request session and user storage.

    NiceGUI adds its SessionMiddleware and RequestTrackingMiddleware (which creates a user storage for
    every request without a session cookie) when `ui.run` starts, so a middleware or a mounted app
    registered earlier would still sit inside them. Instead the app's middleware stack, built on the
    first request, is wrapped so that `ApiFirst` sees each request before any of them.
    """
    api = create_api()
    cls = type(nicegui_app)

    def build_middleware_stack() -> ASGIApp:
        return ApiFirst(cls.build_middleware_stack(nicegui_app), api)

    nicegui_app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    nicegui_app.middleware_stack = None
