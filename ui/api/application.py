"""The API app: its error answers, its OpenAPI schema, and its place in front of NiceGUI.

It is a FastAPI app of its own, served by the same process in front of NiceGUI's middleware (see
`register`): API calls carry a Bearer token and no cookie, and NiceGUI would otherwise create a
per-request user storage for every cookieless call. The OpenAPI docs at /docs describe this API.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nicegui import app as nicegui_app
from starlette.types import ASGIApp, Receive, Scope, Send

from store.engine.db import StoreError
from ui.api import schema
from ui.api.parsing import ApiError
from ui.api.routes import EVENTS_PATH, router

log = logging.getLogger(__name__)

# Requests the API app answers instead of NiceGUI: the API itself and its documentation.
API_PATHS = ('/api/',)
DOC_PATHS = ('/docs', '/docs/oauth2-redirect', '/openapi.json')


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
            api.openapi_schema = schema.document(FastAPI.openapi(api), EVENTS_PATH)
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
