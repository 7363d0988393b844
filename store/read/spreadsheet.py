"""Rows to a CSV file or an Excel workbook: pandas shapes each chunk, the file is streamed.

Each chunk of rows becomes a DataFrame whose columns are converted (time zone, Excel serial dates), cleaned
(characters XML forbids) and neutralised (CSV formula prefixes). CSV chunks are appended with
`DataFrame.to_csv`. Workbooks are written with XlsxWriter in constant_memory mode, but XlsxWriter's per-cell
API costs ~6 us a cell (6 s for 100k rows), so the data rows are rendered as SpreadsheetML from the cleaned
columns and appended to the sheet's row stream; the header, styles, panes, autofilter, widths and the
workbook itself are XlsxWriter's. Memory holds one chunk. Nothing here reads the database
(store/read/export.py does).
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import xlsxwriter

from store.engine.timefmt import DISPLAY_FORMAT
from store.read.events import Sort
from store.read.query import EventFilter, Viewer

# The table's columns, then Workspace (owners see many). Not the event id: random hex, it was a third of the
# compressed workbook and ~10% of the export time, and the id is one click away in the page.
FIELDS = ('timestamp', 'user', 'scope', 'category', 'action', 'target', 'status', 'description', 'workspace')
HEADERS = ('Timestamp', 'User', 'Scope', 'Category', 'Action', 'Target', 'Status', 'Description', 'Workspace')
TEXT_FIELDS = FIELDS[1:]
EXCEL_MAX_ROWS = 1_048_575  # data rows per sheet: Excel's 1,048,576 rows less the header
CHUNK = 5_000  # rows per DataFrame: 10,000 measured +20 MiB peak for no speed
SHEET_NAME = 'Audit Logs'
INFO_SHEET_NAME = 'Export'

# XML 1.0 forbids these (tab, LF and CR are allowed); they become U+FFFD in both formats.
FORBIDDEN = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
FORMULA_START = ('=', '+', '-', '@', '\t', '\r')  # OWASP's list of cell starts a spreadsheet may evaluate
EXCEL_ESCAPE = re.compile(r'_(x[0-9A-Fa-f]{4}_)')  # Excel reads _xHHHH_ as a character; keep it literal
XML_SPACE = (' ', '\t', '\n')
EDGE_SPACE = tuple(f'\x00{c}' for c in XML_SPACE) + tuple(f'{c}\x00' for c in XML_SPACE)
EXCEL_EPOCH = pd.Timestamp('1899-12-30')
COLUMN_LETTERS = 'ABCDEFGHI'
SHARED_FIELDS = frozenset({'user', 'scope', 'category', 'action', 'status', 'workspace'})  # few distinct values
MAX_SHARED_STRINGS = 50_000  # bounds the shared-string table's memory; further values are written inline
WIDTHS = {'timestamp': (20, 20), 'description': (30, 80)}  # (min, max) characters
DEFAULT_WIDTH = (10, 40)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ExportInfo:
    """What the workbook's Export sheet states about the export."""

    exported_by: str
    exported_at: datetime
    viewer: Viewer
    flt: EventFilter
    sort: Sort


def write_csv(rows: Iterable[dict[str, Any]], path: Path, tz: ZoneInfo, *, progress: Progress | None = None,
              chunk: int = CHUNK) -> int:
    """UTF-8 with a byte order mark (so Excel reads accents right), every cell quoted, formulas neutralised."""
    count = 0
    with open(path, 'w', encoding='utf-8-sig', newline='') as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator='\r\n').writerow(_headers(tz))
        for frame in frames(rows, tz, chunk):
            table = pd.DataFrame({'timestamp': frame['local'].dt.strftime(DISPLAY_FORMAT)})
            for field in TEXT_FIELDS:
                table[field] = neutralise_formulas(frame[field])
            table.to_csv(handle, header=False, index=False, quoting=csv.QUOTE_ALL, lineterminator='\r\n')
            count += len(frame)
            if progress:
                progress(count)
    return count


def write_xlsx(rows: Iterable[dict[str, Any]], path: Path, tz: ZoneInfo, info: ExportInfo, *,
               max_rows_per_sheet: int = EXCEL_MAX_ROWS, progress: Progress | None = None,
               chunk: int = CHUNK) -> int:
    """A workbook of one or more data sheets (bold frozen header, autofilter) and an Export sheet."""
    if not 1 <= max_rows_per_sheet <= EXCEL_MAX_ROWS:
        raise ValueError(f'max_rows_per_sheet must be between 1 and {EXCEL_MAX_ROWS:,}')
    with tempfile.TemporaryDirectory(prefix='audit-export-') as scratch:
        workbook = xlsxwriter.Workbook(str(path), {
            'constant_memory': True, 'tmpdir': scratch, 'strings_to_formulas': False, 'strings_to_numbers': False,
            'strings_to_urls': False})
        book = _Book(workbook, _headers(tz), max_rows_per_sheet)
        count = 0
        for frame in frames(rows, tz, chunk):
            book.append(frame)
            count += len(frame)
            if progress:
                progress(count)
        book.finish()
        _write_info_sheet(workbook, info, tz, count, book.sheet_names)
        workbook.close()
    return count


def frames(rows: Iterable[dict[str, Any]], tz: ZoneInfo, chunk: int = CHUNK) -> Iterator[pd.DataFrame]:
    """Chunks of events as DataFrames: `local` (naive time in `tz`, whole seconds) and cleaned text columns."""
    iterator = iter(rows)
    while batch := list(islice(iterator, chunk)):
        frame = pd.DataFrame.from_records(batch, columns=FIELDS)
        del batch
        stamps = pd.to_datetime(frame.pop('timestamp'), utc=True)
        frame.insert(0, 'local', stamps.dt.tz_convert(tz).dt.tz_localize(None).dt.floor('s'))
        for field in TEXT_FIELDS:
            frame[field] = clean_text(frame[field])
        yield frame


def clean_text(column: pd.Series) -> pd.Series:
    """Missing values become empty strings; characters XML forbids become U+FFFD."""
    column = column.fillna('').astype(str)
    joined = ' '.join(column.tolist())
    if not joined.isprintable() and FORBIDDEN.search(joined):  # isprintable: a fast pass for the usual case
        column = column.str.replace(FORBIDDEN, '\ufffd', regex=True)
    return column


def neutralise_formulas(column: pd.Series) -> pd.Series:
    """OWASP: a cell that starts like a formula gets a leading apostrophe, so spreadsheets show it as text."""
    dangerous = column.str.startswith(FORMULA_START)
    if not dangerous.any():
        return column
    return column.where(~dangerous, "'" + column)


def _headers(tz: ZoneInfo) -> list[str]:
    return [f'Timestamp ({tz.key})', *HEADERS[1:]]


class _Book:
    """Data sheets of a constant_memory workbook, filled a chunk at a time and split at the row limit.

    Uses XlsxWriter internals that constant_memory mode relies on itself: the sheet's row stream `fh`,
    `_write_single_row` (flush the header row), `_check_dimensions`, `Format._get_xf_index` and the
    workbook's shared-string table `str_table`; tests read every file back, so a change there shows.
    """

    def __init__(self, workbook: xlsxwriter.Workbook, headers: list[str], max_rows: int) -> None:
        self.workbook = workbook
        self.headers = headers
        self.max_rows = max_rows
        self.sheets: list[Any] = []
        self.sheet_names: list[str] = []
        self.rows_in_sheet = 0
        self.widths: list[float] | None = None
        self.bold = workbook.add_format({'bold': True, 'bg_color': '#E2E8F0', 'bottom': 1})
        self.date = workbook.add_format({'num_format': 'yyyy-mm-dd hh:mm:ss', 'align': 'left'})
        self.status = {'SUCCESS': workbook.add_format({'font_color': '#15803D', 'bold': True}),
                       'FAILED': workbook.add_format({'font_color': '#B91C1C', 'bold': True})}
        self._new_sheet()

    def append(self, frame: pd.DataFrame) -> None:
        if self.widths is None:
            self.widths = _column_widths(frame, self.headers)
        start = 0
        while start < len(frame):
            if self.rows_in_sheet == self.max_rows:
                self._close_sheet()
                self._new_sheet()
            part = frame.iloc[start:start + self.max_rows - self.rows_in_sheet]
            self.sheets[-1].fh.write(self._render(part, self.rows_in_sheet + 2))
            self.rows_in_sheet += len(part)
            self.sheets[-1]._check_dimensions(self.rows_in_sheet, len(self.headers) - 1)
            self.sheets[-1].previous_row = self.rows_in_sheet
            start += len(part)

    def finish(self) -> None:
        self._close_sheet()
        widths = self.widths or [min(max(len(h) + 3, lo), hi) for h, (lo, hi) in
                                 zip(self.headers, [WIDTHS.get(f, DEFAULT_WIDTH) for f in FIELDS], strict=True)]
        for sheet in self.sheets:
            for col, width in enumerate(widths):
                sheet.set_column(col, col, width)

    def _new_sheet(self) -> None:
        name = SHEET_NAME if not self.sheets else f'{SHEET_NAME} ({len(self.sheets) + 1})'
        sheet = self.workbook.add_worksheet(name)
        sheet.write_row(0, 0, self.headers, self.bold)
        sheet._write_single_row(1)  # flush the header row to the row stream before appending rendered rows
        sheet.freeze_panes(1, 0)
        self.sheets.append(sheet)
        self.sheet_names.append(name)
        self.rows_in_sheet = 0

    def _close_sheet(self) -> None:
        self.sheets[-1].autofilter(0, 0, self.rows_in_sheet, len(self.headers) - 1)

    def _render(self, part: pd.DataFrame, first_row: int) -> str:
        """SpreadsheetML <row> elements for `part`, the first numbered `first_row` (1-based)."""
        serials = ((part['local'] - EXCEL_EPOCH) // pd.Timedelta(seconds=1) / 86400).astype(str).tolist()
        tails = [self._tails(field, part[field].tolist()) for field in TEXT_FIELDS]
        row = (f'<row r="{{0}}"><c r="A{{0}}" s="{self.date._get_xf_index()}"><v>{{1}}</v></c>'
               + ''.join(f'<c r="{letter}{{0}}"{{{i}}}' for i, letter in enumerate(COLUMN_LETTERS[1:], start=2))
               + '</row>').format
        return ''.join([row(*cells) for cells in zip(range(first_row, first_row + len(part)), serials, *tails,
                                                     strict=True)])

    def _tails(self, field: str, values: list[str]) -> list[str]:
        """Each cell of a column after its `<c r="B2"`: repeated values as shared strings (a smaller file),
        others inline, empty ones empty."""
        styles = {v: f' s="{fmt._get_xf_index()}"' for v, fmt in self.status.items()} if field == 'status' else {}
        shared = self._shared(values) if field in SHARED_FIELDS else {}
        inline = [v for v in dict.fromkeys(values) if v and v not in shared]
        escaped = dict(zip(inline, _xml_text(inline), strict=True))
        preserve = ' xml:space="preserve"' if _edge_space(list(escaped.values())) else ''
        tail = {'': '/>'}
        tail.update({v: f'{styles.get(v, "")} t="s"><v>{index}</v></c>' for v, index in shared.items()})
        tail.update({v: f'{styles.get(v, "")} t="inlineStr"><is><t{preserve}>{text}</t></is></c>'
                     for v, text in escaped.items()})
        return [tail[v] for v in values]

    def _shared(self, values: list[str]) -> dict[str, int]:
        """Indexes in the workbook's shared-string table, which stops growing at MAX_SHARED_STRINGS."""
        table = self.workbook.str_table
        indexes = {}
        for value, uses in Counter(values).items():
            if value and (value in table.string_table or table.unique_count < MAX_SHARED_STRINGS):
                indexes[value] = table._get_shared_string_index(value)
                table.count += uses - 1
        return indexes


def _xml_text(values: list[str]) -> list[str]:
    """Escape for XML text, a whole column at once (values hold no NUL after `clean_text`, so it separates)."""
    if not values:
        return []
    joined = '\x00'.join(values)
    escaped = joined.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('\r', '&#13;')
    if '_x' in escaped:
        escaped = EXCEL_ESCAPE.sub(r'_x005F_\1', escaped)
    return escaped.split('\x00')


def _edge_space(values: list[str]) -> bool:
    """Does any value start or end with whitespace (which XML readers drop unless told to keep it)?"""
    joined = '\x00' + '\x00'.join(values) + '\x00'
    return any(pair in joined for pair in EDGE_SPACE)


def _column_widths(frame: pd.DataFrame, headers: list[str]) -> list[float]:
    """Widths from the first chunk: most values fit, within bounds per column."""
    widths = []
    for field, header in zip(FIELDS, headers, strict=True):
        low, high = WIDTHS.get(field, DEFAULT_WIDTH)
        typical = 0 if field == 'timestamp' else float(frame[field].str.len().quantile(0.9))
        widths.append(min(max(typical + 2, len(header) + 3, low), high))
    return widths


def _write_info_sheet(workbook: xlsxwriter.Workbook, info: ExportInfo, tz: ZoneInfo, count: int,
                      sheet_names: list[str]) -> None:
    sheet = workbook.add_worksheet(INFO_SHEET_NAME)
    bold = workbook.add_format({'bold': True})
    lines = export_summary(info, tz, count) + [('Sheets', ', '.join(sheet_names))]
    sheet.write_string(0, 0, 'Audit Logs export', workbook.add_format({'bold': True, 'font_size': 14}))
    for row, (label, value) in enumerate(lines, start=2):
        sheet.write_string(row, 0, label, bold)
        sheet.write_string(row, 1, FORBIDDEN.sub('\ufffd', value))
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 60)


def export_summary(info: ExportInfo, tz: ZoneInfo, count: int) -> list[tuple[str, str]]:
    """Who exported what, when, in which time zone: the Export sheet's lines."""
    seen = 'the whole organization' if info.viewer.is_organization else \
        'workspaces ' + ', '.join(sorted(info.viewer.workspaces or ()))
    filters = info.flt.active()
    return [
        ('Exported by', info.exported_by),
        ('Exported at', f'{info.exported_at.astimezone(tz):{DISPLAY_FORMAT}} ({tz.key})'),
        ('Time zone', f'{tz.key}: every timestamp in this workbook is in this zone'),
        ('Visible to', seen),
        ('Filters', '; '.join(f'{k.title()}: {v}' for k, v in filters.items()) or 'none (all events)'),
        ('Sort', f'{info.sort.column.title()}, {"descending" if info.sort.descending else "ascending"}'),
        ('Rows', f'{count:,}'),
    ]
