"""The HTTP API under /api/v1: append events, read them with the page's filters, and the taxonomy.

It is a FastAPI app of its own, served by the same process in front of NiceGUI's middleware (see
`register`): API calls carry a Bearer token and no cookie, and NiceGUI would otherwise create a
per-request user storage for every cookieless call. The OpenAPI docs at /docs describe this API.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from nicegui import app as nicegui_app
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from store import taxonomy
from store.db import StoreError, database
from store.events import EventFilter, event_json, page_after
from store.ingest import AppendResult, Prepared, append_prepared, prepare
from store.timefmt import to_millis
from store.tokens import ApiToken, authenticate_token
from store.validation import CONTROL_CLASS, STATUSES, NewEvent, ValidationError, parse_timestamp, validate_event
from ui.api import schema as api_schema
from ui.api.schema import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_BATCH, MAX_BODY, MAX_LIMIT, MAX_SEARCH, NUMBER

log = logging.getLogger(__name__)

PREFIX = '/api/v1'
EVENTS_PATH = f'{PREFIX}/events'
# The methods /api/v1/events serves (405 answers and OPTIONS list them); no method edits or deletes an event.
EVENTS_METHODS = 'GET, POST, OPTIONS'
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
    """The filter of GET /api/v1/events' parameters, each checked as the schema states (ui/api_schema.py)."""
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
             openapi_extra={'requestBody': {'required': True, 'content': {'application/json': {}}}})
async def post_events(request: Request, token: Token) -> dict[str, Any]:
    """One event object, or `{"events": [...]}` with up to 1,000: all are stored, or none.

    An event whose `id` is stored already is not stored again, so a client may retry a request safely.
    """
    body = await read_body(request)
    result = await in_thread(ingest, body, token)
    return {'ids': result.ids, 'stored': result.stored, 'duplicates': result.duplicates}


@router.get('/events', response_model=EventList, responses=PROBLEMS, summary='Read events, newest first')
async def get_events(request: Request, token: Token) -> JSONResponse:
    """The events the token may see that match every given filter, newest first, a page at a time.

    Pages follow a keyset cursor, so events that arrive meanwhile do not shift them. The parameters are
    read here and described in the schema by ui/api_schema.py, from the same rules.
    """
    query = request.query_params
    flt = build_filter(token, query)
    size = page_size(query)
    position = decode_cursor(query['cursor']) if 'cursor' in query else None
    return JSONResponse(await in_thread(list_events, token, flt, position, size))


@router.options('/events', include_in_schema=False)
async def events_options() -> Response:
    return Response(status_code=204, headers={'Allow': EVENTS_METHODS})


@router.get('/taxonomy', responses={401: PROBLEMS[401]}, summary='Scopes and their categories')
async def get_taxonomy(token: Token) -> dict[str, list[str]]:
    """`{"Scope": ["Category", ...]}` for the four scopes, with the installation's extra categories."""
    return taxonomy.taxonomy()


READ_ONLY = 'audit events are read-only: no method edits or deletes an event'


@router.api_route('/events', methods=['PUT', 'PATCH', 'DELETE', 'HEAD', 'TRACE'], include_in_schema=False)
async def refuse_method(request: Request) -> JSONResponse:
    detail = READ_ONLY if request.method in ('PUT', 'PATCH', 'DELETE') else f'{request.method} is not served here'
    return JSONResponse({'detail': detail, 'field': None}, status_code=405, headers={'Allow': EVENTS_METHODS})


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

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = api_schema.document(FastAPI.openapi(api), EVENTS_PATH)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
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
