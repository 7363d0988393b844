"""A real OpenID Connect provider for the tests: `oidc-provider-mock` run as its own process on a free loopback
port, and the steps a person takes at it (the authorization form), done over HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from store.engine.db import database
from store.lifecycle.opening import close_database, open_database
from tests.browser.conftest import free_port, stop_process, wait_until_listening


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen

    def set_user(self, sub: str, **claims: object) -> None:
        """The claims the provider puts in this subject's ID token (replacing earlier ones)."""
        httpx.put(f'{self.issuer}/users/{sub}', json=claims, timeout=10).raise_for_status()


@contextmanager
def running_provider(log: Path) -> Iterator[Provider]:
    port = free_port()
    with log.open('w') as handle:
        process = subprocess.Popen(
            [sys.executable, '-m', 'oidc_provider_mock', '--host', '127.0.0.1', '--port', str(port)],
            stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield Provider(wait_until_listening(process, port, log, 30, 'provider'), process)
    finally:
        stop_process(process)


@contextmanager
def app_database(url: str) -> Iterator[str]:
    """The test reads and prepares the database of the app it started (instead of a fresh one per test)."""
    open_database(url)
    database.connect(reuse_if_open=True)
    try:
        yield url
    finally:
        close_database()


def app_settings(provider: Provider, **extra: str) -> dict[str, str]:
    """The app's environment for signing in through this provider."""
    return {'AUDIT_OIDC_ISSUER': provider.issuer, 'AUDIT_OIDC_CLIENT_ID': 'audit-logs',
            'AUDIT_OIDC_CLIENT_SECRET': 'audit-logs-secret', 'AUDIT_OIDC_NAME': 'Mock ID', **extra}


def authorize(authorization_url: str, sub: str) -> str:
    """Submit the provider's authorization form as `sub`; returns where the provider sends the browser back."""
    form = httpx.get(authorization_url, timeout=10)
    assert form.status_code == 200 and re.search(r'name="sub"', form.text), form.text[:500]
    answer = httpx.post(authorization_url, data={'sub': sub}, timeout=10)
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers['location']
