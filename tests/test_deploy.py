"""The README's deployment shows the files under deploy/ as they are, and they hold what a service needs.

tests/browser/test_nginx.py runs the nginx file itself; here: the README and the systemd unit."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import main
from store.engine import settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / 'README.md').read_text()
DEPLOY = ROOT / 'deploy'


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r'^```[a-z]*\n(.*?)^```$', text, re.M | re.S)


def unit_keys(text: str) -> dict[str, dict[str, str]]:
    """A systemd unit's sections and keys (each key once, as in this unit)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('['):
            current = sections.setdefault(line.strip('[]'), {})
        else:
            key, value = line.split('=', 1)
            assert key not in current, key
            current[key] = value
    return sections


def test_the_readme_shows_every_deploy_file_verbatim() -> None:
    blocks = fenced_blocks(README)
    for name in ('nginx-audit-logs.conf', 'audit-logs@.service', 'audit-logs.env'):
        assert (DEPLOY / name).read_text() in blocks, name
        assert f'deploy/{name}' in README, name


def test_the_unit_restarts_on_failure_as_its_own_user_with_its_data_and_environment() -> None:
    service = unit_keys((DEPLOY / 'audit-logs@.service').read_text())['Service']
    assert service['Restart'] == 'on-failure'
    assert service['User'] not in ('', 'root') and service['Group'] == service['User']
    assert service['StateDirectory'] == 'audit-logs' and service['WorkingDirectory'] == '/var/lib/audit-logs'
    assert service['EnvironmentFile'] == '/etc/audit-logs/audit-logs.env'
    assert service['KillSignal'] == 'SIGTERM'
    assert int(service['TimeoutStopSec']) > 10  # longer than the server's own bound, or systemd kills it first
    python, script, *args = shlex.split(service['ExecStart'])
    assert python.endswith('/.venv/bin/python') and script.endswith('/main.py')
    parsed = main.build_parser().parse_args([arg.replace('%i', '8081') for arg in args])
    assert (parsed.command, parsed.host, parsed.port) == ('serve', '127.0.0.1', 8081)


def test_the_environment_file_sets_only_declared_settings() -> None:
    declared = {setting.env for setting in settings.ALL}
    names = [line.split('=', 1)[0] for line in (DEPLOY / 'audit-logs.env').read_text().splitlines()
             if line and not line.startswith('#')]
    assert names and set(names) <= declared


def test_the_nginx_site_proxies_websockets_to_sticky_instances() -> None:
    site = (DEPLOY / 'nginx-audit-logs.conf').read_text()
    for directive in ('ip_hash;', 'proxy_http_version 1.1;', 'proxy_set_header Upgrade $http_upgrade;',
                      'proxy_set_header Connection $connection_upgrade;',
                      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;'):
        assert directive in site, directive
    ports = re.findall(r'server 127\.0\.0\.1:(\d+)', site)
    assert ports == ['8081', '8082']  # the unit's instances: audit-logs@8081, audit-logs@8082
    assert 'audit-logs@8081 audit-logs@8082' in README.replace('\n', ' ')
