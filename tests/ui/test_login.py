"""Sign-in, sign-out, throttling, idle sessions and the self-audit of each (NiceGUI's User fixture)."""

import pytest
from nicegui.testing import User

from store.engine.timefmt import now_millis
from store.read.events import EventFilter, Viewer, find_events
from tests.conftest import ADMIN_A, OWNER, raw_sql
from tests.ui.helpers import PATIENCE, login, sign_in

ORG = Viewer.organization()


def own_events(action: str) -> list[dict]:
    return [e for e in find_events(ORG, EventFilter(), limit=1000).events if e['action'] == action]


async def test_pages_need_a_session(user: User) -> None:
    await user.open('/audit-logs')
    await user.should_see('Log in')
    response = await user.http_client.get('/members')
    assert response.status_code == 307 and response.headers['location'].startswith('/login?redirect_to=')


async def test_owner_signs_in_and_sees_the_whole_organization(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.should_see('All of Acme')
    await user.should_see(OWNER[0])
    [signed_in] = own_events('Sign In')
    assert (signed_in['user'], signed_in['scope'], signed_in['category'], signed_in['status'],
            signed_in['target'], signed_in['workspace']) == (OWNER[0], 'Organization', 'Member', 'SUCCESS',
                                                             OWNER[0], None)


async def test_admin_sees_their_workspace_label(user: User, accounts) -> None:
    await sign_in(user, *ADMIN_A)
    await user.should_see('Workspace: alpha')
    await user.should_not_see('All of Acme')


async def test_wrong_password_is_refused_and_recorded(user: User, accounts) -> None:
    await login(user, OWNER[0], 'wrong-password')
    await user.should_see('Wrong email or password.', retries=PATIENCE)
    await login(user, 'nobody@acme.io', 'wrong-password')
    # the same answer whether or not the email exists
    await user.should_see('Wrong email or password.', retries=PATIENCE)
    failed = own_events('Sign In')
    assert [(e['user'], e['status']) for e in failed] == [('nobody@acme.io', 'FAILED'), (OWNER[0], 'FAILED')]


@pytest.mark.parametrize('hostile', ["' OR 1=1 --", '<script>alert(1)</script>', 'a' * 5000, '\x00\x1f', '"; DROP'])
async def test_hostile_input_in_login_fields(user: User, accounts, hostile: str) -> None:
    await login(user, hostile, hostile)
    await user.should_see('Wrong email or password.', retries=PATIENCE)
    await user.should_not_see('All of Acme')


async def test_repeated_failures_are_throttled_with_the_wait_shown(user: User, accounts) -> None:
    for _ in range(4):
        await login(user, OWNER[0], 'wrong-password')
        await user.should_see('Wrong email or password.', retries=PATIENCE)
    await login(user, OWNER[0], 'wrong-password')
    await user.should_see('Too many failed attempts. Try again in', retries=PATIENCE)
    await login(user, *OWNER)  # even the right password waits
    await user.should_see('Too many failed attempts. Try again in', retries=PATIENCE)
    await user.should_not_see('All of Acme')


async def test_sign_out_ends_the_session_and_is_recorded(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.should_see('All of Acme')
    await user.open('/logout')
    await user.should_see('Log in')
    await user.open('/audit-logs')
    await user.should_see('Log in')
    [signed_out] = own_events('Sign Out')
    assert signed_out['user'] == OWNER[0] and signed_out['status'] == 'SUCCESS'


async def test_idle_sessions_expire(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.should_see('All of Acme')
    # the session row, as another instance or an hour of idleness would leave it (the idle limit is 60 minutes)
    raw_sql('UPDATE session SET last_seen = ?', (now_millis() - 61 * 60_000,))
    await user.open('/audit-logs')
    await user.should_see('Log in')


async def test_open_redirects_are_refused(user: User, accounts) -> None:
    await user.open('/login?redirect_to=//evil.example/x')
    user.find('Email').type(OWNER[0])
    user.find('Password').type(OWNER[1])
    user.find('Log in').click()
    await user.should_see('All of Acme', retries=PATIENCE)
