"""Importing a JSON Lines or CSV file of events: all of it, or nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from store.engine.db import StoreError
from store.ledger.validation import FIELDS, NewEvent, ValidationError, validate_event
from store.write.ingest import AppendResult, append_events


class ImportError_(StoreError):
    """A file that cannot be imported; names the line and, where it applies, the field."""


def _jsonl(handle) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportError_(f'line {number}: not valid JSON ({exc.msg})') from None


def _csv(handle) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        raise ImportError_(f'line 1: column {unknown[0]!r} is not a field of an event '
                           f'(fields are {", ".join(FIELDS)})')
    for row in reader:
        if None in row:
            raise ImportError_(f'line {reader.line_num}: more cells than columns')
        yield reader.line_num, {k: v for k, v in row.items() if v not in (None, '')}


def file_rows(path: Path) -> Iterator[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix not in {'.jsonl', '.ndjson', '.json', '.csv'}:
        raise ImportError_(f'{path.name}: expected a .jsonl (JSON Lines) or .csv file')
    try:
        with path.open(encoding='utf-8-sig', newline='') as handle:
            yield from (_csv(handle) if suffix == '.csv' else _jsonl(handle))
    except UnicodeDecodeError:
        raise ImportError_(f'{path.name}: not UTF-8 text') from None
    except csv.Error as exc:
        raise ImportError_(f'{path.name}: {exc}') from None


def import_file(path: str | Path, progress: Callable[[int], None] | None = None) -> AppendResult:
    """Validate and store every event of the file in one transaction; on any error store none."""
    path = Path(path)
    if not path.is_file():
        raise ImportError_(f'{path}: no such file')

    def checked() -> Iterator[NewEvent]:
        for count, (number, raw) in enumerate(file_rows(path), start=1):
            try:
                yield validate_event(raw)
            except ValidationError as exc:
                raise ImportError_(f'line {number}: {exc.field}: {exc.message}') from None
            if progress and count % 10_000 == 0:
                progress(count)

    return append_events(checked())
