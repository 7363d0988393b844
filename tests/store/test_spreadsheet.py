"""Rows written to .xlsx and .csv by store/read/spreadsheet.py come out safe and whole, whatever their text."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl

from store.read.events import EventFilter, Sort, Viewer
from store.read.spreadsheet import ExportInfo, write_csv, write_xlsx
from tests.store.test_export import Z_UTC, data_rows, neutral, no_formulas


def test_text_a_validated_event_cannot_hold_is_neutralised_too(tmp_path: Path) -> None:
    """Rows that never passed validation (leading tab or CR, spaces kept, NUL) still come out safe and whole."""
    texts = ['\t=1+1', '\r=1+1', '  padded  ', 'line one\r\nline two', '<b>&amp;</b>', '_x0041_ stays', 'A_x00',
             'Zoë Ångström — 東京', 'nul\x00 here']
    shown = [*texts[:-1], 'nul\ufffd here']
    rows = [raw_row(i, text) for i, text in enumerate(texts)]
    info = ExportInfo('tester', datetime.now(UTC), Viewer.organization(), EventFilter(), Sort())
    assert write_xlsx(iter(rows), tmp_path / 'a.xlsx', Z_UTC, info) == len(texts)
    assert write_csv(iter(rows), tmp_path / 'a.csv', Z_UTC) == len(texts)
    assert no_formulas(tmp_path / 'a.xlsx')
    # Excel reads "_xHHHH_" as one character, so a literal one is written "_x005F_xHHHH_"; openpyxl decodes
    # that only when reading rich text
    book = openpyxl.load_workbook(tmp_path / 'a.xlsx', rich_text=True)
    assert [str(row[7].value) for row in book['Audit Logs'].iter_rows(min_row=2)] == shown
    with zipfile.ZipFile(tmp_path / 'a.xlsx') as archive:
        assert b'_x005F_x0041_ stays' in archive.read('xl/worksheets/sheet1.xml')
    assert [row[7] for row in data_rows(tmp_path / 'a.csv')] == [neutral(text) for text in shown]


def raw_row(i: int, description: str, **fields: Any) -> dict[str, Any]:
    return {'timestamp': datetime(2026, 10, 1, 8, i, tzinfo=UTC), 'user': 'u@acme.io', 'scope': 'Service',
            'category': 'AI Notebook', 'action': 'Start Notebook', 'target': 'nb', 'status': 'SUCCESS',
            'description': description, 'workspace': None, **fields}


def test_control_characters_never_break_the_file(tmp_path: Path) -> None:
    """The store refuses control characters now; rows written before that (or by hand) still export whole."""
    nasty = 'bell\x07 esc\x1b vt\x0b ff\x0c nonchar\uffff end'
    rows = [raw_row(0, nasty, target='t\x01t', user='ctl\x02@acme.io')]
    info = ExportInfo('tester', datetime.now(UTC), Viewer.organization(), EventFilter(), Sort())
    assert write_xlsx(iter(rows), tmp_path / 'a.xlsx', Z_UTC, info) == 1
    assert write_csv(iter(rows), tmp_path / 'a.csv', Z_UTC) == 1
    for path in (tmp_path / 'a.xlsx', tmp_path / 'a.csv'):
        (row,) = data_rows(path)
        assert row[7] == 'bell\ufffd esc\ufffd vt\ufffd ff\ufffd nonchar\ufffd end'
        assert row[5] == 't\ufffdt' and row[1] == 'ctl\ufffd@acme.io'
