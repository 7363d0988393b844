"""Who is signed in, decided on the server from the session; never from what the browser sends."""

from __future__ import annotations

import time
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from nicegui import app

from store.accounts import Account, get_account
from ui import db
from ui.config import config

PUBLIC_PATHS = ('/login', '/favicon.ico')
PUBLIC_PREFIXES = ('/_nicegui', '/api/', '/docs', '/openapi.json', '/redoc')


def sign_in(account: Account) -> None:
    app.storage.user.update(email=account.email, authenticated=True, last_seen=time.time())


def sign_out() -> None:
    app.storage.user.clear()


def signed_in_email() -> str | None:
    """The session's email while it is signed in and not idle for longer than the configured time."""
    storage = app.storage.user
    if not storage.get('authenticated'):
        return None
    if time.time() - storage.get('last_seen', 0) > config().session_idle_minutes * 60:
        storage.clear()
        return None
    return storage.get('email')


def touch() -> None:
    if app.storage.user.get('authenticated'):
        app.storage.user['last_seen'] = time.time()


async def current_account() -> Account | None:
    """The signed-in, active account, read afresh so a disabled or changed account takes effect at once."""
    email = signed_in_email()
    if email is None:
        return None
    account = await db.call(get_account, email)
    if account is None or account.disabled:
        sign_out()
        return None
    touch()
    return account


def safe_redirect_target(target: str | None) -> str:
    """Only same-site paths: an absolute or protocol-relative URL would send users elsewhere."""
    if not target or not target.startswith('/') or target.startswith('//') or '\\' in target:
        return '/audit-logs'
    return target


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f'?{request.url.query}' if request.url.query else '')
    return RedirectResponse(f'/login?redirect_to={quote(safe_redirect_target(target), safe="")}')


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def page_account(request: Request, *, owner_only: bool = False) -> Account | Response:
    """The signed-in account for a page, or the response to return instead (sign in, or 403)."""
    account = await current_account()
    if account is None:
        return login_redirect(request)
    if owner_only and account.role != 'owner':
        return PlainTextResponse('Forbidden: this page is for Organization Owners.', status_code=403)
    return account
