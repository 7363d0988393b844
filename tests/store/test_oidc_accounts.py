"""Who the provider's identities sign in as (store/people/oidc_accounts.py), the role mapping and the settings
(store/people/oidc_config.py); on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from store.engine.db import StoreError
from store.engine.timefmt import now_millis
from store.people import sessions
from store.people.accounts import create_account, get_account, update_account
from store.people.oidc_accounts import (
    Identity,
    admit,
    admit_and_record,
    id_token_of,
    remember_id_token,
    save_pending,
    take_pending,
)
from store.people.oidc_config import OidcConfig, RoleGrant, grant_for, load, parse_role_mapping, password_allowed
from store.read.events import EventFilter, Viewer, find_events

ISSUER = 'https://id.acme.io'
PLAIN = OidcConfig(issuer=ISSUER, client_id='audit-logs', client_secret='s', name='Acme ID')
MAPPED = OidcConfig(issuer=ISSUER, client_id='audit-logs', client_secret='s', name='Acme ID', roles_claim='groups',
                    roles=parse_role_mapping('audit-owners=owner;research-admins=admin:research,training;'
                                             'ml-admins=admin:ml'))


def who(email: str, sub: str = 'sub-1', verified: bool = True, groups: tuple[str, ...] = ()) -> Identity:
    return Identity(ISSUER, sub, email, verified, groups)


def test_role_mapping_format() -> None:
    assert parse_role_mapping(' a=owner ; b=admin:x, y ;') == (('a', RoleGrant('owner')),
                                                               ('b', RoleGrant('admin', ('x', 'y'))))
    for bad in ('a', '=owner', 'a=admin', 'a=owner:x', 'a=root'):
        with pytest.raises(StoreError, match='AUDIT_OIDC_ROLES'):
            parse_role_mapping(bad)
    assert grant_for(['ml-admins', 'research-admins', 'other'], MAPPED.roles) == RoleGrant(
        'admin', ('ml', 'research', 'training'))
    assert grant_for(['ml-admins', 'audit-owners'], MAPPED.roles) == RoleGrant('owner')
    assert grant_for(['other'], MAPPED.roles) is None


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ('AUDIT_OIDC_ISSUER', 'AUDIT_OIDC_ROLES_CLAIM', 'AUDIT_OIDC_ROLES', 'AUDIT_PASSWORD_LOGIN'):
        monkeypatch.delenv(name, raising=False)
    assert load() is None
    monkeypatch.setenv('AUDIT_PASSWORD_LOGIN', 'off')
    with pytest.raises(StoreError, match='needs a provider'):
        load()
    monkeypatch.setenv('AUDIT_OIDC_ISSUER', 'https://id.acme.io/')
    monkeypatch.setenv('AUDIT_OIDC_CLIENT_ID', 'audit-logs')
    monkeypatch.setenv('AUDIT_OIDC_ROLES_CLAIM', 'groups')
    with pytest.raises(StoreError, match='go together'):
        load()
    monkeypatch.setenv('AUDIT_OIDC_ROLES', 'audit-owners=owner')
    config = load()
    assert (config.issuer, config.maps_roles, config.scopes) == ('https://id.acme.io', True, 'openid email profile')
    monkeypatch.setenv('AUDIT_PASSWORD_LOGIN', 'sometimes')
    with pytest.raises(StoreError, match='on, off or break-glass'):
        load()
    assert [password_allowed(m, r) for m in ('on', 'off', 'break-glass') for r in ('owner', 'admin')] == [
        True, True, False, False, True, False]


def test_pending_sign_in_is_taken_once_and_expires(engine: str) -> None:
    save_pending('state-1', 'nonce-1', 'verifier-1', '/workspaces')
    pending = take_pending('state-1')
    assert (pending.nonce, pending.code_verifier, pending.target) == ('nonce-1', 'verifier-1', '/workspaces')
    assert take_pending('state-1') is None
    save_pending('state-2', 'n', 'v', '/audit-logs', now=now_millis() - 601_000)
    assert take_pending('state-2') is None
    assert take_pending('') is None and take_pending('x' * 500) is None


def test_by_default_only_existing_enabled_accounts_with_a_verified_email(engine: str) -> None:
    owner = create_account('ida@acme.io', 'ida-password-1', 'owner')
    assert admit(PLAIN, who('Ida@Acme.io')).account.id == owner.id
    assert admit(PLAIN, who('ida@acme.io', verified=False)).refusal == ('the provider has not verified this '
                                                                       'email address')
    assert admit(PLAIN, who('nobody@acme.io', sub='sub-2')).refusal.startswith('no account for nobody@acme.io')
    assert admit(PLAIN, who('', sub='sub-3')).refusal == 'the provider sent no usable email address'
    # linked now: another subject with the same email is refused, the same subject gets in
    assert admit(PLAIN, who('ida@acme.io', sub='sub-9')).refusal == ('this account is linked to another identity '
                                                                     'at the provider')
    create_account('admin@acme.io', 'admin-password-1', 'admin', ['alpha'])
    update_account('admin@acme.io', disabled=True)
    assert admit(PLAIN, who('admin@acme.io', sub='sub-4')).refusal == 'the account is disabled'


def test_roles_from_the_claim_at_every_sign_in(engine: str) -> None:
    create_account('keeper@acme.io', 'keeper-password-1', 'owner')  # the last owner is someone else
    first = admit_and_record(MAPPED, who('rae@acme.io', groups=('research-admins',)))
    assert (first.account.role, first.account.workspaces) == ('admin', ('research', 'training'))
    promoted = admit_and_record(MAPPED, who('rae@acme.io', groups=('research-admins', 'audit-owners')))
    assert promoted.account.role == 'owner'
    same = admit_and_record(MAPPED, who('rae@acme.io', groups=('audit-owners',)))
    assert same.changes == []
    handoff = sessions.create_session(same.account.id)
    sid = sessions.redeem_handoff(handoff.token)
    remember_id_token(sid, 'the-id-token')
    assert id_token_of(sid) == 'the-id-token' and id_token_of('unknown') is None
    removed = admit_and_record(MAPPED, who('rae@acme.io', groups=('other',)))
    assert removed.account is None and 'groups claim grants' in removed.refusal
    assert sessions.count_sessions(same.account.id) == 0  # a removed group ends the browsers signed in
    assert admit(MAPPED, who('stranger@acme.io', sub='sub-5')).account is None
    assert get_account('stranger@acme.io') is None
    changes = [(e['action'], e['description']) for e in find_events(Viewer.organization(), EventFilter()).events
               if e['target'] == 'rae@acme.io']
    assert changes == [
        ('Change Account', "Changed account rae@acme.io from the provider's groups claim: "
                           'Workspace Admin of research, training → Organization Owner'),
        ('Create Account', "Created account rae@acme.io from the provider's groups claim: "
                           'Workspace Admin of research, training')]


def test_the_claim_cannot_demote_the_last_owner(engine: str) -> None:
    create_account('solo@acme.io', 'solo-password-1', 'owner')
    refused = admit(MAPPED, who('solo@acme.io', groups=('ml-admins',)))
    assert refused.account is None and 'last active Organization Owner' in refused.refusal
    assert get_account('solo@acme.io').role == 'owner'
