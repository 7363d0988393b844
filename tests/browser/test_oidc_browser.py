"""Chromium signs in through a real OpenID provider's form (oidc-provider-mock, its own process) and lands on the
Audit Logs page with the visibility its groups claim grants (break-glass passwords: tests/ui/test_oidc_login.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from store.ledger.validation import validate_event
from store.write.ingest import append_events
from tests.browser.conftest import Server, start_server, stop_server
from tests.conftest import event
from tests.oidc_provider import Provider, app_database, app_settings

ROLES = 'audit-owners=owner;research-admins=admin:research,training'


@pytest.fixture(scope='module')
def app_server(oidc_provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app with roles from the `groups` claim and passwords as break-glass only."""
    folder = tmp_path_factory.mktemp('oidc-browser')
    running = start_server(f'sqlite:///{folder / "audit.db"}', folder / 'server.log', extra_env=app_settings(
        oidc_provider, AUDIT_OIDC_ROLES_CLAIM='groups', AUDIT_OIDC_ROLES=ROLES, AUDIT_PASSWORD_LOGIN='break-glass'))
    yield running
    stop_server(running)


@pytest.fixture
def database_url(app_server: Server) -> Iterator[str]:
    with app_database(app_server.database_url) as url:
        yield url


def sign_in_through_provider(page: Page, server: Server, sub: str) -> None:
    page.goto(f'{server.url}/audit-logs')
    expect(page.get_by_label('Password')).to_have_count(0)  # break-glass: no password form by default
    page.get_by_role('button', name='Sign in with Mock ID').click()
    page.locator('input[name="sub"]').fill(sub)  # the provider's own authorization form
    page.get_by_role('button', name='Authorize').click()
    page.wait_for_url(f'{server.url}/audit-logs')


def test_owner_and_workspace_admin_from_the_groups_claim(app_server: Server, oidc_provider: Provider,
                                                         page: Page) -> None:
    append_events([validate_event(event(target='research-job', workspace='research')),
                   validate_event(event(target='secret-beta-job', workspace='beta'))])
    oidc_provider.set_user('olga-sub', email='olga@acme.io', email_verified=True, groups=['staff', 'audit-owners'])
    sign_in_through_provider(page, app_server, 'olga-sub')
    expect(page.get_by_text('All of Acme')).to_be_visible()
    expect(page.get_by_text('secret-beta-job')).to_be_visible()
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url('**/end_session*')  # the provider's logout (RP-initiated), then back to our login page
    page.get_by_role('button', name='End session').click()
    page.wait_for_url(f'{app_server.url}/login')

    oidc_provider.set_user('ravi-sub', email='ravi@acme.io', email_verified=True, groups=['research-admins'])
    sign_in_through_provider(page, app_server, 'ravi-sub')
    expect(page.get_by_text('Workspaces: research, training')).to_be_visible()
    expect(page.get_by_text('research-job')).to_be_visible()
    expect(page.get_by_text('secret-beta-job')).to_have_count(0)

