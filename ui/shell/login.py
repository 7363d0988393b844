"""The sign-in page, sign-out, and the middleware that keeps every other page behind a session."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import app, ui
from starlette.middleware.base import BaseHTTPMiddleware

from store.people.accounts import authenticate
from store.people.oidc_config import password_allowed
from store.people.throttle import LoginThrottle
from store.write import self_audit
from ui.shell import db, oidc, session, theme
from ui.shell.config import config

throttle = LoginThrottle()


class AuthMiddleware(BaseHTTPMiddleware):
    """Every page but the public ones needs a live session (store-backed); the API has its own tokens."""

    async def dispatch(self, request: Request, call_next):
        if session.is_public(request.url.path) or await session.signed_in_email(request):
            return await call_next(request)
        return session.login_redirect(request)


def client_key(request: Request) -> str:
    return f'client:{request.client.host if request.client else "unknown"}'


def register() -> None:
    global throttle
    throttle = LoginThrottle(limit=5, window=300, lockout=60)
    app.add_middleware(AuthMiddleware)

    @ui.page('/login')
    async def login_page(request: Request, redirect_to: str = '/audit-logs',
                         break_glass: str = '') -> RedirectResponse | None:
        target = session.safe_redirect_target(redirect_to)
        if await session.signed_in_email(request):
            return RedirectResponse(target)
        ui.page_title(f'Log in · {theme.PRODUCT}')

        async def attempt() -> None:
            email = (email_input.value or '').strip().lower()[:320]
            keys = (f'email:{email}', client_key(request))
            wait = throttle.wait(*keys)
            if wait:
                message.set_text(f'Too many failed attempts. Try again in {wait} seconds.')
                return
            account = await db.call(authenticate, email, password_input.value or '')
            if account is None:
                throttle.failed(*keys)
                await db.call(self_audit.record, email or 'anonymous', 'Sign In', email or '(empty)',
                              'Failed sign-in attempt', status='FAILED',
                              metadata={'ip': request.client.host if request.client else None})
                wait = throttle.wait(*keys)
                message.set_text(f'Too many failed attempts. Try again in {wait} seconds.' if wait
                                 else 'Wrong email or password.')
                return
            throttle.succeeded(*keys)
            if not password_allowed(config().password_login, account.role):
                await db.call(self_audit.record, account.email, 'Sign In', account.email,
                              'Refused password sign-in: password sign-in is off', status='FAILED',
                              metadata={'ip': request.client.host if request.client else None})
                message.set_text('Password sign-in is turned off: use the button above.')
                return
            complete = await session.sign_in(account, target)
            await db.call(self_audit.record, account.email, 'Sign In', account.email, 'Signed in',
                          metadata={'ip': request.client.host if request.client else None})
            ui.navigate.to(complete)  # an HTTP route: it sets the session cookie, then opens the target

        with ui.card().classes('absolute-center w-96'):
            theme.page_heading(theme.PRODUCT).classes('text-xl', remove='text-2xl')
            oidc.login_button(target)
            mode = config().password_login
            if mode == 'break-glass' and not break_glass:
                ui.link('Break-glass sign-in with a password (Organization Owners)',
                        f'/login?break_glass=1&redirect_to={quote(target, safe="")}').classes('text-sm')
            if mode == 'off' or (mode == 'break-glass' and not break_glass):
                return None
            email_input = ui.input('Email').props('autocomplete=username autofocus').classes('w-full') \
                .on('keydown.enter', attempt)
            password_input = ui.input('Password', password=True).props('autocomplete=current-password') \
                .classes('w-full').on('keydown.enter', attempt)
            message = ui.label('').classes('text-negative text-sm').mark('login-message')
            ui.button('Log in', on_click=attempt).classes('w-full')
        return None

    @app.get(session.COMPLETE_PATH, include_in_schema=False)
    async def complete_sign_in(request: Request, token: str = '', next: str = '/audit-logs') -> Response:
        return await session.complete_sign_in(request, token, next)

    @app.get('/logout', include_in_schema=False)
    async def logout(request: Request) -> Response:
        target = await oidc.logout_target(request)  # the provider's logout, for a provider sign-in
        email = await session.sign_out(request)
        if email:
            await db.call(self_audit.record, email, 'Sign Out', email, 'Signed out')
        return session.forget_cookie(request, RedirectResponse(target, status_code=303))

    @ui.page('/')
    def index() -> RedirectResponse:
        return RedirectResponse('/audit-logs')
