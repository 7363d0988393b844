"""A real OpenID Connect provider for the tests: `oidc-provider-mock` run as its own process on a free loopback
port, and the steps a person takes at it (the authorization form), done over HTTP."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.browser.conftest import free_port


@dataclass
class Provider:
    issuer: str
    process: subprocess.Popen

    def set_user(self, sub: str, **claims: object) -> None:
        """The claims the provider puts in this subject's ID token (replacing earlier ones)."""
        httpx.put(f'{self.issuer}/users/{sub}', json=claims, timeout=10).raise_for_status()


def start_provider(log: Path, wait: float = 30) -> Provider:
    port = free_port()
    handle = log.open('w')
    process = subprocess.Popen([sys.executable, '-m', 'oidc_provider_mock', '--host', '127.0.0.1', '--port', str(port)],
                               stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'the provider exited with {process.returncode}:\n{log.read_text()}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return Provider(f'http://127.0.0.1:{port}', process)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f'the provider did not answer within {wait:.0f} s:\n{log.read_text()}')


def stop_provider(provider: Provider) -> None:
    provider.process.terminate()
    try:
        provider.process.wait(10)
    except subprocess.TimeoutExpired:
        provider.process.kill()


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
