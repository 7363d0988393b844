"""Accounts of the dashboard: Organization Owners and Workspace Admins, with Argon2 password hashes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store.engine.db import StoreError, database, found, insert_id, write_transaction
from store.engine.timefmt import now_millis
from store.people import sessions
from store.read.events import Viewer
from store.write.ingest import ensure_workspace

ROLES = {'owner': 'Organization Owner', 'admin': 'Workspace Admin'}
EMAIL = re.compile(r'^[^@\s]{1,64}@[^@\s]{1,255}$')
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash('not a real password')


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    workspaces: tuple[str, ...]
    disabled: bool

    @property
    def role_label(self) -> str:
        return ROLES[self.role]

    def viewer(self) -> Viewer:
        """What this account may see: the whole organization for owners, else its workspaces."""
        if self.role == 'owner':
            return Viewer.organization(self.email)
        return Viewer.of_workspaces(self.email, frozenset(self.workspaces))


def normalize_email(email: str) -> str:
    return (email or '').strip().lower()


def check_email(email: str) -> str:
    email = normalize_email(email)
    if not EMAIL.match(email):
        raise StoreError(f'{email!r} is not an email address')
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StoreError(f'the password must have at least {MIN_PASSWORD} characters')
    if len(password) > MAX_PASSWORD:
        raise StoreError(f'the password must have at most {MAX_PASSWORD} characters')


def _check_role(role: str, workspaces: list[str] | tuple[str, ...]) -> list[str]:
    if role not in ROLES:
        raise StoreError(f'role must be owner or admin, not {role!r}')
    names = sorted({w.strip() for w in workspaces if w and w.strip()})
    if role == 'admin' and not names:
        raise StoreError('a Workspace Admin needs at least one workspace')
    if role == 'owner':
        return []
    return names


def _load(row: tuple) -> Account:
    names = [r[0] for r in database.execute_sql(
        'SELECT w.name FROM account_workspace aw JOIN workspace w ON w.id = aw.workspace_id '
        'WHERE aw.account_id = ? ORDER BY w.name', (row[0],))]
    return Account(row[0], row[1], row[2], tuple(names), bool(row[3]))


def get_account(email: str) -> Account | None:
    row = database.execute_sql('SELECT id, email, role, disabled FROM account WHERE email = ?',
                               (normalize_email(email),)).fetchone()
    return _load(row) if row else None


def list_accounts() -> list[Account]:
    rows = database.execute_sql('SELECT id, email, role, disabled FROM account ORDER BY email').fetchall()
    return [_load(row) for row in rows]


def count_accounts() -> int:
    return database.execute_sql('SELECT count(*) FROM account').fetchone()[0]


def create_account(email: str, password: str, role: str, workspaces: list[str] | tuple[str, ...] = ()) -> Account:
    email = check_email(email)
    check_password(password)
    names = _check_role(role, workspaces)
    with write_transaction():
        if database.execute_sql('SELECT 1 FROM account WHERE email = ?', (email,)).fetchone():
            raise StoreError(f'an account for {email} exists already')
        account_id = insert_id(
            'INSERT INTO account (email, password_hash, role, disabled, created_at) VALUES (?, ?, ?, 0, ?)',
            (email, _hasher.hash(password), role, now_millis()))
        _set_workspaces(account_id, names)
    return found(get_account(email), f'the account {email}')


def update_account(email: str, *, role: str | None = None, workspaces: list[str] | tuple[str, ...] | None = None,
                   disabled: bool | None = None) -> Account:
    """Change an account's role, workspaces or disabled flag; the last active owner stays an owner."""
    with write_transaction():
        account = get_account(email)
        if account is None:
            raise StoreError(f'no account for {normalize_email(email)}')
        new_role = role or account.role
        names = _check_role(new_role, account.workspaces if workspaces is None else workspaces)
        new_disabled = account.disabled if disabled is None else disabled
        if account.role == 'owner' and not account.disabled and (new_role != 'owner' or new_disabled):
            others = database.execute_sql(
                "SELECT count(*) FROM account WHERE role = 'owner' AND disabled = 0 AND id != ?",
                (account.id,)).fetchone()[0]
            if not others:
                raise StoreError('the last active Organization Owner cannot be demoted or disabled')
        database.execute_sql('UPDATE account SET role = ?, disabled = ? WHERE id = ?',
                             (new_role, int(new_disabled), account.id))
        _set_workspaces(account.id, names)
        if (new_role, tuple(names), new_disabled) != (account.role, account.workspaces, account.disabled):
            sessions.end_account_sessions(account.id)  # signed-in browsers sign in again with the new rights
    return found(get_account(email), f'the account {email}')


def set_password(email: str, password: str) -> None:
    check_password(password)
    with write_transaction():
        cursor = database.execute_sql('UPDATE account SET password_hash = ? WHERE email = ?',
                                      (_hasher.hash(password), normalize_email(email)))
        if cursor.rowcount == 0:
            raise StoreError(f'no account for {normalize_email(email)}')
        row = database.execute_sql('SELECT id FROM account WHERE email = ?', (normalize_email(email),)).fetchone()
        sessions.end_account_sessions(row[0])  # a new password signs out every browser


def _set_workspaces(account_id: int, names: list[str]) -> None:
    database.execute_sql('DELETE FROM account_workspace WHERE account_id = ?', (account_id,))
    for name in names:
        database.execute_sql('INSERT INTO account_workspace (account_id, workspace_id) VALUES (?, ?)',
                             (account_id, ensure_workspace(name)))


def authenticate(email: str, password: str) -> Account | None:
    """The active account with this email and password, else None (in about the same time either way)."""
    row = database.execute_sql('SELECT id, email, role, disabled, password_hash FROM account WHERE email = ?',
                               (normalize_email(email),)).fetchone()
    try:
        _hasher.verify(row[4] if row else _DUMMY_HASH, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row[3]:
        return None
    return _load(row[:4])
