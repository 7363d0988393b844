"""Running it as a service: /healthz, /readyz and /metrics in front of NiceGUI, the request log around it all,
and a clean stop.

On SIGTERM (or Ctrl+C) uvicorn stops accepting connections, closes idle ones, lets the requests under way
finish (an API batch is one transaction: stored whole or not at all) for at most GRACE_SECONDS, then runs
the app's shutdown: here, closing the database, which first brings the search index up to the last event
(store/engine/db.py `close_database`).
"""

from __future__ import annotations

import logging
from typing import Any

from nicegui import app as nicegui_app
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from store.engine import settings
from store.lifecycle.opening import close_database
from ui.ops import health, metrics
from ui.ops.request_log import RequestLog, configure_logging

GRACE_SECONDS = 8  # requests under way get this long after SIGTERM; with the shutdown, the stop takes < 10 s
SERVICE_PATHS = ('/healthz', '/readyz', '/metrics')

log = logging.getLogger(__name__)


def service_routes() -> Router:
    return Router(routes=[Route('/healthz', health.healthz, methods=['GET', 'HEAD']),
                          Route('/readyz', health.readyz, methods=['GET', 'HEAD']),
                          Route('/metrics', metrics.metrics_route, methods=['GET'])])


class ServiceFirst:
    """ASGI: answer the service paths before NiceGUI's sign-in, session and storage middleware."""

    def __init__(self, app: ASGIApp, service: ASGIApp) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http' and scope['path'] in SERVICE_PATHS:
            await self.service(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def register() -> None:
    """Wrap the middleware stack (after ui/api/application.py wrapped it) in the service routes and the request log."""
    inner = getattr(nicegui_app.build_middleware_stack, 'inner', nicegui_app.build_middleware_stack)
    routes = service_routes()

    def build_middleware_stack() -> ASGIApp:
        return RequestLog(ServiceFirst(inner(), routes))

    build_middleware_stack.inner = inner  # type: ignore[attr-defined]
    nicegui_app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]
    nicegui_app.middleware_stack = None


def prepare_process() -> dict[str, Any]:
    """For a real server process (not the test harness): the log, a check of the settings, the clean stop;
    returns the options for uvicorn (through `ui.run`)."""
    configure_logging(settings.LOG_FORMAT.value())
    metrics.check_settings()
    nicegui_app.on_shutdown(_close_store)
    return {'timeout_graceful_shutdown': GRACE_SECONDS, 'access_log': False, 'log_config': None,
            'uvicorn_logging_level': 'info'}


def _close_store() -> None:
    close_database()
    log.info('stopped: the database is closed and the search index holds every stored event')
