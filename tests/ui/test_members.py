"""The Members page: owners manage accounts; Workspace Admins are refused; every change is recorded."""

from nicegui import ui
from nicegui.testing import User

from store.people.accounts import get_account
from store.read.events import EventFilter, Viewer, find_events
from tests.conftest import ADMIN_A, OWNER
from tests.ui.helpers import PATIENCE, login, sign_in


def recorded(action: str) -> list[dict]:
    events = find_events(Viewer.organization(), EventFilter(search=action), limit=100).events
    return [e for e in events if e['action'] == action]


async def test_a_workspace_admin_gets_403_and_no_link(user: User, accounts) -> None:
    await sign_in(user, *ADMIN_A)
    await user.should_not_see('Members')
    response = await user.http_client.get('/members')
    assert response.status_code == 403


async def test_owner_lists_and_adds_members(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.open('/members')
    table = user.find(marker='members').elements.pop()
    assert [r['email'] for r in table.rows] == ['admin-a@acme.io', 'admin-b@acme.io', 'owner@acme.io']
    user.find('New member email').type('New.Admin@acme.io')
    user.find('Initial password').type('a-long-password')
    user.find('Add member').click()
    await user.should_see('a Workspace Admin needs at least one workspace', retries=PATIENCE)
    with user:
        [spaces] = [e for e in user.find('Workspaces').elements if isinstance(e, ui.select)]
        spaces.value = ['gamma']
    user.find('Add member').click()
    await user.should_see('Added new.admin@acme.io', retries=PATIENCE)
    account = get_account('new.admin@acme.io')
    assert account.role == 'admin' and account.workspaces == ('gamma',)
    [created] = recorded('Create Account')
    assert (created['user'], created['target'], created['scope'], created['category']) == \
        (OWNER[0], 'new.admin@acme.io', 'Organization', 'Member')


async def test_owner_changes_and_disables_an_account(user: User, accounts) -> None:
    from ui.pages.members import _update_and_record

    await sign_in(user, *OWNER)
    await user.open('/members')
    _update_and_record(OWNER[0], ADMIN_A[0], 'admin', ['alpha', 'beta'], False)
    assert get_account(ADMIN_A[0]).workspaces == ('alpha', 'beta')
    _update_and_record(OWNER[0], ADMIN_A[0], 'admin', ['alpha', 'beta'], True)
    assert get_account(ADMIN_A[0]).disabled
    assert [e['target'] for e in recorded('Change Account')] == [ADMIN_A[0]]
    assert [e['target'] for e in recorded('Disable Account')] == [ADMIN_A[0]]


async def test_edit_dialog_saves_role_and_workspaces(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.open('/members')
    user.find(marker='members').trigger('edit', ADMIN_A[0])
    await user.should_see(f'Edit {ADMIN_A[0]}', retries=PATIENCE)
    with user:
        [dialog_select] = [s for s in user.find(ui.select).elements
                           if s.props.get('label') == 'Workspaces' and s.value == ['alpha']]
        dialog_select.value = ['alpha', 'beta']
    user.find('Save').click()
    await user.should_see(f'Saved {ADMIN_A[0]}', retries=PATIENCE)
    assert get_account(ADMIN_A[0]).workspaces == ('alpha', 'beta')


async def test_a_disabled_account_cannot_sign_in_and_loses_its_session(user: User, accounts) -> None:
    from store.people.accounts import update_account

    await sign_in(user, *ADMIN_A)
    update_account(ADMIN_A[0], disabled=True)
    await user.open('/audit-logs')
    await user.should_see('Log in', retries=PATIENCE)
    await login(user, *ADMIN_A)
    await user.should_see('Wrong email or password.', retries=PATIENCE)
