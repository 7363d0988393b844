"""Sign-in through the team's OpenID Connect provider: the login button, `/auth/oidc/login` (off to the provider),
`/auth/oidc/callback` (back from it, signed in or refused), and the provider's logout.

The callback is an HTTP route, so it sets the session cookie itself and sends the browser straight to its page:
after the provider's form, one redirect to the callback and one to the page. The state, nonce and PKCE verifier
wait in the database (store/people/oidc_accounts.py); a short-lived HttpOnly cookie holding the state ties the answer
to the browser that asked, so a link with someone else's code and state signs nobody in.
"""

from __future__ import annotations

import hmac
from html import escape
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from nicegui import app, ui

from store.people import oidc_accounts
from store.people.oidc_accounts import Identity
from store.people.oidc_config import OidcConfig
from store.write import self_audit
from ui.shell import db, oidc_client, session, theme
from ui.shell.config import config
from ui.shell.oidc_client import OidcRefusal

PREFIX = '/auth/oidc/'
LOGIN_PATH = PREFIX + 'login'
CALLBACK_PATH = PREFIX + 'callback'
STATE_COOKIE = 'audit_oidc_state'


def provider_config() -> OidcConfig | None:
    return config().oidc


def login_button(target: str) -> None:
    """`Sign in with NAME`, when a provider is configured."""
    oidc = provider_config()
    if oidc is None:
        return
    href = f'{LOGIN_PATH}?redirect_to={quote(session.safe_redirect_target(target), safe="")}'
    ui.button(f'Sign in with {oidc.name}', on_click=lambda: ui.navigate.to(href)).classes('w-full')


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip('/')


def redirect_uri(request: Request) -> str:
    return _base_url(request) + CALLBACK_PATH


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def refusal_page(reason: str, status_code: int = 403) -> HTMLResponse:
    """A plain page saying why the sign-in was refused, with the way back to the login page."""
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in refused · {theme.PRODUCT}'
            '</title><meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            '<body style="font-family: sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">'
            f'<main><h1>Sign-in refused</h1><p role="alert">{escape(reason[:500])}.</p>'
            '<p><a href="/login">Back to the login page</a></p></main></body></html>')
    return HTMLResponse(body, status_code=status_code)


async def _refuse(request: Request, oidc: OidcConfig, reason: str, email: str = '', status_code: int = 403) -> Response:
    await db.call(self_audit.record, email or 'anonymous', 'Sign In', email or oidc.issuer,
                  f'Refused sign-in through {oidc.name}: {reason}', status='FAILED',
                  metadata={'ip': _ip(request), 'via': 'oidc', 'issuer': oidc.issuer})
    response = refusal_page(reason, status_code)
    response.delete_cookie(STATE_COOKIE, path=PREFIX, httponly=True, samesite='lax',
                           secure=request.url.scheme == 'https')
    return response


async def begin(request: Request, redirect_to: str) -> Response:
    """Off to the provider's form, with a new state, nonce and PKCE challenge."""
    oidc = provider_config()
    if oidc is None:
        return refusal_page('sign-in through a provider is not configured', 404)
    try:
        provider = await oidc_client.discover(oidc)
    except OidcRefusal as exc:
        return refusal_page(str(exc), 502)
    started = oidc_client.start(oidc, provider, redirect_uri(request))
    await db.call(oidc_accounts.save_pending, started.state, started.nonce, started.code_verifier,
                  session.safe_redirect_target(redirect_to))
    response = RedirectResponse(started.url, status_code=302)
    response.set_cookie(STATE_COOKIE, started.state, max_age=oidc_accounts.PENDING_SECONDS, path=PREFIX,
                        httponly=True, samesite='lax', secure=request.url.scheme == 'https')
    return response


def identity_of(claims: dict, oidc: OidcConfig) -> Identity:
    values = claims.get(oidc.roles_claim) if oidc.roles_claim else None
    if isinstance(values, str):
        values = [values]
    return Identity(issuer=str(claims['iss']), subject=str(claims['sub']), email=str(claims.get('email') or ''),
                    email_verified=claims.get('email_verified') is True,
                    claim_values=tuple(str(v) for v in values or () if isinstance(v, str | int)))


async def finish(request: Request, code: str, state: str, error: str, error_description: str) -> Response:
    """Back from the provider: check everything, then sign in and open the page, or refuse and record why."""
    oidc = provider_config()
    if oidc is None:
        return refusal_page('sign-in through a provider is not configured', 404)
    if error:
        return await _refuse(request, oidc, f'the provider answered {error}: {error_description}'.rstrip(': '))
    expected = request.cookies.get(STATE_COOKIE, '')
    if not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        return await _refuse(request, oidc, 'the answer\'s state is not the one this browser was given (wrong state)',
                             status_code=400)
    pending = await db.call(oidc_accounts.take_pending, state)
    if pending is None:
        return await _refuse(request, oidc, 'this sign-in was used already or has expired (unknown state)',
                             status_code=400)
    try:
        provider = await oidc_client.discover(oidc)
        id_token = await oidc_client.exchange(oidc, provider, redirect_uri(request), code, pending.code_verifier)
        claims = await oidc_client.verified_claims(oidc, provider, id_token, pending.nonce)
    except OidcRefusal as exc:
        return await _refuse(request, oidc, str(exc))
    identity = identity_of(claims, oidc)
    admission = await db.call(oidc_accounts.admit_and_record, oidc, identity)
    if admission.account is None:
        return await _refuse(request, oidc, admission.refusal or 'refused', identity.email)
    new_id = await session.open_session(admission.account)
    await db.call(oidc_accounts.remember_id_token, new_id, id_token)
    await db.call(self_audit.record, admission.account.email, 'Sign In', admission.account.email,
                  f'Signed in through {oidc.name}',
                  metadata={'ip': _ip(request), 'via': 'oidc', 'issuer': identity.issuer, 'subject': identity.subject})
    response = RedirectResponse(session.safe_redirect_target(pending.target), status_code=303)
    response.delete_cookie(STATE_COOKIE, path=PREFIX, httponly=True, samesite='lax',
                           secure=request.url.scheme == 'https')
    return session.set_cookie(request, response, new_id)


async def logout_target(request: Request) -> str:
    """Where sign-out sends the browser: the provider's logout for a provider sign-in, when it has one, else /login.

    Call it before the session ends: it reads the session's ID token.
    """
    oidc = provider_config()
    if oidc is None:
        return '/login'
    id_token = await db.call(oidc_accounts.id_token_of, session.session_id(request))
    if not id_token:
        return '/login'
    try:
        provider = await oidc_client.discover(oidc)
    except OidcRefusal:
        return '/login'
    return oidc_client.logout_url(provider, oidc, id_token, _base_url(request) + '/login') or '/login'


def register() -> None:
    @app.get(LOGIN_PATH, include_in_schema=False)
    async def oidc_login(request: Request, redirect_to: str = '/audit-logs') -> Response:
        return await begin(request, redirect_to)

    @app.get(CALLBACK_PATH, include_in_schema=False)
    async def oidc_callback(request: Request, code: str = '', state: str = '', error: str = '',
                            error_description: str = '') -> Response:
        return await finish(request, code, state, error, error_description)
