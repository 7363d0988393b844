"""The login page with a provider configured, and AUDIT_PASSWORD_LOGIN (NiceGUI's simulated user)."""

from __future__ import annotations

import pytest
from nicegui.testing import User

import main
from store.read.events import EventFilter, Viewer, find_events
from tests.conftest import ADMIN_A, OWNER
from tests.ui.helpers import PATIENCE, sign_in


def provider_settings(monkeypatch: pytest.MonkeyPatch, password_login: str) -> None:
    monkeypatch.setenv('AUDIT_OIDC_ISSUER', 'https://id.acme.io')  # the page needs no answer from it
    monkeypatch.setenv('AUDIT_OIDC_CLIENT_ID', 'audit-logs')
    monkeypatch.setenv('AUDIT_OIDC_NAME', 'Acme ID')
    monkeypatch.setenv('AUDIT_PASSWORD_LOGIN', password_login)


@pytest.fixture
def password_on(monkeypatch: pytest.MonkeyPatch) -> None:
    provider_settings(monkeypatch, 'on')


@pytest.fixture
def password_off(monkeypatch: pytest.MonkeyPatch) -> None:
    provider_settings(monkeypatch, 'off')


@pytest.fixture
def break_glass(monkeypatch: pytest.MonkeyPatch) -> None:
    provider_settings(monkeypatch, 'break-glass')


async def test_the_provider_button_shows_above_the_password_form(password_on, user: User, accounts) -> None:
    await user.open('/login')
    await user.should_see('Sign in with Acme ID')
    await sign_in(user, *ADMIN_A)  # passwords still work for everyone
    await user.should_see('Workspace: alpha')


async def test_password_login_off_shows_only_the_provider(password_off, user: User, accounts) -> None:
    await user.open('/login')
    await user.should_see('Sign in with Acme ID')
    await user.should_not_see('Password')
    await user.should_not_see('Break-glass sign-in with a password (Organization Owners)')
    await user.open('/login?break_glass=1')
    await user.should_not_see('Password')


async def test_break_glass_lets_only_owners_in_with_a_password(break_glass, user: User, accounts) -> None:
    await user.open('/login')
    await user.should_see('Break-glass sign-in with a password (Organization Owners)')
    await user.should_not_see('Password')
    await user.open('/login?break_glass=1')
    user.find('Email').type(ADMIN_A[0])
    user.find('Password').type(ADMIN_A[1])
    user.find('Log in').click()
    await user.should_see('Password sign-in is turned off: use the button above.', retries=PATIENCE)
    refused = [e for e in find_events(Viewer.organization(), EventFilter()).events if e['action'] == 'Sign In']
    assert [(e['user'], e['status'], e['description']) for e in refused] == [
        (ADMIN_A[0], 'FAILED', 'Refused password sign-in: password sign-in is off')]
    await user.open('/login?break_glass=1')
    await sign_in_break_glass(user)
    await user.should_see('All of Acme')


async def sign_in_break_glass(user: User) -> None:
    user.find('Email').type(OWNER[0])
    user.find('Password').type(OWNER[1])
    user.find('Log in').click()
    await user.should_see(marker='whoami', retries=PATIENCE)


async def test_misconfigured_provider_settings_stop_the_start(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv('AUDIT_PASSWORD_LOGIN', 'off')
    monkeypatch.delenv('AUDIT_OIDC_ISSUER', raising=False)
    assert main.main(['serve']) == 1
    assert 'AUDIT_PASSWORD_LOGIN=off needs a provider' in capsys.readouterr().err
