"""Who is signed in, decided on the server from the session; never from what the browser sends.

The browser holds only a random session id in an HttpOnly cookie; the session itself is a row in the
database (store/people/sessions.py), so every app instance on the same database sees it. Signing in happens
over NiceGUI's websocket, which cannot set a cookie, so the login handler makes the session with a
one-time hand-off token and sends the browser to `COMPLETE_PATH`, an HTTP route that redeems the
token and sets the cookie.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from nicegui import context
from nicegui.slot import Slot
from nicegui.storage import request_contextvar

from store.people import sessions
from store.people.accounts import Account, get_account
from ui.shell import db, theme
from ui.shell.config import config

COOKIE = 'audit_session'
COMPLETE_PATH = '/login/complete'
PUBLIC_PATHS = ('/login', COMPLETE_PATH, '/logout', '/favicon.ico')
PUBLIC_PREFIXES = ('/_nicegui', theme.STYLES_PREFIX, '/api/', '/docs', '/openapi.json', '/redoc', '/auth/oidc/')


def _current_request(request: Request | None) -> Request | None:
    """The request whose cookie names the session: the one given, else the page's (in UI code).

    In a page builder, event handler or timer, that is the client's page request. Tasks such as those
    `asyncio.gather` starts have no slot, but NiceGUI's request context variable (set for every HTTP
    request and, from the listener, for every UI event) reaches them.
    """
    if request is not None:
        return request
    candidates: list[Request | None] = []
    if Slot.get_stack():
        try:
            candidates.append(context.client.request)
        except (RuntimeError, ValueError):
            pass
    candidates.append(request_contextvar.get())
    found = [c for c in candidates if c is not None]
    return next((c for c in found if COOKIE in c.cookies), found[0] if found else None)


def session_id(request: Request | None = None) -> str | None:
    found = _current_request(request)
    return found.cookies.get(COOKIE) if found is not None else None


async def sign_in(account: Account, target: str = '/audit-logs') -> str:
    """Make a session for the account; returns the URL the browser opens to receive its cookie."""
    handoff = await db.call(_begin, account.id, config().session_idle_minutes)
    return f'{COMPLETE_PATH}?{urlencode({"token": handoff.token, "next": safe_redirect_target(target)})}'


def _begin(account_id: int, idle_minutes: int) -> sessions.Handoff:
    sessions.purge_expired(idle_minutes)
    return sessions.create_session(account_id)


async def complete_sign_in(request: Request, token: str, target: str) -> Response:
    """Redeem the hand-off token and set the session cookie; an unknown or used token goes back to login."""
    new_id = await db.call(sessions.redeem_handoff, token)
    if new_id is None:
        return RedirectResponse(f'/login?redirect_to={quote(safe_redirect_target(target), safe="")}', status_code=303)
    return set_cookie(request, RedirectResponse(safe_redirect_target(target), status_code=303), new_id)


async def open_session(account: Account) -> str:
    """A new session for the account, for an HTTP route that sets its cookie at once (`set_cookie`)."""
    handoff = await db.call(_begin, account.id, config().session_idle_minutes)
    new_id = await db.call(sessions.redeem_handoff, handoff.token)
    if new_id is None:
        raise RuntimeError('a session hand-off made a moment ago could not be redeemed')
    return new_id


def set_cookie(request: Request, response: Response, new_id: str) -> Response:
    response.set_cookie(COOKIE, new_id, path='/', httponly=True, samesite='lax',
                        secure=request.url.scheme == 'https')
    return response


async def sign_out(request: Request | None = None) -> str | None:
    """End this browser's session in the database; returns its email. The caller deletes the cookie."""
    return await db.call(sessions.end_session, session_id(request))


def forget_cookie(request: Request, response: Response) -> Response:
    response.delete_cookie(COOKIE, path='/', httponly=True, samesite='lax', secure=request.url.scheme == 'https')
    return response


async def signed_in_email(request: Request | None = None) -> str | None:
    """The session's email while it is live (not idle too long, account enabled), else None."""
    sid = session_id(request)
    if sid is None:
        return None
    return await db.call(sessions.lookup, sid, config().session_idle_minutes)


async def touch(request: Request | None = None) -> None:
    sid = session_id(request)
    if sid is not None:
        await db.call(sessions.touch, sid)


def _lookup_account(sid: str, idle_minutes: int) -> Account | None:
    email = sessions.lookup(sid, idle_minutes)
    if email is None:
        return None
    account = get_account(email)
    return None if account is None or account.disabled else account


async def current_account(request: Request | None = None) -> Account | None:
    """The signed-in, active account, read afresh so a disabled or changed account takes effect at once."""
    sid = session_id(request)
    if sid is None:
        return None
    return await db.call(_lookup_account, sid, config().session_idle_minutes)


def safe_redirect_target(target: str | None) -> str:
    """Only same-site paths: an absolute or protocol-relative URL would send users elsewhere."""
    if not target or not target.startswith('/') or target.startswith('//') or '\\' in target:
        return '/audit-logs'
    if target.split('?')[0] in {'/logout', COMPLETE_PATH}:  # a link must not sign the user out or in
        return '/audit-logs'
    return target


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f'?{request.url.query}' if request.url.query else '')
    return RedirectResponse(f'/login?redirect_to={quote(safe_redirect_target(target), safe="")}')


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def page_account(request: Request, *, owner_only: bool = False) -> Account | Response:
    """The signed-in account for a page, or the response to return instead (sign in, or 403)."""
    account = await current_account(request)
    if account is None:
        return login_redirect(request)
    if owner_only and account.role != 'owner':
        return PlainTextResponse('Forbidden: this page is for Organization Owners.', status_code=403)
    return account
