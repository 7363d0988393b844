"""Settings, declared once: name, environment variable, default and help.

The README lists every setting; a test fails when one is missing there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    help: str

    def value(self) -> str:
        return os.environ.get(self.env, self.default)


DATABASE_URL = Setting(
    'database_url', 'DATABASE_URL', 'sqlite:///data/audit.db',
    'Where events are stored: sqlite:///path/to/file.db or postgresql://user:pass@host:5432/name.',
)
DISPLAY_TIMEZONE = Setting(
    'display_timezone', 'AUDIT_TIMEZONE', 'UTC',
    'IANA time zone used to show and export timestamps, e.g. Europe/Berlin.',
)
TAXONOMY_FILE = Setting(
    'taxonomy_file', 'AUDIT_TAXONOMY_FILE', '',
    'Optional JSON file {"Scope": ["Extra category", ...]} adding categories to the fixed scopes.',
)
ORGANIZATION_NAME = Setting(
    'organization_name', 'AUDIT_ORGANIZATION', 'Acme',
    'The organization name shown in the header ("All of Acme").',
)
SESSION_SECRET = Setting(
    'session_secret', 'AUDIT_SESSION_SECRET', '',
    'Secret that signs browser sessions; empty means one is generated once and kept beside the database.',
)
SESSION_IDLE_MINUTES = Setting(
    'session_idle_minutes', 'AUDIT_SESSION_IDLE_MINUTES', '60',
    'Minutes of inactivity after which a browser session must sign in again.',
)

SQLITE_MAP_MIB = Setting(
    'sqlite_map_mib', 'AUDIT_SQLITE_MAP_MIB', '2048',
    'MiB of an SQLite database file the server reads through a memory map (0 reads every page by a system call).',
)

# ---- streams (store/streams/registry.py) ----
PUBLIC_URL = Setting(
    'public_url', 'AUDIT_PUBLIC_URL', '',
    "The app's address as users open it (https://audit.example.com), for the links in chat alerts; empty: relative.",
)
STREAM_CA_FILE = Setting(
    'stream_ca_file', 'AUDIT_STREAM_CA_FILE', '',
    'Optional PEM file of CA certificates trusted, besides the system ones, by syslog+tls and https streams.',
)
STREAM_LEASE_SECONDS = Setting(
    'stream_lease_seconds', 'AUDIT_STREAM_LEASE_SECONDS', '30',
    "Seconds a stream's lease lasts unrenewed: another instance takes over a stopped one's streams after this.",
)
STREAM_DELIVERY = Setting(
    'stream_delivery', 'AUDIT_STREAM_DELIVERY', 'process',
    'Where the server delivers streams: process (a process of its own at a lower CPU priority), thread (inside '
    "the server's process) or off (another process delivers, e.g. `main.py stream deliver`).",
)
OIDC_ISSUER = Setting(
    'oidc_issuer', 'AUDIT_OIDC_ISSUER', '',
    'The OpenID Connect provider\'s issuer URL (discovery at ISSUER/.well-known/openid-configuration); '
    'empty: no provider sign-in.',
)
OIDC_CLIENT_ID = Setting('oidc_client_id', 'AUDIT_OIDC_CLIENT_ID', '', 'The client id registered at the provider.')
OIDC_CLIENT_SECRET = Setting(
    'oidc_client_secret', 'AUDIT_OIDC_CLIENT_SECRET', '',
    'The client secret (confidential client); empty for a public client (PKCE only).',
)
OIDC_NAME = Setting('oidc_name', 'AUDIT_OIDC_NAME', 'your identity provider',
                    'The provider\'s name on the login button "Sign in with NAME".')
OIDC_SCOPES = Setting('oidc_scopes', 'AUDIT_OIDC_SCOPES', 'openid email profile', 'The scopes asked of the provider.')
OIDC_ROLES_CLAIM = Setting(
    'oidc_roles_claim', 'AUDIT_OIDC_ROLES_CLAIM', '',
    'Optional claim of the ID token whose values grant roles, e.g. groups (with AUDIT_OIDC_ROLES).',
)
OIDC_ROLES = Setting(
    'oidc_roles', 'AUDIT_OIDC_ROLES', '',
    'Claim values to roles, e.g. audit-owners=owner;research-admins=admin:research,training.',
)
PASSWORD_LOGIN = Setting(
    'password_login', 'AUDIT_PASSWORD_LOGIN', 'on',
    'on: the password form shows under the provider\'s button; off: no password sign-in; break-glass: only '
    'Organization Owners, through /login?break_glass=1.',
)

# Running it as a service (ui/ops/request_log.py, ui/ops/metrics.py)
LOG_FORMAT = Setting(
    'log_format', 'AUDIT_LOG_FORMAT', 'text',
    'The server log on standard error: text (one readable line per entry) or json (one JSON object per line).',
)
METRICS_TOKEN = Setting(
    'metrics_token', 'AUDIT_METRICS_TOKEN', '',
    'A bearer token that opens /metrics from anywhere (Authorization: Bearer <token>); empty: none.',
)
METRICS_NETWORKS = Setting(
    'metrics_networks', 'AUDIT_METRICS_NETWORKS', '127.0.0.0/8,::1/128',
    'Comma-separated networks whose clients read /metrics without a token; empty: only with the token.',
)

ALL: tuple[Setting, ...] = (
    DATABASE_URL, DISPLAY_TIMEZONE, TAXONOMY_FILE, ORGANIZATION_NAME, SESSION_SECRET, SESSION_IDLE_MINUTES,
    SQLITE_MAP_MIB, PUBLIC_URL, STREAM_CA_FILE, STREAM_LEASE_SECONDS, STREAM_DELIVERY, OIDC_ISSUER, OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET, OIDC_NAME, OIDC_SCOPES, OIDC_ROLES_CLAIM, OIDC_ROLES, PASSWORD_LOGIN,
    LOG_FORMAT, METRICS_TOKEN, METRICS_NETWORKS,
)
