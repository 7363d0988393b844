"""Syslog streams against a real rsyslogd (Debian's rsyslog and rsyslog-openssl, see scripts/ensure-rsyslog),
started on free loopback ports with its own configuration: imtcp plain and with TLS (a certificate made here)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from store.read.events import EventFilter
from store.streams import delivery as stream_delivery
from store.streams import registry as streams
from store.streams.delivery import Deliverer
from tests.browser.conftest import free_port, stop_process
from tests.conftest import event

RSYSLOGD = '/usr/sbin/rsyslogd'


@dataclass
class Syslog:
    tcp_port: int
    tls_port: int
    output: Path
    ca_file: Path


CONFIG = '''
global(workDirectory="{work}")
module(load="imtcp")
template(name="fields" type="string" string="%pri% %msgid% %structured-data% %msg%\\n")
ruleset(name="save") {{ action(type="omfile" file="{output}" template="fields" flushOnTXEnd="on") }}
input(type="imtcp" port="{tcp_port}" address="127.0.0.1" ruleset="save")
input(type="imtcp" port="{tls_port}" address="127.0.0.1" ruleset="save" streamDriver.name="ossl"
      streamDriver.mode="1" streamDriver.authMode="anon" streamDriver.CAFile="{cert}"
      streamDriver.CertFile="{cert}" streamDriver.KeyFile="{key}")
'''


def make_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / 'cert.pem', folder / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out',
                    str(cert), '-days', '1', '-subj', '/CN=localhost',
                    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], check=True, capture_output=True)
    return cert, key


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'rsyslogd exited with {process.returncode}: {log.read_text()}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f'rsyslogd did not listen on {port}: {log.read_text()}')


@pytest.fixture
def rsyslog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Syslog]:
    if not (Path(RSYSLOGD).exists() and shutil.which('openssl')):
        if os.environ.get('CI') == 'true':
            pytest.fail('rsyslogd or openssl is missing: CI must run the syslog tests (make test installs rsyslog)')
        pytest.skip('rsyslogd is missing: run scripts/ensure-rsyslog')
    folder = tmp_path / 'rsyslog'
    folder.mkdir()
    cert, key = make_certificate(folder)
    syslog = Syslog(free_port(), free_port(), folder / 'received.log', cert)
    config = folder / 'rsyslog.conf'
    config.write_text(CONFIG.format(work=folder, output=syslog.output, tcp_port=syslog.tcp_port,
                                    tls_port=syslog.tls_port, cert=cert, key=key))
    log = folder / 'rsyslogd.out'
    with log.open('w') as handle:
        process = subprocess.Popen([RSYSLOGD, '-n', '-f', str(config), '-i', str(folder / 'rsyslogd.pid')],
                                   stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_for_port(syslog.tcp_port, process, log)
        wait_for_port(syslog.tls_port, process, log)
        monkeypatch.setenv('AUDIT_STREAM_CA_FILE', str(cert))
        monkeypatch.setattr(stream_delivery, 'SCAN_SECONDS', 0.1)
        monkeypatch.setattr(stream_delivery, 'IDLE_SECONDS', 0.05)
        yield syslog
    finally:
        stop_process(process)


def received(syslog: Syslog, count: int) -> list[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = syslog.output.read_text().splitlines() if syslog.output.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    raise AssertionError(f'rsyslogd wrote {len(lines)} of {count} messages')


def test_syslog_over_tcp_and_tls_one_message_per_event_with_structured_data(rsyslog: Syslog, add_events) -> None:
    streams.create_stream('tcp', f'syslog+tcp://127.0.0.1:{rsyslog.tcp_port}', None, EventFilter(scope='Service'),
                          'owner@acme.io')
    streams.create_stream('tls', f'syslog+tls://127.0.0.1:{rsyslog.tls_port}', 'cef',
                          EventFilter(scope='Service', status='FAILED'), 'owner@acme.io')
    add_events(*[event(id=f's{i}', status='FAILED' if i % 2 else 'SUCCESS', target=f'nb "{i}"]') for i in range(6)])
    deliverer = Deliverer('t')
    deliverer.start()
    try:
        lines = received(rsyslog, 9)
    finally:
        deliverer.stop()
    plain = [line for line in lines if 'CEF:0' not in line]
    tls = [line for line in lines if 'CEF:0' in line]
    assert [re.search(r' id="([^"]+)"', line).group(1) for line in plain] == [f's{i}' for i in range(6)]
    assert [re.search(r'externalId=(\S+)', line).group(1) for line in tls] == ['s1', 's3', 's5']
    first = plain[0]
    assert first.startswith('110 Service/AI_Notebook [audit@32473 ')  # facility log audit (13), informational
    assert 'status="SUCCESS"' in first and 'user="alice@acme.io"' in first and 'target="nb \\"0\\"\\]"' in first
    assert '"id":"s0"' in first and '"position":' in first
    assert tls[0].startswith('108 ')  # FAILED: warning
    assert streams.get_stream('tls').delivered == 3 and streams.get_stream('tcp').delivered == 6


def test_a_syslog_server_that_is_down_is_retried(rsyslog: Syslog, add_events) -> None:
    port = free_port()  # nothing listens here
    streams.create_stream('down', f'syslog+tcp://127.0.0.1:{port}', None, EventFilter(scope='Service'),
                          'owner@acme.io')
    add_events(event(id='x'))
    deliverer = Deliverer('t')
    deliverer.start()
    try:
        deadline = time.monotonic() + 20
        while streams.get_stream('down').failures < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        deliverer.stop()
    down = streams.get_stream('down')
    assert down.state == 'failing' and 'cannot connect' in down.last_error and down.delivered == 0
