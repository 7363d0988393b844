"""/metrics: the server's figures in Prometheus's text format, for this instance.

Counters move as things happen: events appended (told by the store, store/engine/signals.py), API requests and
page loads (told by the request log, ui/ops/request_log.py), sign-ins and exports (the app's own events). The
gauges (the search index's lag, the database's size) are read from the store when scraped; other parts of the
app add their own metrics to the same registry and refresh them with `on_scrape`.

Guarded: a client inside AUDIT_METRICS_NETWORKS (loopback by default) or one sending
`Authorization: Bearer <AUDIT_METRICS_TOKEN>` reads it; anyone else gets 403.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from store.engine import settings, signals
from store.engine.db import StoreError, with_connection
from store.lifecycle import stats

log = logging.getLogger(__name__)
disable_created_metrics()  # the _created series only double each counter here

EVENTS_APPENDED = Counter('audit_events_appended', 'Events stored by this instance, by scope and status.',
                          ['scope', 'status'])
API_REQUESTS = Counter('audit_api_requests', 'API requests answered, by route, method and status.',
                       ['route', 'method', 'status'])
API_SECONDS = Histogram('audit_api_request_duration_seconds', 'Time to answer an API request, by route and method.',
                        ['route', 'method'],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
PAGE_LOADS = Counter('audit_page_loads', 'Pages served (HTML), by page.', ['page'])
EXPORTS = Counter('audit_exports', 'Exports written, by format.', ['format'])
SIGN_INS = Counter('audit_sign_ins', 'Sign-in attempts, by result (success or failure).', ['result'])
SEARCH_LAG = Gauge('audit_search_index_lag_events',
                   'Events stored but not yet in the keyword search index (SQLite; 0 on PostgreSQL).')
DATABASE_BYTES = Gauge('audit_database_size_bytes',
                       'Size of the database: SQLite its files, PostgreSQL pg_database_size.')
SCRAPE_ERRORS = Counter('audit_metrics_store_errors', 'Scrapes whose figures could not be read from the store.')

STORE_SECONDS = 2.0  # the longest a scrape waits for the store's figures

_refreshers: list[Callable[[], None]] = []


def on_scrape(refresh: Callable[[], None]) -> None:
    """Call `refresh` (in a worker thread, with a database connection) before each scrape, to set gauges."""
    if refresh not in _refreshers:
        _refreshers.append(refresh)


def count_request(route: str, method: str, status: int, seconds: float) -> None:
    API_REQUESTS.labels(route, method, str(status)).inc()
    API_SECONDS.labels(route, method).observe(seconds)


def count_page_load(page: str) -> None:
    PAGE_LOADS.labels(page).inc()


def _events_appended(counts: dict[tuple[str, str], int]) -> None:
    for (scope, status), n in counts.items():
        EVENTS_APPENDED.labels(scope, status).inc(n)


def _self_audit_recorded(action: str, status: str, metadata: dict[str, Any]) -> None:
    if action == 'Sign In':
        SIGN_INS.labels('success' if status == 'SUCCESS' else 'failure').inc()
    elif action == 'Export Audit Logs' and status == 'SUCCESS':
        EXPORTS.labels(str(metadata.get('format', 'unknown'))).inc()


def _refresh_store_figures() -> None:
    SEARCH_LAG.set(stats.search_lag())
    DATABASE_BYTES.set(stats.database_bytes())


def _refresh_all() -> None:
    for refresh in [_refresh_store_figures, *_refreshers]:
        try:
            with_connection(refresh)
        except Exception as exc:  # the database away: the gauges keep their last values
            SCRAPE_ERRORS.inc()
            log.warning('metrics: %s', str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


# ---- the guard ----

def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks of AUDIT_METRICS_NETWORKS; a bad entry stops the server at start-up (`check_settings`)."""
    text = settings.METRICS_NETWORKS.value()
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(',') if part.strip()]


def check_settings() -> None:
    try:
        allowed_networks()
    except ValueError as exc:
        raise StoreError(f'{settings.METRICS_NETWORKS.env}: {exc}') from None


def may_read(client: str | None, authorization: str | None) -> bool:
    token = settings.METRICS_TOKEN.value()
    if token and authorization and authorization.startswith('Bearer ') and \
            hmac.compare_digest(authorization[len('Bearer '):].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client or '')
    except ValueError:
        return False
    return any(address in network for network in allowed_networks())


async def metrics_route(request: Request) -> Response:
    if not may_read(request.client.host if request.client else None, request.headers.get('authorization')):
        return PlainTextResponse('Forbidden: /metrics is for the monitoring networks or its token '
                                 '(AUDIT_METRICS_NETWORKS, AUDIT_METRICS_TOKEN).\n', status_code=403)
    try:
        await asyncio.wait_for(run_in_threadpool(_refresh_all), STORE_SECONDS)
    except TimeoutError:  # the gauges keep their last values; the counters are this process's own
        SCRAPE_ERRORS.inc()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


signals.events_appended.connect(_events_appended)
signals.self_audit_recorded.connect(_self_audit_recorded)
