"""The Export dialog and download route with NiceGUI's simulated user, against a real SQLite store."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from nicegui.testing import User

from store.read.events import EventFilter, Viewer, count_events, find_events
from tests.conftest import ADMIN_A, OWNER, event, raw_sql
from ui.audit_logs import export_dialog, export_routes
from ui.audit_logs.export_dialog import ExportDialog

PATIENCE = 100  # retries of 0.1 s: Argon2 and a busy machine can take a while


async def until(condition: Callable[[], Any], what: str) -> None:
    """Wait for a background handler to finish (a bounded wait, not a timing assertion)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f'gave up waiting for {what}')


async def open_page(user: User, email: str, password: str, path: str = '/audit-logs') -> None:
    await user.open(path)
    user.find('Email').type(email)
    user.find('Password').type(password)
    user.find('Log in').click()
    await user.should_see(marker='events', retries=PATIENCE)


@pytest.fixture
def events(add_events) -> None:
    add_events(*[event(target=f'nb-{i}', workspace='alpha' if i % 3 else 'beta', scope='Service',
                       category='AI Notebook' if i % 2 else 'GPU Container', action='Start Notebook',
                       timestamp=f'2026-10-01T08:{i:02d}:00Z') for i in range(40)],
               *[event(scope='Billing', category='Credit', action='Add Credit', target=f'cr-{i}', workspace=None)
                 for i in range(7)])


async def test_owner_exports_the_whole_view_to_excel(user: User, accounts, events) -> None:
    await open_page(user, *OWNER)
    total = count_events(Viewer.organization(), EventFilter())  # the 47 events and the owner's sign-in
    user.find('Export').click()
    await user.should_see(f'{total:,} events: the current filters, sort and visibility, all pages.')
    user.find('Excel (.xlsx)').click()
    response = await user.download.next(timeout=20)
    assert response.status_code == 200
    disposition = response.headers['content-disposition']
    assert disposition.startswith('attachment; filename="audit-logs-') and disposition.endswith('.xlsx"')
    assert response.headers['cache-control'] == 'no-store'
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book['Audit Logs'].max_row - 1 == total == 48
    await user.should_see(f'Exported {total:,} events to audit-logs-')

    url = str(response.request.url)
    assert (await user.http_client.get(url)).status_code == 404  # served once
    assert not list(export_routes._folder.iterdir())  # and deleted
    (record,) = find_events(Viewer.organization(), EventFilter(search='Export Audit Logs')).events
    assert record['user'] == OWNER[0] and record['metadata']['rows'] == total


async def test_admin_exports_the_filtered_view_to_csv(user: User, accounts, events) -> None:
    flt = EventFilter(scope='Service', category='AI Notebook')
    expected = count_events(accounts['admin_a'].viewer(), flt)
    await open_page(user, *ADMIN_A, path='/audit-logs?scope=Service&category=AI+Notebook')
    user.find('Export').click()
    await user.should_see(f'{expected:,} events')
    user.find('CSV (.csv)').click()
    response = await user.download.next(timeout=20)
    assert response.headers['content-disposition'].endswith('.csv"')
    assert response.content.startswith(b'\xef\xbb\xbf')
    rows = list(csv.reader(io.StringIO(response.content.decode('utf-8-sig'))))
    assert len(rows) - 1 == expected == 13
    assert {(row[2], row[3], row[8]) for row in rows[1:]} == {('Service', 'AI Notebook', 'alpha')}
    (record,) = find_events(accounts['admin_a'].viewer(), EventFilter(search='Export Audit Logs')).events
    assert record['workspace'] == 'alpha'
    assert record['metadata']['filters'] == {'scope': 'Service', 'category': 'AI Notebook'}


async def test_a_download_link_serves_only_the_session_that_exported(user: User, create_user, accounts,
                                                                     tmp_path: Path) -> None:
    await open_page(user, *ADMIN_A)
    path = export_routes.new_file('audit-logs-test.csv')
    path.write_text('secret')
    url = export_routes.offer(path, path.name, 'text/csv', OWNER[0])  # made by the owner's session
    assert (await user.http_client.get(url)).status_code == 404  # a signed-in admin is not the owner
    stranger = create_user()
    response = await stranger.http_client.get(url)
    assert response.status_code in (302, 307) and '/login' in response.headers['location']
    assert path.read_text() == 'secret'  # still waiting for its owner


async def test_an_expired_link_is_gone_and_its_file_deleted(user: User, accounts,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    await open_page(user, *OWNER)
    path = export_routes.new_file('audit-logs-old.csv')
    path.write_text('old')
    monkeypatch.setattr(export_routes, 'KEEP_SECONDS', -1)
    url = export_routes.offer(path, path.name, 'text/csv', OWNER[0])
    response = await user.http_client.get(url)
    assert response.status_code == 404 and 'export again' in response.text
    assert not path.exists()


async def test_cancel_stops_the_export_and_leaves_nothing(user: User, accounts, events,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    original = ExportDialog._progress
    cancels = [True]  # the first export only

    def cancel_during_the_export(self: ExportDialog, written: int) -> None:
        if cancels:
            cancels.pop()
            self.cancelled = True  # as if Cancel were pressed while the rows are written
        original(self, written)
    monkeypatch.setattr(ExportDialog, '_progress', cancel_during_the_export)
    await open_page(user, *OWNER)
    user.find('Export').click()
    await user.should_see('Excel (.xlsx)')
    user.find('Excel (.xlsx)').click()
    await user.should_see('Export cancelled.', retries=PATIENCE)
    with pytest.raises(TimeoutError):
        await user.download.next(timeout=0.5)
    assert raw_sql("SELECT count(*) FROM event WHERE action = 'Export Audit Logs'") == [(0,)]
    assert not list(export_routes._folder.iterdir())
    user.find('CSV (.csv)').click()  # the dialog offers the formats again, and they work
    response = await user.download.next(timeout=20)
    assert response.status_code == 200


async def test_the_page_stays_live_and_shows_progress_while_the_file_is_written(
        user: User, accounts, events, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export's thread waits, mid-file, until the page has shown its progress: were the export on the
    event loop, the page could show nothing and the export would never finish."""
    original = ExportDialog._progress
    shown = threading.Event()

    def wait_for_the_page(self: ExportDialog, written: int) -> None:
        original(self, written)
        assert shown.wait(30), 'the page never showed the progress'
    monkeypatch.setattr(ExportDialog, '_progress', wait_for_the_page)
    await open_page(user, *OWNER)
    total = count_events(Viewer.organization(), EventFilter())
    user.find('Export').click()
    await user.should_see('Excel (.xlsx)')
    user.find('Excel (.xlsx)').click()
    await user.should_see(f'Exported {total:,} of {total:,} events…', retries=PATIENCE)
    shown.set()
    response = await user.download.next(timeout=20)
    assert response.status_code == 200


async def test_a_failed_export_says_why(user: User, accounts, events, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_dialog, 'export_file_name', lambda fmt, now, tz: 'audit-logs.pdf')
    await open_page(user, *OWNER)
    user.find('Export').click()
    await user.should_see('CSV (.csv)')
    user.find('CSV (.csv)').click()
    await user.should_see('Export failed: cannot export to', retries=PATIENCE)
    await until(lambda: not list(export_routes._folder.iterdir()), 'the partial export to be removed')
