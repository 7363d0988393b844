"""Store-backed sessions through the app (NiceGUI's User fixture; its http client keeps cookies)."""

import asyncio
from urllib.parse import quote

from nicegui import ui
from nicegui.testing import User

from store.people import sessions
from store.people.accounts import update_account
from tests.conftest import ADMIN_A, OWNER, event, raw_sql
from tests.ui.helpers import PATIENCE, sign_in
from ui.shell.session import COMPLETE_PATH, COOKIE


async def test_signing_in_sets_an_http_only_cookie_naming_a_stored_session(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    cookie = user.http_client.cookies.get(COOKIE)
    assert cookie and len(cookie) >= 40
    assert raw_sql('SELECT id_hash, handoff_hash FROM session') == [(sessions._hash(cookie), None)]
    assert sessions.lookup(cookie, 60) == OWNER[0]


async def test_the_hand_off_sets_the_cookie_once(user: User, accounts) -> None:
    handoff = sessions.create_session(accounts['owner'].id)
    url = f'{COMPLETE_PATH}?token={handoff.token}&next={quote("/members?x=1", safe="")}'
    first = await user.http_client.get(url)
    assert first.status_code == 303 and first.headers['location'] == '/members?x=1'
    [set_cookie] = [c for c in first.headers.get_list('set-cookie') if c.startswith(f'{COOKIE}=')]
    assert 'HttpOnly' in set_cookie and 'Path=/' in set_cookie
    assert 'samesite=lax' in set_cookie.lower() and 'secure' not in set_cookie.lower()  # served over http here
    user.http_client.cookies.clear()
    replay = await user.http_client.get(url)  # a leaked link is worth nothing once used
    assert replay.status_code == 303 and replay.headers['location'].startswith('/login')
    assert not any(c.startswith(f'{COOKIE}=') for c in replay.headers.get_list('set-cookie'))
    evil = await user.http_client.get(f'{COMPLETE_PATH}?token=nope&next=//evil.example/')
    assert evil.status_code == 303 and evil.headers['location'] == '/login?redirect_to=%2Faudit-logs'


async def test_a_session_made_elsewhere_is_honoured_and_forged_cookies_are_not(user: User, accounts) -> None:
    # what another app instance on the same database leaves behind: a row, and the id in the browser
    session_id = sessions.redeem_handoff(sessions.create_session(accounts['admin_a'].id).token)
    user.http_client.cookies.set(COOKIE, 'forged-' + session_id)
    response = await user.http_client.get('/audit-logs')
    assert response.status_code == 307 and response.headers['location'].startswith('/login')
    user.http_client.cookies.set(COOKIE, session_id)
    await user.open('/audit-logs')
    await user.should_see('Workspace: alpha', retries=PATIENCE)


async def test_logout_deletes_the_session_row_and_the_cookie(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await sign_in_elsewhere(accounts['owner'].id)
    cookie = user.http_client.cookies.get(COOKIE)
    response = await user.http_client.get('/logout')
    assert response.status_code == 303 and response.headers['location'] == '/login'
    [deleted] = [c for c in response.headers.get_list('set-cookie') if c.startswith(f'{COOKIE}=')]
    assert 'Max-Age=0' in deleted
    assert user.http_client.cookies.get(COOKIE) is None
    assert sessions.lookup(cookie, 60) is None
    assert sessions.count_sessions(accounts['owner'].id) == 1  # the other browser stays signed in
    user.http_client.cookies.set(COOKIE, cookie)  # an old copy of the cookie is worth nothing now
    await user.open('/audit-logs')
    await user.should_see('Log in')


async def sign_in_elsewhere(account_id: int) -> str:
    return sessions.redeem_handoff(sessions.create_session(account_id).token)


async def test_a_disabled_account_loses_its_session_at_the_next_request(user: User, accounts) -> None:
    await sign_in(user, *ADMIN_A)
    await user.should_see('Workspace: alpha')
    update_account(ADMIN_A[0], disabled=True)  # e.g. by an owner on another instance
    assert sessions.count_sessions(accounts['admin_a'].id) == 0
    response = await user.http_client.get('/audit-logs')
    assert response.status_code == 307 and response.headers['location'].startswith('/login')
    await user.open('/audit-logs')
    await user.should_see('Log in')


async def test_a_role_change_signs_the_account_out(user: User, accounts) -> None:
    await sign_in(user, *ADMIN_A)
    await user.should_see('Workspace: alpha')
    update_account(ADMIN_A[0], workspaces=['alpha', 'beta'])
    await user.open('/audit-logs')
    await user.should_see('Log in')
    await sign_in(user, *ADMIN_A)
    await user.should_see('Workspaces: alpha, beta')


async def test_the_login_page_sends_back_to_the_page_asked_for(user: User, accounts) -> None:
    await user.open('/members')  # redirected to /login?redirect_to=%2Fmembers
    user.find('Email').type(OWNER[0])
    user.find('Password').type(OWNER[1])
    user.find('Log in').click()
    await user.should_see(marker='members', retries=PATIENCE)
    assert user.back_history[-1].startswith(COMPLETE_PATH)


def click_from_the_browser(user: User, label: str) -> None:
    """A click as the websocket delivers it: through the button's listener, which hands its page request on
    to the handler and the tasks it starts (User.click calls the handler directly, without that request)."""
    [button] = [b for b in user.find(label).elements if isinstance(b, ui.button)]
    [listener_id] = [i for i, listener in button._event_listeners.items() if listener.type == 'click']
    with user:
        button._handle_event({'listener_id': listener_id, 'args': None})


async def test_event_handlers_find_the_session_and_notice_its_end(user: User, accounts, add_events) -> None:
    await sign_in(user, *OWNER)
    table = user.find(ui.table).elements.pop()
    add_events(event(target='arrived-later'))
    click_from_the_browser(user, 'Refresh')  # loads the table and the timeline in tasks of their own
    for _ in range(PATIENCE):
        if any(row['target'] == 'arrived-later' for row in table.rows):
            break
        await asyncio.sleep(0.1)
    assert 'arrived-later' in [row['target'] for row in table.rows]
    sessions.end_account_sessions(accounts['owner'].id)  # signed out elsewhere, or the account changed
    click_from_the_browser(user, 'Refresh')
    await user.should_see('Log in', retries=PATIENCE)
