"""API tokens: shown once when created, stored only as a SHA-256 hash, revocable.

An organization token reads and writes every event; a workspace token only its workspace's.
Creating and revoking a token are recorded as organization-wide events (scope Organization,
category Policy), seen by Organization Owners.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from store.engine.db import StoreError, database, found, insert_id, write_transaction
from store.engine.timefmt import now_millis
from store.read.events import Viewer
from store.write import self_audit
from store.write.ingest import ensure_workspace

PREFIX = 'al_'
MAX_NAME = 100
MAX_TOKEN = 200  # longer bearer values are refused without hashing them
AUDIT_SCOPE, AUDIT_CATEGORY = 'Organization', 'Policy'


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    workspace: str | None
    created_at: int
    created_by: str
    revoked_at: int | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def reach(self) -> str:
        return f'Workspace {self.workspace}' if self.workspace else 'Whole organization'

    def viewer(self) -> Viewer:
        """What the token may read and write."""
        if self.workspace is None:
            return Viewer.organization(f'token:{self.name}')
        return Viewer.of_workspaces(f'token:{self.name}', {self.workspace})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _actor(created_by: str) -> str:
    """The event's user: an account's email, else `system` (e.g. the command line)."""
    return created_by if '@' in created_by else 'system'


_SELECT = """SELECT t.id, t.name, w.name, t.created_at, t.created_by, t.revoked_at
             FROM api_token t LEFT JOIN workspace w ON w.id = t.workspace_id"""


def _token(row: tuple) -> ApiToken:
    return ApiToken(*row)


def create_token(name: str, workspace: str | None, created_by: str) -> str:
    """Store a new token's hash and return the token itself: the only time anyone sees it."""
    name = (name or '').strip()
    if not name:
        raise StoreError('a token needs a name')
    if len(name) > MAX_NAME:
        raise StoreError(f'a token name has at most {MAX_NAME} characters')
    workspace = (workspace or '').strip() or None
    if workspace is not None and len(workspace) > 100:
        raise StoreError('a workspace name has at most 100 characters')
    token = PREFIX + secrets.token_urlsafe(32)
    with write_transaction():
        workspace_id = ensure_workspace(workspace) if workspace else None
        token_id = insert_id(
            'INSERT INTO api_token (name, token_hash, workspace_id, created_at, created_by) VALUES (?, ?, ?, ?, ?)',
            (name, hash_token(token), workspace_id, now_millis(), created_by))
        reach = f'workspace {workspace}' if workspace else 'the whole organization'
        self_audit.record(_actor(created_by), 'Create API Token', name,
                          f'Created API token "{name}" for {reach} (by {created_by})',
                          scope=AUDIT_SCOPE, category=AUDIT_CATEGORY,
                          metadata={'token_id': token_id, 'workspace': workspace, 'created_by': created_by})
    return token


def authenticate_token(token: str | None) -> ApiToken | None:
    """The active token with this value, else None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    row = database.execute_sql(f'{_SELECT} WHERE t.token_hash = ? AND t.revoked_at IS NULL',
                               (hash_token(token),)).fetchone()
    return _token(row) if row else None


def get_token(token_id: int) -> ApiToken | None:
    row = database.execute_sql(f'{_SELECT} WHERE t.id = ?', (token_id,)).fetchone()
    return _token(row) if row else None


def list_tokens() -> list[ApiToken]:
    """Every token, active ones first, newest first."""
    rows = database.execute_sql(f'{_SELECT} ORDER BY t.revoked_at IS NOT NULL, t.created_at DESC, t.id DESC')
    return [_token(row) for row in rows]


def revoke_token(token_id: int, revoked_by: str) -> ApiToken:
    """Revoke a token at once: the next request that presents it gets 401."""
    with write_transaction():
        token = get_token(token_id)
        if token is None:
            raise StoreError(f'no API token with id {token_id}')
        if not token.active:
            raise StoreError(f'API token "{token.name}" is revoked already')
        database.execute_sql('UPDATE api_token SET revoked_at = ? WHERE id = ?', (now_millis(), token_id))
        self_audit.record(_actor(revoked_by), 'Revoke API Token', token.name,
                          f'Revoked API token "{token.name}" ({token.reach}) (by {revoked_by})',
                          scope=AUDIT_SCOPE, category=AUDIT_CATEGORY,
                          metadata={'token_id': token.id, 'workspace': token.workspace, 'revoked_by': revoked_by})
    return found(get_token(token_id), f'API token {token_id}')
