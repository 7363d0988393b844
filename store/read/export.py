"""Exporting a view's events to Excel (.xlsx) or CSV: the file appears whole, or not at all, and is recorded.

Rows come from the read planner, as the page's do: `store.read.events.iter_events` reads the view's pages to
the end, a chunk each, every one continuing after the last event of the one before among the events stored
when the export began (events arriving meanwhile are left out). store/read/spreadsheet.py writes them; memory
holds one chunk.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from xlsxwriter.exceptions import XlsxFileError

from store.engine import settings
from store.engine.db import StoreError, database, is_sqlite, write_transaction
from store.engine.timefmt import zone
from store.read.events import EventFilter, Sort, Viewer, iter_events
from store.read.spreadsheet import (
    CHUNK,
    EXCEL_MAX_ROWS,
    ExportInfo,
    Progress,
    write_csv,
    write_xlsx,
)
from store.write import self_audit

FORMATS = {'.xlsx': 'xlsx', '.csv': 'csv'}
MEDIA_TYPES = {'xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
               'csv': 'text/csv; charset=utf-8'}
EXPORT_PAGE_CACHE = -2048  # KiB, as SQLite's PRAGMA cache_size reads a negative number


def export_format(path: Path | str) -> str:
    """'xlsx' or 'csv' from the file's extension, or a clear error."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise StoreError(f'cannot export to {Path(path).name!r}: the file name must end in .xlsx or .csv')
    return fmt


def export_file_name(fmt: str, now: datetime, tz: ZoneInfo) -> str:
    """`audit-logs-2026-11-25-143012.xlsx`, the moment in the display time zone."""
    return f'audit-logs-{now.astimezone(tz):%Y-%m-%d-%H%M%S}.{fmt}'


def export_to_file(path: Path, viewer: Viewer, flt: EventFilter, sort: Sort, exported_by: str, *,
                   tz: ZoneInfo | None = None, progress: Progress | None = None,
                   max_rows_per_sheet: int = EXCEL_MAX_ROWS, chunk: int = CHUNK) -> int:
    """Write the events `viewer` sees through `flt`, in `sort` order, to `path`; return how many.

    The file appears at `path` only when complete and recorded as an event; a failed export leaves nothing.
    """
    path = Path(path)
    fmt = export_format(path)
    tz = tz or zone(settings.DISPLAY_TIMEZONE.value())
    if not path.parent.is_dir():
        raise StoreError(f'cannot write {path}: the folder {path.parent} does not exist')
    info = ExportInfo(exported_by, datetime.now(UTC), viewer, flt, sort)
    rows = iter_events(viewer, flt, sort, chunk=chunk)
    try:
        with _small_page_cache(), _partial_file(path) as partial:
            if fmt == 'xlsx':
                count = write_xlsx(rows, partial, tz, info, max_rows_per_sheet=max_rows_per_sheet,
                                   progress=progress, chunk=chunk)
            else:
                count = write_csv(rows, partial, tz, progress=progress, chunk=chunk)
            with write_transaction():  # the record and the finished file: both or neither
                _record(info, path.name, fmt, count)
                os.replace(partial, path)
    except (OSError, XlsxFileError) as exc:
        raise StoreError(f'cannot write {path}: {getattr(exc, "strerror", None) or exc}') from None
    finally:
        rows.close()
    return count


def _record(info: ExportInfo, file_name: str, fmt: str, count: int) -> None:
    """Self-audit: an admin's export is recorded in one of their workspaces so they see it themselves."""
    workspace = None
    if not info.viewer.is_organization:
        names = sorted(info.viewer.workspaces or ())
        workspace = info.flt.workspace if info.flt.workspace in names else (names[0] if names else None)
    self_audit.record(info.exported_by, 'Export Audit Logs', file_name,
                      f'Exported {count:,} events to {file_name}', workspace=workspace,
                      metadata={'filters': info.flt.active(), 'rows': count, 'format': fmt,
                                'sort': {'column': info.sort.column, 'descending': info.sort.descending}})


@contextmanager
def _small_page_cache() -> Iterator[None]:
    """A one-pass read gains nothing from SQLite's 64 MiB page cache but would fill it: 2 MiB while exporting."""
    if not is_sqlite():
        yield
        return
    previous = database.execute_sql('PRAGMA cache_size').fetchone()[0]
    database.execute_sql(f'PRAGMA cache_size = {EXPORT_PAGE_CACHE}')
    try:
        yield
    finally:
        database.execute_sql(f'PRAGMA cache_size = {int(previous)}')


@contextmanager
def _partial_file(path: Path) -> Iterator[Path]:
    """A file beside `path` to write into; whatever is left of it afterwards is removed."""
    handle, name = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.part', dir=path.parent)
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)
