"""Two app instances on one database share sessions: a cookie for 127.0.0.1 is sent to both ports."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from store.people.tokens import create_token
from tests.browser.conftest import log_in, log_out, start_server, stop_server
from tests.conftest import OWNER, event
from ui.shell.session import COOKIE


def test_a_session_made_on_one_instance_works_on_the_other(accounts, database_url: str, tmp_path: Path,
                                                            page: Page) -> None:
    token = create_token('two-instances', None, OWNER[0])
    a = start_server(database_url, tmp_path / 'a.log')
    try:
        b = start_server(database_url, tmp_path / 'b.log')
        try:
            log_in(page, a, *OWNER)
            page.get_by_text('All of Acme').wait_for()
            [cookie] = [c for c in page.context.cookies() if c['name'] == COOKIE]
            assert cookie['httpOnly'] and cookie['sameSite'] == 'Lax' and cookie['domain'] == '127.0.0.1'

            page.goto(f'{b.url}/audit-logs')  # the same browser, the other instance: no sign-in asked
            page.get_by_text('All of Acme').wait_for()
            expect(page.get_by_label('Email')).to_have_count(0)

            response = httpx.post(f'{a.url}/api/v1/events', headers={'Authorization': f'Bearer {token}'},
                                  json=event(action='Made On A', target='from-instance-a', description='via A'))
            assert response.status_code == 201, response.text
            page.get_by_role('button', name='Refresh').click()
            expect(page.locator('.q-table tbody tr', has_text='from-instance-a')).to_have_count(1)

            log_out(page)
            assert not [c for c in page.context.cookies() if c['name'] == COOKIE]
            page.goto(f'{a.url}/audit-logs')
            page.wait_for_url('**/login?redirect_to=*')
            expect(page.get_by_label('Email')).to_be_visible()
        finally:
            stop_server(b)
    finally:
        stop_server(a)
