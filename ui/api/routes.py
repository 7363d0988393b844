"""The routes under /api/v1: append events, read them with the page's filters, and the taxonomy.

Each handler reads its request (ui/api/parsing.py), runs the store work in a worker thread
(ui/api/group_commit.py) and answers plain JSON; the models (ui/api/models.py) describe it in /docs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from store.ledger import taxonomy
from store.people.tokens import ApiToken, authenticate_token
from store.read.events import EventFilter, event_json, page_after
from store.write.ingest import AppendResult, prepare
from ui.api.group_commit import in_thread, kept_connection, writer
from ui.api.models import PROBLEMS, Appended, EventList
from ui.api.parsing import ApiError, build_filter, decode_cursor, encode_cursor, page_size, read_body, read_events

PREFIX = '/api/v1'
EVENTS_PATH = f'{PREFIX}/events'
# The methods /api/v1/events serves (405 answers and OPTIONS list them); no method edits or deletes an event.
EVENTS_METHODS = 'GET, POST, OPTIONS'


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


def ingest(body: bytes, token: ApiToken) -> AppendResult:
    return writer.append(prepare(read_events(body, token)))


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
    read here and described in the schema by ui/api/schema.py, from the same rules.
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
