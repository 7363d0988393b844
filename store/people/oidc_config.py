"""The OpenID Connect settings, read and checked once at start-up: the provider, the roles its claim grants,
and whether passwords still sign anyone in.

`AUDIT_OIDC_ROLES` maps values of the roles claim to a role, `;`-separated:
`audit-owners=owner;research-admins=admin:research,training` makes members of `audit-owners` Organization
Owners and members of `research-admins` Workspace Admins of `research` and `training`. Owner wins over
admin; several admin values add their workspaces up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from store.engine import settings
from store.engine.db import StoreError

PASSWORD_MODES = ('on', 'off', 'break-glass')
DEFAULT_SCOPES = 'openid email profile'


@dataclass(frozen=True)
class RoleGrant:
    role: str  # 'owner' or 'admin'
    workspaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    name: str
    scopes: str = DEFAULT_SCOPES
    roles_claim: str | None = None
    roles: tuple[tuple[str, RoleGrant], ...] = ()

    @property
    def maps_roles(self) -> bool:
        """Roles come from the provider's claim (and a matching claim may create the account)."""
        return bool(self.roles_claim and self.roles)


def parse_role_mapping(text: str) -> tuple[tuple[str, RoleGrant], ...]:
    """`value=owner;value=admin:ws1,ws2` as (claim value, grant) pairs; a mistake raises StoreError naming it."""
    pairs: list[tuple[str, RoleGrant]] = []
    for part in (p.strip() for p in (text or '').split(';')):
        if not part:
            continue
        value, sep, grant = part.partition('=')
        value, grant = value.strip(), grant.strip()
        if not sep or not value:
            raise StoreError(f'AUDIT_OIDC_ROLES: {part!r} is not VALUE=owner or VALUE=admin:WORKSPACE,...')
        role, _, names = grant.partition(':')
        workspaces = tuple(sorted({n.strip() for n in names.split(',') if n.strip()}))
        if role == 'owner' and not workspaces:
            pairs.append((value, RoleGrant('owner')))
        elif role == 'admin' and workspaces:
            pairs.append((value, RoleGrant('admin', workspaces)))
        else:
            raise StoreError(f'AUDIT_OIDC_ROLES: {part!r} must grant owner, or admin:WORKSPACE[,WORKSPACE...]')
    return tuple(pairs)


def grant_for(claim_values: Iterable[str], mapping: tuple[tuple[str, RoleGrant], ...]) -> RoleGrant | None:
    """The role the claim's values grant: owner if any grants it, else admin of every granted workspace."""
    values = set(claim_values)
    granted = [grant for value, grant in mapping if value in values]
    if any(g.role == 'owner' for g in granted):
        return RoleGrant('owner')
    workspaces = sorted({w for g in granted for w in g.workspaces})
    return RoleGrant('admin', tuple(workspaces)) if workspaces else None


def password_mode() -> str:
    mode = settings.PASSWORD_LOGIN.value().strip().lower()
    if mode not in PASSWORD_MODES:
        raise StoreError(f'{settings.PASSWORD_LOGIN.env} must be on, off or break-glass, not {mode!r}')
    return mode


def load() -> OidcConfig | None:
    """The provider's settings, or None when no issuer is set; incomplete settings raise StoreError."""
    issuer = settings.OIDC_ISSUER.value().strip().rstrip('/')
    mode = password_mode()
    if not issuer:
        if mode != 'on':
            raise StoreError(f'{settings.PASSWORD_LOGIN.env}={mode} needs a provider: set {settings.OIDC_ISSUER.env}')
        return None
    if not issuer.startswith(('https://', 'http://')):
        raise StoreError(f'{settings.OIDC_ISSUER.env} must be a URL (https://...), not {issuer!r}')
    client_id = settings.OIDC_CLIENT_ID.value().strip()
    if not client_id:
        raise StoreError(f'{settings.OIDC_ISSUER.env} is set: {settings.OIDC_CLIENT_ID.env} is needed too')
    roles_claim = settings.OIDC_ROLES_CLAIM.value().strip() or None
    roles = parse_role_mapping(settings.OIDC_ROLES.value())
    if bool(roles_claim) != bool(roles):
        raise StoreError(f'{settings.OIDC_ROLES_CLAIM.env} and {settings.OIDC_ROLES.env} go together: set both or '
                         'neither')
    return OidcConfig(issuer=issuer, client_id=client_id, client_secret=settings.OIDC_CLIENT_SECRET.value(),
                      name=settings.OIDC_NAME.value().strip() or 'your identity provider',
                      scopes=settings.OIDC_SCOPES.value().strip() or DEFAULT_SCOPES,
                      roles_claim=roles_claim, roles=roles)


def password_allowed(mode: str, role: str) -> bool:
    """Whether a password signs in an account of this role: always with `on`, only owners with `break-glass`."""
    return mode == 'on' or (mode == 'break-glass' and role == 'owner')
