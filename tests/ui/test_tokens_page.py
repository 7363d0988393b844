"""The API tokens and Integrity pages: owners only; tokens shown once, revocable; the chain check's result."""

from __future__ import annotations

import sqlite3

from nicegui import ui
from nicegui.testing import User

from store.people.tokens import authenticate_token, create_token, list_tokens
from store.read.events import EventFilter, Viewer, find_events
from tests.conftest import ADMIN_A, OWNER, event

PATIENCE = 100  # retries of 0.1 s: Argon2 and a busy machine take a while


async def sign_in(user: User, email: str, password: str) -> None:
    await user.open('/login')
    user.find('Email').type(email)
    user.find('Password').type(password)
    user.find('Log in').click()
    await user.should_see(marker='whoami', retries=PATIENCE)


def policy_actions() -> list[str]:
    events = find_events(Viewer.organization(), EventFilter(scope='Organization', category='Policy')).events
    return [e['action'] for e in events]


async def test_a_workspace_admin_gets_403_on_both_pages(user: User, accounts) -> None:
    await sign_in(user, *ADMIN_A)
    await user.should_not_see('API tokens')
    await user.should_not_see('Integrity')
    for path in ('/tokens', '/integrity'):
        response = await user.http_client.get(path)
        assert response.status_code == 403, path


async def test_owner_creates_a_token_sees_it_once_and_it_works(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.open('/tokens')
    await user.should_see('No API tokens yet.')
    user.find('Create token').click()
    await user.should_see('a token needs a name', retries=PATIENCE)
    user.find('Token name').type('billing export')
    with user:
        user.find('Access').elements.pop().value = 'alpha'
    user.find('Create token').click()
    await user.should_see('copy it now, it is not shown again', retries=PATIENCE)
    token = user.find(marker='new-token').elements.pop().value
    found = authenticate_token(token)
    assert (found.name, found.workspace, found.created_by) == ('billing export', 'alpha', OWNER[0])
    table = user.find(marker='tokens').elements.pop()
    assert [(r['name'], r['reach'], r['status']) for r in table.rows] == \
        [('billing export', 'Workspace alpha', 'Active')]
    assert token not in str(table.rows)
    assert policy_actions() == ['Create API Token']

    await user.open('/tokens')  # shown once: a fresh page no longer has it
    await user.should_see('billing export')
    await user.should_not_see(marker='new-token')


async def test_owner_revokes_a_token_after_confirming(user: User, accounts) -> None:
    token = create_token('old script', None, OWNER[0])
    await sign_in(user, *OWNER)
    await user.open('/tokens')
    [listed] = list_tokens()
    user.find(marker='tokens').trigger('revoke', listed.id)
    await user.should_see('Revoke API token "old script"?', retries=PATIENCE)
    user.find('Revoke token').click()
    await user.should_see('Revoked old script', retries=PATIENCE)
    assert authenticate_token(token) is None
    rows = user.find(marker='tokens').elements.pop().rows
    assert rows[0]['status'].startswith('Revoked ')
    assert policy_actions() == ['Revoke API Token', 'Create API Token']


async def test_owner_runs_the_integrity_check(user: User, accounts, add_events, database_url) -> None:
    add_events(*[event(id=f'e{i}') for i in range(5)])
    await sign_in(user, *OWNER)
    await user.open('/integrity')
    user.find('Run check').click()
    await user.should_see('Intact', retries=PATIENCE)
    assert user.find(marker='integrity-result').elements.pop().text.startswith('OK: ')

    raw = sqlite3.connect(database_url.removeprefix('sqlite:///'))
    raw.execute('DROP TRIGGER event_no_update')
    raw.execute("UPDATE event SET description = 'edited' WHERE uid = 'e2'")
    raw.commit()
    raw.close()
    user.find('Run check').click()
    await user.should_see('Tampered', retries=PATIENCE)
    [label] = user.find(marker='integrity-result').elements
    assert '(id e2)' in label.text and label.text.startswith('TAMPERED: event #')


async def test_the_sidebar_links_both_pages_for_owners(user: User, accounts) -> None:
    await sign_in(user, *OWNER)
    await user.should_see('API tokens')
    await user.should_see('Integrity')
    assert any(link.props.get('href') == '/tokens' for link in user.find(ui.link).elements)
