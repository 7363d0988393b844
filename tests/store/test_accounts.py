"""Accounts: Argon2 passwords, roles, workspaces, and what each account may see."""

import pytest

from store.engine.db import StoreError, database
from store.people.accounts import authenticate, create_account, get_account, set_password, update_account
from store.read.events import EventFilter, count_events
from tests.conftest import ADMIN_A, OWNER, event


def test_passwords_are_argon2_hashes_and_authenticate(accounts):
    stored = database.execute_sql('SELECT password_hash FROM account WHERE email = ?', (OWNER[0],)).fetchone()[0]
    assert stored.startswith('$argon2') and OWNER[1] not in stored
    assert authenticate(OWNER[0].upper(), OWNER[1]).email == OWNER[0]
    assert authenticate(OWNER[0], 'wrong') is None
    assert authenticate('nobody@acme.io', OWNER[1]) is None


def test_viewers_follow_the_role(accounts, add_events):
    add_events(event(workspace='alpha'), event(workspace='beta'), event(workspace=None, scope='Billing',
                                                                        category='Credit'))
    assert count_events(accounts['owner'].viewer(), EventFilter()) == 3
    assert count_events(accounts['admin_a'].viewer(), EventFilter()) == 1
    assert count_events(accounts['admin_b'].viewer(), EventFilter(workspace='alpha')) == 0


@pytest.mark.parametrize(('args', 'message'), [
    (('x', 'long-enough', 'owner'), 'is not an email address'),
    (('x@acme.io', 'short', 'owner'), 'at least 8 characters'),
    (('x@acme.io', 'long-enough', 'root'), 'role must be owner or admin'),
    (('x@acme.io', 'long-enough', 'admin'), 'needs at least one workspace'),
])
def test_bad_accounts_are_refused(args, message):
    with pytest.raises(StoreError, match=message):
        create_account(*args)


def test_duplicate_email_is_refused(accounts):
    with pytest.raises(StoreError, match='exists already'):
        create_account(OWNER[0].upper(), 'long-enough', 'owner')


def test_update_disable_and_password(accounts):
    assert update_account(ADMIN_A[0], workspaces=['beta', 'alpha']).workspaces == ('alpha', 'beta')
    assert update_account(ADMIN_A[0], role='owner').workspaces == ()
    assert update_account(ADMIN_A[0], disabled=True).disabled
    assert authenticate(*ADMIN_A) is None
    set_password(OWNER[0], 'a-new-password')
    assert authenticate(OWNER[0], 'a-new-password') is not None
    with pytest.raises(StoreError, match='no account'):
        update_account('ghost@acme.io', disabled=True)


def test_the_last_active_owner_stays(accounts):
    with pytest.raises(StoreError, match='last active Organization Owner'):
        update_account(OWNER[0], disabled=True)
    with pytest.raises(StoreError, match='last active Organization Owner'):
        update_account(OWNER[0], role='admin', workspaces=['alpha'])
    assert not get_account(OWNER[0]).disabled
