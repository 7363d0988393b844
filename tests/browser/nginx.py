"""A real nginx (Debian's package) in front of app instances, configured by the README's deploy/ file.

It runs in the foreground from a temporary folder: its own main configuration (temporary paths, an access log
that names the instance that answered), the deployment's site file with the test's ports, a free port.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, free_port, stop_process, wait_until_listening

SITE = ROOT / 'deploy' / 'nginx-audit-logs.conf'
UPSTREAM = re.compile(r'^(\s*server 127\.0\.0\.1:)(\d+)( .*;)$', re.M)


@dataclass
class Nginx:
    url: str
    folder: Path
    process: subprocess.Popen

    def access_log(self) -> list[list[str]]:
        """Each request: method, URI, status, upstream address(es)."""
        path = self.folder / 'access.log'
        return [line.split(' ', 3) for line in path.read_text().splitlines()] if path.exists() else []


def nginx_binary() -> str:
    found = shutil.which('nginx') or ('/usr/sbin/nginx' if Path('/usr/sbin/nginx').exists() else None)
    if found is None:
        if os.environ.get('CI') == 'true':
            pytest.fail('nginx is missing: CI must run the proxy tests (make test installs it, scripts/ensure-nginx)')
        pytest.skip("nginx is missing: install Debian's nginx package (bash scripts/ensure-nginx)")
    return found


def site_config(listen: int, upstreams: list[int]) -> str:
    """The deployment's site file, with the test's ports instead of 80, 8081 and 8082: nothing else changes."""
    text = SITE.read_text()
    ports = iter(upstreams)
    text, replaced = UPSTREAM.subn(lambda m: f'{m[1]}{next(ports)}{m[3]}', text)
    assert replaced == len(upstreams), 'the site file names another number of instances'
    assert text.count('listen 80;') == 1
    return text.replace('listen 80;', f'listen 127.0.0.1:{listen};')


def main_config(folder: Path) -> str:
    user = 'user root;\n' if os.geteuid() == 0 else ''  # workers write temporary files in this private folder
    temp = ''.join(f'    {kind}_temp_path {folder / kind};\n' for kind in ('client_body', 'proxy', 'fastcgi', 'uwsgi',
                                                                             'scgi'))
    return (f'{user}worker_processes 1;\nevents {{ worker_connections 512; }}\nhttp {{\n'
            f"    log_format upstream '$request_method $uri $status $upstream_addr';\n"
            f'    access_log {folder / "access.log"} upstream;\n{temp}'
            f'    include {folder / "audit-logs.conf"};\n}}\n')


def start_nginx(folder: Path, upstreams: list[int], wait: float = 30) -> Nginx:
    binary = nginx_binary()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / 'audit-logs.conf').write_text(site_config(port, upstreams))
    (folder / 'nginx.conf').write_text(main_config(folder))
    error_log = folder / 'error.log'
    process = subprocess.Popen([binary, '-p', str(folder), '-e', str(error_log), '-c', str(folder / 'nginx.conf'),
                                '-g', f'daemon off; pid {folder / "nginx.pid"}; error_log {error_log} notice;'],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_until_listening(process, port, error_log, wait, 'nginx')
    return Nginx(f'http://127.0.0.1:{port}', folder, process)


def stop_nginx(nginx: Nginx) -> None:
    stop_process(nginx.process)
