"""Export in Debian's Chromium against `python main.py serve`: the browser really downloads both files."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from store.read.events import EventFilter, Viewer, count_events
from tests.browser.conftest import Server, log_in, start_server, stop_server
from tests.conftest import OWNER, event

FILE_NAME = re.compile(r'audit-logs-\d{4}-\d{2}-\d{2}-\d{6}\.(xlsx|csv)')


@pytest.fixture
def berlin_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(database_url, tmp_path / 'server.log', {'AUDIT_TIMEZONE': 'Europe/Berlin'})
    yield running
    stop_server(running)


def test_export_downloads_the_filtered_view_in_both_formats(accounts, add_events, berlin_server, page: Page,
                                                             tmp_path: Path) -> None:
    add_events(*[event(scope='Billing', category='Credit', action='Add Credit', target=f'=cr-{i}',
                       timestamp=f'2026-10-01T08:{i:02d}:00Z', workspace=None) for i in range(60)],
               *[event(target=f'nb-{i}') for i in range(25)])
    expected = count_events(Viewer.organization(), EventFilter(scope='Billing'))
    log_in(page, berlin_server, *OWNER, path='/audit-logs?scope=Billing')
    expect(page.locator('.q-table__bottom')).to_contain_text(f'of {expected}')  # more than one page of rows

    for label, kind in (('Excel (.xlsx)', 'xlsx'), ('CSV (.csv)', 'csv')):
        page.get_by_role('button', name='Export').click()
        expect(page.get_by_text(f'{expected} events: the current filters')).to_be_visible()
        with page.expect_download(timeout=30_000) as info:
            page.get_by_role('button', name=label).click()
        download = info.value
        assert FILE_NAME.fullmatch(download.suggested_filename) and download.suggested_filename.endswith(kind)
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        expect(page.get_by_text(f'Exported {expected} events to {download.suggested_filename}')).to_be_visible()
        if kind == 'xlsx':
            rows = [[cell.value for cell in row] for row in openpyxl.load_workbook(path)['Audit Logs'].iter_rows()]
        else:
            with open(path, encoding='utf-8-sig', newline='') as handle:
                rows = list(csv.reader(handle))
        assert rows[0][0] == 'Timestamp (Europe/Berlin)'
        assert len(rows) - 1 == expected == 60
        assert {row[2] for row in rows[1:]} == {'Billing'}
        targets = [row[5] for row in rows[1:]]
        assert targets[0] == ('=cr-59' if kind == 'xlsx' else "'=cr-59")  # newest first, never a formula
