"""/healthz, /readyz, /metrics and the request log of a real server process (python main.py serve)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psycopg2
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from store.engine.db import database
from store.engine.pools import SqliteStore
from store.lifecycle import health
from store.people.tokens import create_token
from store.read.events import EventFilter
from store.streams.registry import create_stream, remove_stream
from tests import pg
from tests.browser.conftest import ROOT, free_port, start_server, stop_server
from tests.conftest import event, utc
from ui.ops import metrics, request_log, stream_health

PATIENCE = 30.0  # seconds: a generous deadline for polling, never a measurement


def poll(url: str, want: int, patience: float = PATIENCE) -> tuple[httpx.Response, float]:
    """GET `url` until it answers `want`; returns that answer and how long it took."""
    started = time.monotonic()
    while True:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == want:
                return response, time.monotonic() - started
        except httpx.TransportError:
            pass
        assert time.monotonic() - started < patience, f'{url} did not answer {want} within {patience:.0f} s'
        time.sleep(0.1)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text, parsed by prometheus-client's own parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_readiness_follows_the_sqlite_file(database_url: str, tmp_path: Path) -> None:
    server = start_server(database_url, tmp_path / 'server.log')
    try:
        assert httpx.get(f'{server.url}/healthz').json() == {'status': 'ok'}
        ready = httpx.get(f'{server.url}/readyz')
        assert ready.status_code == 200
        assert ready.json() == {'status': 'ok', 'checks': {'database': 'ok', 'background': 'ok', 'streams': 'ok'}}

        path = Path(database.obj.database)
        path.rename(path.with_suffix('.away'))  # the volume is gone
        try:
            gone, took_away = poll(f'{server.url}/readyz', 503)
            assert gone.json()['checks']['database'] == 'the database does not answer'
            assert 'database' in gone.json()['reason'] and str(tmp_path) not in gone.text  # nothing private
            assert httpx.get(f'{server.url}/healthz').status_code == 200  # the process still answers
        finally:
            path.with_suffix('.away').rename(path)
        _, took_back = poll(f'{server.url}/readyz', 200)
        print(f'\n/readyz: 503 after {took_away:.2f} s, 200 again after {took_back:.2f} s')
    finally:
        stop_server(server)
    log = (tmp_path / 'server.log').read_text()
    assert 'not ready: database: the database does not answer' in log and 'ready again' in log


def test_readiness_follows_postgresql(tmp_path: Path) -> None:
    url = pg.fresh_database()
    name = urlparse(url).path.lstrip('/')
    admin = psycopg2.connect(pg.server_url().replace(f'/{name}', '/postgres'))
    admin.autocommit = True

    def connections(allowed: bool) -> None:
        with admin.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:  # and end the open ones: the server is unreachable for the app
                cursor.execute('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s', (name,))

    server = start_server(url, tmp_path / 'server.log')
    try:
        poll(f'{server.url}/readyz', 200)
        connections(False)
        try:
            gone, took_away = poll(f'{server.url}/readyz', 503)
            assert gone.json()['checks']['database'] == 'the database does not answer'
            assert '127.0.0.1' not in gone.text and 'port' not in gone.text  # nothing private
        finally:
            connections(True)
        _, took_back = poll(f'{server.url}/readyz', 200)
        print(f'\n/readyz on PostgreSQL: 503 after {took_away:.2f} s, 200 again after {took_back:.2f} s')
    finally:
        stop_server(server)
        admin.close()


def test_metrics_parse_count_real_requests_are_guarded_and_the_log_is_json(database_url: str,
                                                                           tmp_path: Path) -> None:
    token = create_token('metrics test', None, 'test')
    auth = {'Authorization': f'Bearer {token}'}
    scrape = {'Authorization': 'Bearer scrape-me-7'}
    server = start_server(database_url, tmp_path / 'server.log', {
        'AUDIT_LOG_FORMAT': 'json', 'AUDIT_METRICS_NETWORKS': '', 'AUDIT_METRICS_TOKEN': 'scrape-me-7'})
    try:
        assert httpx.get(f'{server.url}/metrics').status_code == 403  # loopback is no longer enough
        assert httpx.get(f'{server.url}/metrics', headers={'Authorization': 'Bearer wrong'}).status_code == 403
        assert httpx.get(f'{server.url}/readyz').status_code == 200  # health needs no token
        before = samples(httpx.get(f'{server.url}/metrics', headers=scrape).text)
        batch = {'events': [event(id=f'm-{i}', status='FAILED' if i % 3 == 0 else 'SUCCESS') for i in range(30)]}
        assert httpx.post(f'{server.url}/api/v1/events', json=batch, headers=auth).status_code == 201
        assert httpx.get(f'{server.url}/api/v1/events?limit=5', headers=auth).status_code == 200
        assert httpx.get(f'{server.url}/api/v1/events').status_code == 401
        assert httpx.get(f'{server.url}/login').status_code == 200
        response = httpx.get(f'{server.url}/metrics', headers=scrape)
        assert response.headers['content-type'].startswith('text/plain')
        after = samples(response.text)
    finally:
        stop_server(server)

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    assert moved('audit_events_appended_total', scope='Service', status='FAILED') == 10
    assert moved('audit_events_appended_total', scope='Service', status='SUCCESS') == 20
    assert moved('audit_api_requests_total', route='/api/v1/events', method='POST', status='201') == 1
    assert moved('audit_api_requests_total', route='/api/v1/events', method='GET', status='200') == 1
    assert moved('audit_api_requests_total', route='/api/v1/events', method='GET', status='401') == 1
    assert moved('audit_api_request_duration_seconds_count', route='/api/v1/events', method='POST') == 1
    assert moved('audit_page_loads_total', page='/login') == 1
    assert after[('audit_database_size_bytes', ())] > 0
    assert ('audit_search_index_lag_events', ()) in after
    assert ('process_resident_memory_bytes', ()) in after  # the client library's process figures

    lines = [json.loads(line) for line in (tmp_path / 'server.log').read_text().splitlines() if line.strip()]
    requests = [line for line in lines if line['logger'] == 'audit.request']
    assert {'time', 'level', 'message', 'method', 'path', 'status', 'duration_ms', 'client'} <= requests[0].keys()
    assert {(r['method'], r['path'], r['status']) for r in requests} >= {
        ('POST', '/api/v1/events', 201), ('GET', '/api/v1/events', 401), ('GET', '/login', 200),
        ('GET', '/metrics', 200)}
    assert any(line['logger'] == 'uvicorn.error' and line['message'] == 'Shutting down' for line in lines)
    text = (tmp_path / 'server.log').read_text()
    assert token not in text and 'scrape-me-7' not in text


def test_the_metrics_guard_reads_networks(monkeypatch) -> None:
    monkeypatch.setenv('AUDIT_METRICS_NETWORKS', '10.0.0.0/8, 2001:db8::/32')
    monkeypatch.setenv('AUDIT_METRICS_TOKEN', '')
    assert metrics.may_read('10.1.2.3', None) and metrics.may_read('2001:db8::5', None)
    assert not metrics.may_read('127.0.0.1', None) and not metrics.may_read('192.168.1.1', 'Bearer ')
    assert not metrics.may_read(None, None)


def test_a_registered_check_that_fails_or_hangs_makes_readiness_fail() -> None:
    release = threading.Event()
    calls: list[str] = []

    def hangs() -> str | None:
        calls.append('hangs')
        release.wait(30)
        return None

    def fails() -> str | None:
        raise RuntimeError('the deliverer stopped\nsecond line')

    checks: dict[str, Callable[[], str | None]] = {'deliverer': fails, 'slow': hangs}
    for name, check in checks.items():
        health.register(name, check)
    try:
        first = health.run_checks(bound=0.2)
        second = health.run_checks(bound=0.2)
        for answers in (first, second):
            assert (answers['database'], answers['background']) == (None, None)
            assert (answers['deliverer'], answers['slow']) == ('the deliverer stopped', 'no answer within 0.2 s')
        assert calls == ['hangs']  # still running: waited for again, not started twice
        release.set()
        deadline = time.monotonic() + PATIENCE
        while health.run_checks(bound=1.0)['slow'] is not None:
            assert time.monotonic() < deadline
    finally:
        release.set()
        for name in checks:
            health.unregister(name)
    assert {'database', 'background'} <= set(health.names()) and not {'deliverer', 'slow'} & set(health.names())


@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')  # the thread's death is the point
def test_a_dead_background_thread_makes_readiness_fail(add_events) -> None:
    store = database.obj
    assert isinstance(store, SqliteStore)

    def dies(stop: threading.Event) -> None:
        raise SystemExit  # ends the thread, as an error its pass does not catch would

    original = store.indexer.work
    store.indexer.stop()
    store.indexer.work = dies  # type: ignore[method-assign]
    try:
        add_events(event(id='wakes-the-indexer'))
        deadline = time.monotonic() + PATIENCE
        while health.background_threads_alive() is None:
            assert time.monotonic() < deadline, 'the indexer did not die'
            time.sleep(0.05)
        assert health.run_checks()['background'] == 'stopped: search indexer'
    finally:
        store.indexer.work = original  # type: ignore[method-assign]
        store.indexer.stop()
    assert health.run_checks()['background'] is None



def test_log_lines_mask_secrets_and_stay_valid_json() -> None:
    record = logging.LogRecord('audit.test', logging.WARNING, __file__, 1,
                               'refused %s with "Authorization: Bearer %s" from %s; body {"token": "%s"}',
                               ('/api/v1/events', 'al_abcdefghijklmnop1234', 'postgresql://audit:hunter2@db/audit',
                                'plain-secret-9'), None)
    for formatter in (request_log.TextFormatter(), request_log.JsonFormatter()):
        line = formatter.format(record)
        for secret in ('al_abcdefghijklmnop1234', 'hunter2', 'plain-secret-9'):
            assert secret not in line, (formatter, line)
        assert 'refused /api/v1/events' in line and 'postgresql://audit:***@db/audit' in line
    parsed = json.loads(request_log.JsonFormatter().format(record))
    assert parsed['level'] == 'WARNING' and parsed['logger'] == 'audit.test'


def test_bad_service_settings_stop_the_server_with_one_clear_line(database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST' and not k.startswith('NICEGUI_')}
    for name, value, message in (('AUDIT_LOG_FORMAT', 'xml', 'AUDIT_LOG_FORMAT must be text or json'),
                                 ('AUDIT_METRICS_NETWORKS', '10.0.0.0/33', 'AUDIT_METRICS_NETWORKS: ')):
        done = subprocess.run([sys.executable, 'main.py', '--db', database_url, 'serve', '--port', str(free_port())],
                              cwd=ROOT, env={**env, name: value}, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and done.stderr.startswith(f'error: {message}'), done.stderr


def test_each_stream_s_lag_and_failures_are_in_the_metrics(add_events, tmp_path: Path) -> None:
    add_events(*[event(id=f's-{i}', scope='Billing', category='Credit', workspace=None) for i in range(7)],
               event(id='other'))
    stream, _ = create_stream('billing-file', f'file://{tmp_path / "out.jsonl"}', None,
                              EventFilter(scope='Billing'), 'test', since=utc(2020, 1, 1))
    stream_health.refresh()
    found = samples(generate_latest(REGISTRY).decode())
    assert found[('audit_stream_lag_events', (('stream', 'billing-file'),))] == 7
    assert found[('audit_stream_lag_seconds', (('stream', 'billing-file'),))] > 0
    assert found[('audit_stream_failures', (('stream', 'billing-file'),))] == 0
    remove_stream('billing-file', 'test')
    stream_health.refresh()
    assert not [key for key in samples(generate_latest(REGISTRY).decode()) if ('stream', 'billing-file') in key[1]]
