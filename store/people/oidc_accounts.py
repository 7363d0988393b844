"""Who may enter through the OpenID Connect provider, with which role; and the server-side state of a sign-in
under way.

An identity (issuer, subject, verified email, the roles claim's values) is admitted onto an account: by default
only an existing, enabled account with that email (or already linked to that subject). With a role mapping
(store/people/oidc_config.py) the claim decides the role at every sign-in: a matching value may create the account,
a changed value changes it, no matching value refuses it. Every such change is recorded as an event.

The state, nonce and PKCE verifier of a sign-in under way live in the database (`oidc_login`), so any app
instance on the same database may receive the provider's answer; each is taken once and expires after
`PENDING_SECONDS`. Only the state's SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from store.engine.db import StoreError, database, write_transaction
from store.engine.timefmt import now_millis
from store.people import sessions
from store.people.accounts import EMAIL, Account, create_account, get_account, normalize_email, update_account
from store.people.oidc_config import OidcConfig, grant_for
from store.write import self_audit

PENDING_SECONDS = 600
MAX_STATE = 200


@dataclass(frozen=True)
class Pending:
    nonce: str
    code_verifier: str
    target: str


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    email: str
    email_verified: bool
    claim_values: tuple[str, ...] = ()


@dataclass
class Admission:
    account: Account | None = None
    refusal: str | None = None
    changes: list[tuple[str, str]] = field(default_factory=list)  # (action, description) events to record


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def save_pending(state: str, nonce: str, code_verifier: str, target: str, *, now: int | None = None) -> None:
    """Keep a new sign-in's secrets until the provider sends the browser back; forget expired ones."""
    now = now_millis() if now is None else now
    with write_transaction():
        database.execute_sql('DELETE FROM oidc_login WHERE expires <= ?', (now,))
        database.execute_sql(
            'INSERT INTO oidc_login (state_hash, nonce, code_verifier, target, expires) VALUES (?, ?, ?, ?, ?)',
            (_hash(state), nonce, code_verifier, target, now + PENDING_SECONDS * 1000))


def take_pending(state: str, *, now: int | None = None) -> Pending | None:
    """The sign-in this state began, once: a used, unknown or expired state gives None."""
    if not state or len(state) > MAX_STATE:
        return None
    now = now_millis() if now is None else now
    with write_transaction():
        row = database.execute_sql('SELECT nonce, code_verifier, target, expires FROM oidc_login WHERE state_hash = ?',
                                   (_hash(state),)).fetchone()
        if row is None:
            return None
        database.execute_sql('DELETE FROM oidc_login WHERE state_hash = ?', (_hash(state),))
    return Pending(row[0], row[1], row[2]) if row[3] > now else None


def _linked(email: str) -> tuple[str | None, str | None]:
    row = database.execute_sql('SELECT oidc_issuer, oidc_subject FROM account WHERE email = ?', (email,)).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _account_of_subject(issuer: str, subject: str) -> Account | None:
    row = database.execute_sql('SELECT email FROM account WHERE oidc_issuer = ? AND oidc_subject = ?',
                               (issuer, subject)).fetchone()
    return get_account(row[0]) if row else None


def _describe(role: str, workspaces: tuple[str, ...]) -> str:
    label = 'Organization Owner' if role == 'owner' else 'Workspace Admin'
    return f'{label} of {", ".join(workspaces)}' if workspaces else label


def _apply_roles(config: OidcConfig, identity: Identity, email: str, account: Account | None) -> Admission:
    grant = grant_for(identity.claim_values, config.roles)
    claim = config.roles_claim
    if grant is None:
        if account is not None:
            sessions.end_account_sessions(account.id)  # a removed group ends the browsers still signed in
        return Admission(refusal=f'no value of the provider\'s {claim} claim grants access to Audit Logs')
    if account is None:
        account = create_account(email, secrets.token_urlsafe(32), grant.role, grant.workspaces)
        return Admission(account, changes=[(
            'Create Account', f'Created account {email} from the provider\'s {claim} claim: '
                              f'{_describe(grant.role, grant.workspaces)}')])
    if account.disabled:
        return Admission(refusal='the account is disabled')
    if (account.role, account.workspaces) == (grant.role, grant.workspaces):
        return Admission(account)
    try:
        changed = update_account(email, role=grant.role, workspaces=grant.workspaces)
    except StoreError as exc:
        return Admission(refusal=str(exc))
    before, after = _describe(account.role, account.workspaces), _describe(grant.role, grant.workspaces)
    return Admission(changed, changes=[(
        'Change Account', f'Changed account {email} from the provider\'s {claim} claim: {before} → {after}')])


def admit(config: OidcConfig, identity: Identity) -> Admission:
    """The account this identity signs in as, or why not; links the provider's subject to the account."""
    if not identity.email_verified:
        return Admission(refusal='the provider has not verified this email address')
    email = normalize_email(identity.email)
    if not EMAIL.match(email):
        return Admission(refusal='the provider sent no usable email address')
    with write_transaction():
        by_subject = _account_of_subject(identity.issuer, identity.subject)
        by_email = get_account(email)
        if by_subject is not None and by_email is not None and by_subject.id != by_email.id:
            return Admission(refusal=f'{email} belongs to another account than this identity\'s')
        account = by_subject or by_email
        if account is not None and by_subject is None and _linked(account.email)[1] is not None:
            return Admission(refusal='this account is linked to another identity at the provider')
        if config.maps_roles:
            admission = _apply_roles(config, identity, email, account)
        elif account is None:
            admission = Admission(refusal=f'no account for {email}: an Organization Owner creates it first')
        elif account.disabled:
            admission = Admission(refusal='the account is disabled')
        else:
            admission = Admission(account)
        if admission.account is not None:
            database.execute_sql('UPDATE account SET oidc_issuer = ?, oidc_subject = ? WHERE id = ?',
                                 (identity.issuer, identity.subject, admission.account.id))
    return admission


def admit_and_record(config: OidcConfig, identity: Identity) -> Admission:
    """`admit`, then the role changes it made recorded as events (after its transaction committed)."""
    admission = admit(config, identity)
    for action, description in admission.changes:
        self_audit.record(normalize_email(identity.email), action, normalize_email(identity.email), description,
                          metadata={'issuer': identity.issuer, 'subject': identity.subject,
                                    config.roles_claim or 'claim': list(identity.claim_values)})
    return admission


def remember_id_token(session_id: str, id_token: str) -> None:
    """Keep the provider's ID token with the session: the provider's logout wants it back as a hint."""
    with write_transaction():
        database.execute_sql('UPDATE session SET oidc_id_token = ? WHERE id_hash = ?', (id_token, _hash(session_id)))


def id_token_of(session_id: str | None) -> str | None:
    if not session_id or len(session_id) > sessions.MAX_ID:
        return None
    row = database.execute_sql('SELECT oidc_id_token FROM session WHERE id_hash = ?', (_hash(session_id),)).fetchone()
    return row[0] if row else None
