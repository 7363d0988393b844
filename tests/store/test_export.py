"""The exporter, read back with openpyxl and the csv module: rows, order, text, safety, sheets, audit."""

from __future__ import annotations

import csv
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

import main
from store.engine.db import StoreError
from store.engine.timefmt import display
from store.read.events import EventFilter, Sort, Viewer, count_events, find_events, iter_events
from store.read.export import export_file_name, export_to_file
from tests.conftest import event, raw_sql, utc

BERLIN = ZoneInfo('Europe/Berlin')
Z_UTC = ZoneInfo('UTC')
HEADER = ['Timestamp (Europe/Berlin)', 'User', 'Scope', 'Category', 'Action', 'Target', 'Status', 'Description',
          'Workspace']
HOSTILE = ['=1+1', '+SUM(A1:A9)', '-2+3', '@SUM(A1)', '=HYPERLINK("http://evil.example","x")',
           "=cmd|' /C calc'!A0", 'DDE("cmd";"/C calc";"!A0")A0']


def read_xlsx(path: Path) -> dict[str, list[list[Any]]]:
    """Every sheet's rows as values (None for an empty cell)."""
    book = openpyxl.load_workbook(path)
    return {sheet.title: [[cell.value for cell in row] for row in sheet.iter_rows()] for sheet in book.worksheets}


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding='utf-8-sig', newline='') as handle:
        return list(csv.reader(handle))


def data_rows(path: Path) -> list[list[Any]]:
    """The data rows of an export of either format, header rows left out."""
    if path.suffix.lower() == '.csv':
        return read_csv(path)[1:]
    sheets = read_xlsx(path)
    return [row for name, rows in sheets.items() if name != 'Export' for row in rows[1:]]


def seed(add_events) -> None:
    """Thirty events over both workspaces and no workspace, every scope, both statuses, one DST night."""
    raws = []
    for i in range(30):
        scope, category = [('Service', 'AI Notebook'), ('Billing', 'Credit'), ('Organization', 'Member'),
                           ('Workspace', 'GPU Quota')][i % 4]
        raws.append(event(timestamp=f'2026-10-25T00:{i:02d}:30.{i * 33:03d}Z', user=f'user{i % 5}@acme.io',
                          scope=scope, category=category, action=f'Action {i % 3}', target=f'gpu-target-{i}',
                          status='FAILED' if i % 7 == 0 else 'SUCCESS', description=f'Did thing {i} on a GPU',
                          workspace=None if scope in ('Organization', 'Billing') and i % 8 == 1 else
                          ('alpha' if i % 2 else 'beta')))
    add_events(*raws)


FILTERS = [EventFilter(), EventFilter(scope='Billing'), EventFilter(search='gpu-target-1'),
           EventFilter(status='FAILED'), EventFilter(scope='Service', category='AI Notebook', search='thing'),
           EventFilter(since=utc(2026, 10, 25, 0, 10), until=utc(2026, 10, 25, 0, 20))]


@pytest.mark.parametrize('fmt', ['xlsx', 'csv'])
@pytest.mark.parametrize('role', ['owner', 'admin_a'])
def test_rows_are_exactly_the_view(add_events, accounts, tmp_path: Path, fmt: str, role: str) -> None:
    seed(add_events)
    viewer = accounts[role].viewer()
    for number, flt in enumerate(FILTERS):
        path = tmp_path / f'export-{number}.{fmt}'
        expected = [display_row(e, BERLIN) for e in iter_events(viewer, flt, Sort())]
        total = count_events(viewer, flt)
        assert total == find_events(viewer, flt).total == len(expected)
        assert export_to_file(path, viewer, flt, Sort(), 'tester', tz=BERLIN) == total
        assert [as_text(row) for row in data_rows(path)] == expected, flt


def display_row(e: dict[str, Any], tz: ZoneInfo) -> list[str]:
    return [display(e['timestamp'], tz), e['user'], e['scope'], e['category'], e['action'], e['target'],
            e['status'], e['description'], e['workspace'] or '']


def as_text(row: list[Any]) -> list[str]:
    """A read-back row as the page shows it: dates as `YYYY-MM-DD HH:mm:ss`, empty cells as ''."""
    return [value.strftime('%Y-%m-%d %H:%M:%S') if isinstance(value, datetime) else ('' if value is None else value)
            for value in row]


def test_admins_see_only_their_workspace_and_sort_is_kept(add_events, accounts, tmp_path: Path) -> None:
    seed(add_events)
    path = tmp_path / 'alpha.xlsx'
    sort = Sort('user', descending=False)
    expected = find_events(accounts['admin_a'].viewer(), EventFilter(), sort, limit=1000).events
    export_to_file(path, accounts['admin_a'].viewer(), EventFilter(), sort, 'admin-a@acme.io', tz=Z_UTC)
    rows = data_rows(path)
    assert {row[8] for row in rows} == {'alpha'}
    assert [row[1] for row in rows] == [e['user'] for e in expected] == sorted(e['user'] for e in expected)


def test_header_names_the_time_zone_and_times_are_shown_in_it(add_events, tmp_path: Path) -> None:
    add_events(event(timestamp='2026-10-25T00:30:00.999Z'), event(timestamp='2026-10-25T01:30:00Z'),
               event(timestamp='2026-07-01T12:00:00Z'))
    org, service = Viewer.organization(), EventFilter(scope='Service')  # not the record of the first export
    export_to_file(tmp_path / 'a.xlsx', org, service, Sort(), 'tester', tz=BERLIN)
    export_to_file(tmp_path / 'a.csv', org, service, Sort(), 'tester', tz=BERLIN)
    sheet = read_xlsx(tmp_path / 'a.xlsx')['Audit Logs']
    table = read_csv(tmp_path / 'a.csv')
    assert sheet[0] == HEADER and table[0] == HEADER
    # newest first; 02:30 summer time, then 02:30 winter time: the same wall clock an hour apart
    expected = ['2026-10-25 02:30:00', '2026-10-25 02:30:00', '2026-07-01 14:00:00']
    assert [row[0] for row in table[1:4]] == expected
    assert [row[0].strftime('%Y-%m-%d %H:%M:%S') for row in sheet[1:4]] == expected
    book = openpyxl.load_workbook(tmp_path / 'a.xlsx')
    assert book['Audit Logs']['A2'].number_format == 'yyyy-mm-dd hh:mm:ss'


def test_workbook_layout_and_export_sheet(add_events, accounts, tmp_path: Path) -> None:
    add_events(event(status='SUCCESS'), event(status='FAILED', workspace='alpha'))
    flt = EventFilter(scope='Service', search='notebook')
    export_to_file(tmp_path / 'a.xlsx', accounts['admin_a'].viewer(), flt, Sort(), 'admin-a@acme.io', tz=BERLIN)
    book = openpyxl.load_workbook(tmp_path / 'a.xlsx')
    assert book.sheetnames == ['Audit Logs', 'Export']
    sheet = book['Audit Logs']
    assert sheet.freeze_panes == 'A2'
    assert sheet.auto_filter.ref == 'A1:I3'
    assert all(cell.font.b for cell in sheet[1])
    statuses = {cell.value: cell.font.color.rgb for cell in sheet['G'][1:]}
    assert statuses == {'SUCCESS': 'FF15803D', 'FAILED': 'FFB91C1C'}
    assert 18 <= sheet.column_dimensions['A'].width <= 24
    info = {row[0]: row[1] for row in book['Export'].iter_rows(values_only=True) if row[0]}
    assert info['Exported by'] == 'admin-a@acme.io'
    assert info['Time zone'].startswith('Europe/Berlin')
    assert info['Filters'] == 'Search: notebook; Scope: Service'
    assert info['Visible to'] == 'workspaces alpha'
    assert info['Rows'] == '2'
    assert info['Exported at'].endswith('(Europe/Berlin)')


def test_hostile_text_stays_text_in_both_formats(add_events, tmp_path: Path) -> None:
    add_events(*[event(user='mallory@acme.io', action=text, target=text, description=text) for text in HOSTILE])
    add_events(event(action='=1+1', target='-', description='@', workspace='=alpha'))
    org, service = Viewer.organization(), EventFilter(scope='Service')  # not the record of the first export
    export_to_file(tmp_path / 'a.xlsx', org, service, Sort('timestamp', False), 'tester', tz=Z_UTC)
    export_to_file(tmp_path / 'a.csv', org, service, Sort('timestamp', False), 'tester', tz=Z_UTC)

    assert no_formulas(tmp_path / 'a.xlsx')
    rows = data_rows(tmp_path / 'a.xlsx')
    assert [row[4] for row in rows] == [*HOSTILE, '=1+1']
    assert [row[7] for row in rows] == [*HOSTILE, '@']
    assert rows[-1][8] == '=alpha'

    rows = data_rows(tmp_path / 'a.csv')
    assert [row[4] for row in rows] == [neutral(text) for text in [*HOSTILE, '=1+1']]
    assert [row[5] for row in rows[-1:]] == ["'-"] and rows[-1][8] == "'=alpha"
    assert rows[-1][1] == 'alice@acme.io'  # what does not look like a formula is untouched
    for row in rows:
        assert not any(cell.startswith(('=', '+', '-', '@', '\t', '\r')) for cell in row)


def neutral(text: str) -> str:
    return "'" + text if text[:1] in '=+-@\t\r' else text


def no_formulas(path: Path) -> bool:
    """Neither openpyxl nor the raw sheet XML sees a formula anywhere in the workbook."""
    book = openpyxl.load_workbook(path)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(name) for name in archive.namelist() if name.startswith('xl/worksheets/')]
    return all(cell.data_type != 'f' for cell in cells) and not any(b'<f>' in xml or b'<f ' in xml for xml in sheets)


def test_search_with_control_characters_in_the_export_sheet(add_events, tmp_path: Path) -> None:
    add_events(event())
    export_to_file(tmp_path / 'a.xlsx', Viewer.organization(), EventFilter(user='x\x07y'), Sort(), 'tester')
    info = {row[0]: row[1] for row in read_xlsx(tmp_path / 'a.xlsx')['Export'] if row[0]}
    assert info['Filters'] == 'User: x\ufffdy' and info['Rows'] == '0'


@pytest.mark.parametrize(('events', 'sheets'), [(7, [3, 3, 1]), (6, [3, 3]), (3, [3]), (1, [1])])
def test_rows_beyond_the_sheet_limit_continue_on_further_sheets(add_events, tmp_path: Path, events: int,
                                                                sheets: list[int]) -> None:
    add_events(*[event(timestamp=f'2026-10-01T08:00:{i:02d}Z', target=f't{i}') for i in range(events)])
    path = tmp_path / 'a.xlsx'
    written = export_to_file(path, Viewer.organization(), EventFilter(), Sort('timestamp', False), 'tester',
                             max_rows_per_sheet=3, chunk=2)
    assert written == events
    book = read_xlsx(path)
    names = ['Audit Logs', *[f'Audit Logs ({n})' for n in range(2, len(sheets) + 1)]]
    assert list(book) == [*names, 'Export']
    assert [len(book[name]) - 1 for name in names] == sheets
    assert all(book[name][0][0] == 'Timestamp (UTC)' for name in names)
    assert [row[5] for row in data_rows(path)] == [f't{i}' for i in range(events)]
    layout = openpyxl.load_workbook(path)
    assert [layout[name].auto_filter.ref for name in names] == [f'A1:I{n + 1}' for n in sheets]
    assert all(layout[name].freeze_panes == 'A2' for name in names)
    info = {row[0]: row[1] for row in book['Export'] if row[0]}
    assert info['Sheets'] == ', '.join(names) and info['Rows'] == str(events)


def test_chunks_and_shared_strings_do_not_change_the_rows(add_events, tmp_path: Path) -> None:
    seed(add_events)
    org = Viewer.organization()
    flt = EventFilter(search='thing')  # not the record of the first export
    export_to_file(tmp_path / 'big.xlsx', org, flt, Sort(), 'tester', tz=BERLIN)
    export_to_file(tmp_path / 'small.xlsx', org, flt, Sort(), 'tester', tz=BERLIN, chunk=4)
    assert data_rows(tmp_path / 'big.xlsx') == data_rows(tmp_path / 'small.xlsx')
    assert len(data_rows(tmp_path / 'big.xlsx')) == 30


@pytest.mark.parametrize('fmt', ['xlsx', 'csv'])
def test_an_empty_view_exports_just_the_header(add_events, accounts, tmp_path: Path, fmt: str) -> None:
    add_events(event(workspace='alpha'))
    path = tmp_path / f'empty.{fmt}'
    assert export_to_file(path, accounts['admin_b'].viewer(), EventFilter(), Sort(), 'admin-b@acme.io', tz=BERLIN) == 0
    if fmt == 'csv':
        assert read_csv(path) == [HEADER]
        assert path.read_bytes().startswith(b'\xef\xbb\xbf"Timestamp (Europe/Berlin)",')
    else:
        assert read_xlsx(path)['Audit Logs'] == [HEADER]


def test_csv_is_utf8_with_bom_and_quoted(add_events, tmp_path: Path) -> None:
    add_events(event(user='zoë@acme.io', description='Ångström, "quoted"\nsecond line'))
    path = tmp_path / 'a.csv'
    export_to_file(path, Viewer.organization(), EventFilter(), Sort(), 'tester', tz=Z_UTC)
    data = path.read_bytes()
    assert data.startswith('\ufeff"Timestamp (UTC)","User"'.encode())
    assert '"zoë@acme.io"'.encode() in data and data.endswith(b'\r\n')
    assert data_rows(path)[0][7] == 'Ångström, "quoted"\nsecond line'


@pytest.mark.parametrize('fmt', ['xlsx', 'csv'])
def test_the_export_is_recorded_where_the_exporter_can_see_it(add_events, accounts, tmp_path: Path, fmt) -> None:
    seed(add_events)
    admin = accounts['admin_a']
    flt = EventFilter(scope='Service')
    written = export_to_file(tmp_path / f'audit-logs-x.{fmt}', admin.viewer(), flt, Sort(), admin.email, tz=BERLIN)
    (record,) = find_events(admin.viewer(), EventFilter(search='Export Audit Logs')).events
    assert (record['user'], record['action'], record['target']) == (admin.email, 'Export Audit Logs',
                                                                   f'audit-logs-x.{fmt}')
    assert (record['scope'], record['category'], record['workspace']) == ('Organization', 'Member', 'alpha')
    assert record['metadata']['filters'] == {'scope': 'Service'}
    assert record['metadata']['rows'] == written and record['metadata']['format'] == fmt
    assert f'{written:,} events' in record['description']

    export_to_file(tmp_path / 'owner.csv', accounts['owner'].viewer(), EventFilter(), Sort(), 'owner@acme.io')
    owner_records = find_events(Viewer.organization(), EventFilter(search='Export Audit Logs')).events
    assert [(r['user'], r['workspace']) for r in owner_records] == [('owner@acme.io', None), (admin.email, 'alpha')]


def test_a_failed_export_leaves_no_file_and_no_record(add_events, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    add_events(*[event(target=f't{i}') for i in range(5)])
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(scratch))  # where XlsxWriter keeps its row data
    target = tmp_path / 'a.xlsx'
    target.write_bytes(b'the previous export')

    def stop(rows: int) -> None:
        raise RuntimeError('disk full')

    with pytest.raises(RuntimeError, match='disk full'):
        export_to_file(target, Viewer.organization(), EventFilter(), Sort(), 'tester', progress=stop, chunk=2)
    with pytest.raises(RuntimeError, match='disk full'):
        export_to_file(tmp_path / 'b.csv', Viewer.organization(), EventFilter(), Sort(), 'tester', progress=stop,
                       chunk=2)
    assert target.read_bytes() == b'the previous export'
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in ('.part', '.csv', '.xlsx')) == ['a.xlsx']
    assert raw_sql("SELECT count(*) FROM event WHERE action = 'Export Audit Logs'") == [(0,)]
    assert not list(scratch.iterdir())


def test_progress_reports_rows_written(add_events, tmp_path: Path) -> None:
    add_events(*[event(target=f't{i}') for i in range(5)])
    seen: list[int] = []
    export_to_file(tmp_path / 'a.xlsx', Viewer.organization(), EventFilter(), Sort(), 'tester', progress=seen.append,
                   chunk=2)
    assert seen == [2, 4, 5]


def test_bad_targets_are_clear_errors(tmp_path: Path) -> None:
    org = Viewer.organization()
    with pytest.raises(StoreError, match=r'must end in \.xlsx or \.csv'):
        export_to_file(tmp_path / 'a.txt', org, EventFilter(), Sort(), 'tester')
    with pytest.raises(StoreError, match='does not exist'):
        export_to_file(tmp_path / 'missing' / 'a.csv', org, EventFilter(), Sort(), 'tester')
    with pytest.raises(StoreError, match='cannot write'):
        (tmp_path / 'taken.csv').mkdir()
        export_to_file(tmp_path / 'taken.csv', org, EventFilter(), Sort(), 'tester')
    assert not list((tmp_path / 'taken.csv').iterdir())
    assert not [p for p in tmp_path.iterdir() if p.suffix == '.part']
    assert raw_sql("SELECT count(*) FROM event WHERE action = 'Export Audit Logs'") == [(0,)]


def test_file_name_uses_the_display_time_zone() -> None:
    moment = datetime(2026, 11, 25, 13, 30, 12, tzinfo=UTC)
    assert export_file_name('xlsx', moment, BERLIN) == 'audit-logs-2026-11-25-143012.xlsx'
    assert export_file_name('csv', moment, ZoneInfo('UTC')) == 'audit-logs-2026-11-25-133012.csv'


def test_command_line_export_picks_the_format_by_extension(add_events, database_url: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seed(add_events)
    monkeypatch.setenv('AUDIT_TIMEZONE', 'Europe/Berlin')
    expected = count_events(Viewer.organization(), EventFilter(scope='Billing'))
    for name in ('cli.xlsx', 'cli.CSV'):
        assert main.main(['--db', database_url, 'export', '--scope', 'Billing', '-o', str(tmp_path / name)]) == 0
        assert f'Wrote {expected:,} events' in capsys.readouterr().out
        assert len(data_rows(tmp_path / name)) == expected
    assert read_csv(tmp_path / 'cli.CSV')[0][0] == 'Timestamp (Europe/Berlin)'
    records = find_events(Viewer.organization(), EventFilter(search='Export Audit Logs')).events
    assert [r['user'] for r in records] == ['command line', 'command line']
    assert main.main(['--db', database_url, 'export', '-o', str(tmp_path / 'cli.pdf')]) == 1
    assert 'must end in .xlsx or .csv' in capsys.readouterr().err
