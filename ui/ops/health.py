"""/healthz and /readyz: for a process supervisor, a load balancer or an orchestrator. No sign-in, nothing private.

/healthz answers 200 while the process serves requests. /readyz answers 200 when every readiness check passes
(the database answers within a second with the current schema, the background threads live; see
store/lifecycle/health.py, where other parts register theirs), else 503; both name each check's state in JSON.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from store.lifecycle import health

log = logging.getLogger(__name__)

_NO_CACHE = {'Cache-Control': 'no-store'}
_last_failures: dict[str, str] = {}


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({'status': 'ok'}, headers=_NO_CACHE)


async def readyz(request: Request) -> JSONResponse:
    answers = await run_in_threadpool(health.run_checks)
    failures = {name: reason for name, reason in answers.items() if reason is not None}
    _log_change(failures)
    body = {'status': 'fail' if failures else 'ok',
            'checks': {name: reason or 'ok' for name, reason in answers.items()}}
    if failures:
        body['reason'] = '; '.join(f'{name}: {reason}' for name, reason in failures.items())
    return JSONResponse(body, status_code=503 if failures else 200, headers=_NO_CACHE)


def _log_change(failures: dict[str, str]) -> None:
    """One log line when readiness changes, not one per probe."""
    global _last_failures
    if failures == _last_failures:
        return
    if failures:
        log.warning('not ready: %s', '; '.join(f'{name}: {reason}' for name, reason in failures.items()))
    else:
        log.info('ready again')
    _last_failures = failures
