"""Sign-in through a real OpenID provider process (oidc-provider-mock) into a real app process, over HTTP:
the happy path in two round trips after the provider's form, and each refusal, recorded and signing nobody in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from store.people.accounts import create_account, update_account
from store.read.events import EventFilter, Viewer, find_events
from tests.browser.conftest import Server, start_server, stop_server
from tests.conftest import raw_sql
from tests.oidc_provider import Provider, app_database, app_settings, authorize

ORG = Viewer.organization()


@pytest.fixture(scope='module')
def app_server(oidc_provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One app for the module, on its own database, signing in through the provider (no role mapping)."""
    folder = tmp_path_factory.mktemp('oidc-app')
    url = f'sqlite:///{folder / "audit.db"}'
    running = start_server(url, folder / 'server.log', extra_env=app_settings(oidc_provider))
    yield running
    stop_server(running)


@pytest.fixture
def database_url(app_server: Server) -> Iterator[str]:
    with app_database(app_server.database_url) as url:
        yield url


def sign_in_events(target: str) -> list[dict]:
    return [e for e in find_events(ORG, EventFilter(), limit=1000).events
            if e['action'] == 'Sign In' and target in (e['target'], e['user'])]


def begin(server: Server, client: httpx.Client, path: str = '/audit-logs') -> str:
    """Press `Sign in with Mock ID`: the provider's authorization URL the app redirects to."""
    response = client.get(f'{server.url}/auth/oidc/login', params={'redirect_to': path})
    assert response.status_code == 302, response.text
    return response.headers['location']


def callback(server: Server, client: httpx.Client, location: str) -> httpx.Response:
    assert location.startswith(f'{server.url}/auth/oidc/callback?'), location
    return client.get(location)


def test_sign_in_in_two_round_trips_after_the_provider(app_server: Server, oidc_provider: Provider) -> None:
    account = create_account('ida@acme.io', 'ida-password-1', 'owner')
    oidc_provider.set_user('ida-sub', email='ida@acme.io', email_verified=True)
    with httpx.Client() as client:
        authorization_url = begin(app_server, client, '/workspaces')
        query = parse_qs(urlsplit(authorization_url).query)
        assert authorization_url.startswith(f'{oidc_provider.issuer}/oauth2/authorize?')
        assert query['code_challenge_method'] == ['S256'] and len(query['code_challenge'][0]) >= 43
        assert query['state'][0] and query['nonce'][0] and query['redirect_uri'] == [
            f'{app_server.url}/auth/oidc/callback']
        assert set(query['scope'][0].split()) == {'openid', 'email', 'profile'}
        assert client.cookies.get('audit_oidc_state') == query['state'][0]
        back = authorize(authorization_url, 'ida-sub')
        # round trip 1: the callback sets the session cookie and sends the browser to the page
        landed = callback(app_server, client, back)
        assert landed.status_code == 303 and landed.headers['location'] == '/workspaces'
        assert 'audit_session' in landed.cookies
        set_cookie = landed.headers.get_list('set-cookie')
        assert any(c.startswith('audit_session=') and 'HttpOnly' in c for c in set_cookie)
        # round trip 2: the page itself, signed in
        page = client.get(f'{app_server.url}/workspaces')
        assert page.status_code == 200 and 'Log in' not in page.text
    [event] = sign_in_events('ida@acme.io')
    assert (event['status'], event['scope'], event['category'], event['description']) == (
        'SUCCESS', 'Organization', 'Member', 'Signed in through Mock ID')
    assert raw_sql('SELECT oidc_issuer, oidc_subject FROM account WHERE id = ?', (account.id,)) == [
        (oidc_provider.issuer, 'ida-sub')]


def test_sign_out_ends_the_session_and_logs_out_at_the_provider(app_server: Server, oidc_provider: Provider) -> None:
    create_account('olaf@acme.io', 'olaf-password-1', 'owner')
    oidc_provider.set_user('olaf-sub', email='olaf@acme.io', email_verified=True)
    with httpx.Client() as client:
        callback(app_server, client, authorize(begin(app_server, client), 'olaf-sub'))
        assert client.get(f'{app_server.url}/audit-logs').status_code == 200
        out = client.get(f'{app_server.url}/logout')
        assert out.status_code == 303
        location = out.headers['location']
        assert location.startswith(f'{oidc_provider.issuer}/oauth2/end_session?')
        query = parse_qs(urlsplit(location).query)
        assert query['post_logout_redirect_uri'] == [f'{app_server.url}/login'] and query['id_token_hint'][0]
        assert httpx.get(location, timeout=10).status_code == 200  # the provider's logout page takes it
        again = client.get(f'{app_server.url}/audit-logs')
        assert again.status_code == 307 and again.headers['location'].startswith('/login')


def assert_refused(response: httpx.Response, reason: str, target: str, client: httpx.Client, server: Server) -> None:
    """A clear page, no session, a FAILED Sign In event naming the reason (refusals before the ID token is read
    name the provider's issuer as their target)."""
    assert response.status_code in (400, 403), response.text
    assert 'Sign-in refused' in response.text and reason in response.text
    assert 'audit_session' not in client.cookies
    assert client.get(f'{server.url}/audit-logs').status_code == 307
    failed = [e for e in sign_in_events(target) if e['status'] == 'FAILED' and reason in e['description']]
    assert failed, sign_in_events(target)
    assert (failed[0]['scope'], failed[0]['category']) == ('Organization', 'Member')


def test_unknown_email_is_refused(app_server: Server, oidc_provider: Provider) -> None:
    oidc_provider.set_user('stranger-sub', email='stranger@elsewhere.io', email_verified=True)
    with httpx.Client() as client:
        response = callback(app_server, client, authorize(begin(app_server, client), 'stranger-sub'))
        assert_refused(response, 'no account for stranger@elsewhere.io', 'stranger@elsewhere.io', client, app_server)
    assert raw_sql("SELECT count(*) FROM account WHERE email = 'stranger@elsewhere.io'") == [(0,)]


def test_unverified_email_is_refused(app_server: Server, oidc_provider: Provider) -> None:
    create_account('uma@acme.io', 'uma-password-1', 'owner')
    oidc_provider.set_user('uma-sub', email='uma@acme.io', email_verified=False)
    with httpx.Client() as client:
        response = callback(app_server, client, authorize(begin(app_server, client), 'uma-sub'))
        assert_refused(response, 'has not verified this email', 'uma@acme.io', client, app_server)


def test_disabled_account_is_refused(app_server: Server, oidc_provider: Provider) -> None:
    create_account('dora@acme.io', 'dora-password-1', 'admin', ['alpha'])
    update_account('dora@acme.io', disabled=True)
    oidc_provider.set_user('dora-sub', email='dora@acme.io', email_verified=True)
    with httpx.Client() as client:
        response = callback(app_server, client, authorize(begin(app_server, client), 'dora-sub'))
        assert_refused(response, 'the account is disabled', 'dora@acme.io', client, app_server)


def test_wrong_state_is_refused(app_server: Server, oidc_provider: Provider) -> None:
    create_account('sam@acme.io', 'sam-password-1', 'owner')
    oidc_provider.set_user('sam-sub', email='sam@acme.io', email_verified=True)
    with httpx.Client() as client:
        back = authorize(begin(app_server, client), 'sam-sub')
        forged = back.replace('state=', 'state=forged')
        response = callback(app_server, client, forged)
        assert_refused(response, 'wrong state', oidc_provider.issuer, client, app_server)
    # someone else's answer (code and state of a sign-in another browser began) signs this browser in neither
    with httpx.Client() as victim, httpx.Client() as attacker:
        back = authorize(begin(app_server, attacker), 'sam-sub')
        response = callback(app_server, victim, back)
        assert_refused(response, 'wrong state', oidc_provider.issuer, victim, app_server)


def test_replayed_callback_and_replayed_code_are_refused(app_server: Server, oidc_provider: Provider) -> None:
    create_account('rita@acme.io', 'rita-password-1', 'owner')
    oidc_provider.set_user('rita-sub', email='rita@acme.io', email_verified=True)
    with httpx.Client() as client:
        back = authorize(begin(app_server, client), 'rita-sub')
        first_cookie = client.cookies.get('audit_oidc_state')
        assert callback(app_server, client, back).status_code == 303
    with httpx.Client() as client:  # the same answer again, with the state's cookie: the state is spent
        client.cookies.set('audit_oidc_state', first_cookie, path='/auth/oidc/')
        response = callback(app_server, client, back)
        assert_refused(response, 'used already or has expired', oidc_provider.issuer, client, app_server)
    with httpx.Client() as client:  # a fresh sign-in's state with the spent code: the provider refuses the code
        fresh = parse_qs(urlsplit(begin(app_server, client)).query)['state'][0]
        code = parse_qs(urlsplit(back).query)['code'][0]
        response = client.get(f'{app_server.url}/auth/oidc/callback', params={'code': code, 'state': fresh})
        assert_refused(response, 'refused the authorization code', oidc_provider.issuer, client, app_server)


def test_wrong_nonce_is_refused(app_server: Server, oidc_provider: Provider) -> None:
    create_account('nina@acme.io', 'nina-password-1', 'owner')
    oidc_provider.set_user('nina-sub', email='nina@acme.io', email_verified=True)
    with httpx.Client() as client:
        back = authorize(begin(app_server, client), 'nina-sub')
        # the ID token carries the nonce of the request; the sign-in this browser began now expects another
        raw_sql("UPDATE oidc_login SET nonce = 'another-nonce'")
        response = callback(app_server, client, back)
        assert_refused(response, 'nonce is not this sign-in', oidc_provider.issuer, client, app_server)


def test_the_provider_denying_is_refused(app_server: Server, oidc_provider: Provider) -> None:
    with httpx.Client() as client:
        authorization_url = begin(app_server, client)
        denied = httpx.post(authorization_url, data={'action': 'deny'}, timeout=10)
        response = callback(app_server, client, denied.headers['location'])
        assert_refused(response, 'access_denied', oidc_provider.issuer, client, app_server)


def readme_recipe() -> dict[str, str]:
    """The settings of the README's Keycloak recipe, as a user copies them."""
    text = (Path(__file__).resolve().parents[1] / 'README.md').read_text()
    block = text.split('### Recipe: Keycloak', 1)[1].split('```sh\n', 1)[1].split('```', 1)[0]
    return dict(line.split('=', 1) for line in block.strip().splitlines())


def test_the_readme_recipe_starts_the_flow(oidc_provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> None:
    recipe = readme_recipe()
    assert recipe['AUDIT_OIDC_ISSUER'].endswith('/realms/acme') and recipe['AUDIT_OIDC_ROLES_CLAIM'] == 'groups'
    folder = tmp_path_factory.mktemp('recipe')
    # the recipe as written, with the provider of this test in place of the Keycloak server
    server = start_server(f'sqlite:///{folder / "audit.db"}', folder / 'server.log',
                          extra_env={**recipe, 'AUDIT_OIDC_ISSUER': oidc_provider.issuer})
    try:
        with httpx.Client() as client:
            login = client.get(f'{server.url}/login')
            assert login.status_code == 200 and 'Sign in with Keycloak' in login.text
            authorization_url = begin(server, client)
            query = parse_qs(urlsplit(authorization_url).query)
            assert query['client_id'] == ['audit-logs'] and query['redirect_uri'] == [
                f'{server.url}/auth/oidc/callback']
            oidc_provider.set_user('kc-owner', email='kc-owner@acme.io', email_verified=True, groups=['audit-owners'])
            landed = callback(server, client, authorize(authorization_url, 'kc-owner'))
            assert landed.status_code == 303 and 'audit_session' in landed.cookies
    finally:
        stop_server(server)
