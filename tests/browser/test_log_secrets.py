"""A full session against a real server, then its log is searched for every secret the session used."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, Request, expect
from prometheus_client.parser import text_string_to_metric_families

from store.people.tokens import create_token
from tests.browser.conftest import log_in, log_out, start_server, stop_server
from tests.conftest import OWNER, event
from ui.shell.session import COOKIE

WRONG_PASSWORD = 'wrong-pass-Zq81x'
WRONG_TOKEN = 'al_not-a-real-token-0123456789abcdef'
SESSION_SECRET = 'log-test-session-secret-5d1'


def counters(url: str) -> dict[tuple[str, tuple], float]:
    text = httpx.get(f'{url}/metrics').text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_log_of_a_full_session_holds_no_secret(accounts, add_events, database_url: str, tmp_path: Path,
                                                   page: Page) -> None:
    add_events(*[event(id=f'e-{i}', target=f'nb-{i}') for i in range(5)])
    cli_token = create_token('from the command line', None, 'command line')
    server = start_server(database_url, tmp_path / 'server.log', {'AUDIT_SESSION_SECRET': SESSION_SECRET})
    seen_urls: list[str] = []
    page.on('request', lambda request: seen_urls.append(request.url) if isinstance(request, Request) else None)
    try:
        page.goto(f'{server.url}/login')
        page.get_by_label('Email').fill(OWNER[0])
        page.get_by_label('Password').fill(WRONG_PASSWORD)
        page.get_by_role('button', name='Log in').click()
        expect(page.get_by_text('Wrong email or password.')).to_be_visible()
        log_in(page, server, *OWNER)
        page.get_by_text('All of Acme').wait_for()
        [cookie] = [c['value'] for c in page.context.cookies() if c['name'] == COOKIE]

        page.goto(f'{server.url}/tokens')
        page.get_by_label('Token name').fill('log test')
        page.get_by_role('button', name='Create token').click()
        expect(page.get_by_text('copy it now, it is not shown again')).to_be_visible()
        ui_token = page.get_by_label('New token').input_value()
        assert ui_token.startswith('al_')

        for token in (ui_token, cli_token):
            auth = {'Authorization': f'Bearer {token}'}
            assert httpx.post(f'{server.url}/api/v1/events', headers=auth, json=event(target='via-api')).status_code \
                == 201
            assert httpx.get(f'{server.url}/api/v1/events', params={'search': 'nb-'}, headers=auth).status_code == 200
        assert httpx.get(f'{server.url}/api/v1/events', headers={'Authorization': f'Bearer {WRONG_TOKEN}'}) \
            .status_code == 401
        assert httpx.get(f'{server.url}/api/v1/taxonomy?token={WRONG_TOKEN}').status_code == 401

        page.goto(f'{server.url}/audit-logs')
        page.get_by_role('button', name='Export').click()
        with page.expect_download(timeout=30_000) as info:
            page.get_by_role('button', name='CSV (.csv)').click()
        info.value.save_as(tmp_path / 'export.csv')
        download_token = info.value.url.rsplit('/', 1)[1]
        figures = counters(server.url)
        log_out(page)
    finally:
        stop_server(server)

    assert figures[('audit_sign_ins_total', (('result', 'success'),))] == 1
    assert figures[('audit_sign_ins_total', (('result', 'failure'),))] == 1
    assert figures[('audit_exports_total', (('format', 'csv'),))] == 1
    handoffs = [url.split('token=')[1].split('&')[0] for url in seen_urls if '/login/complete?token=' in url]
    assert handoffs and download_token
    log = (tmp_path / 'server.log').read_text()
    for line in ('POST /api/v1/events 201', 'GET /api/v1/events 401', 'GET /login/complete 303',
                 'GET /export/download/{token} 200', 'GET /tokens 200', 'GET /logout 303'):
        assert line in log, line  # the session's requests are in the log …
    secrets = {'password': OWNER[1], 'wrong password': WRONG_PASSWORD, 'session cookie': cookie,
               'token made in the page': ui_token, 'token from the command line': cli_token,
               'wrong token': WRONG_TOKEN, 'session secret': SESSION_SECRET,
               'download link': download_token,
               **{f'sign-in hand-off {n}': value for n, value in enumerate(handoffs)}}
    leaked = [name for name, secret in secrets.items() if secret in log]
    assert leaked == []  # … and none of its secrets
