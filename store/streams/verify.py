"""`verify --copy`: checks a copy of a stream held elsewhere (a file stream, or a SIEM's JSON Lines export) against
the store: every event's hash equal to the stored one at the same position, no gap in the chain of
`previous_position`s, and (given the stream) every event the stream acknowledged present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from store.engine.db import StoreError
from store.read.events import EventFilter, Viewer, events_after
from store.streams.registry import Stream

CHUNK = 5000
SHOWN = 5  # problems of each kind named in the summary
TEST_PREFIX = 'test-'  # the Send test button's synthetic events (store/streams/delivery.py) are not in the log


@dataclass(frozen=True)
class CopiedEvent:
    id: str
    hash: str
    position: int
    previous_position: int | None
    line: int


@dataclass
class CopyReport:
    lines: int = 0
    events: int = 0
    duplicates: int = 0
    test_events: int = 0
    unknown: list[str] = field(default_factory=list)  # not stored at that position with that id
    altered: list[str] = field(default_factory=list)  # stored, but the hash differs
    gaps: list[str] = field(default_factory=list)  # previous_position does not name the event before
    missing: list[str] = field(default_factory=list)  # acknowledged by the stream, absent from the copy

    @property
    def ok(self) -> bool:
        return not (self.unknown or self.altered or self.gaps or self.missing)

    def summary(self) -> str:
        lines = [f'{self.events:,} events checked ({self.duplicates:,} duplicate lines, '
                 f'{self.test_events:,} test events skipped)']
        for label, found in (('not in the store', self.unknown), ('hash differs from the store', self.altered),
                             ('gap', self.gaps), ('missing from the copy', self.missing)):
            if found:
                shown = '; '.join(found[:SHOWN]) + (f'; … {len(found) - SHOWN:,} more' if len(found) > SHOWN else '')
                lines.append(f'{len(found):,} {label}: {shown}')
        lines.append('OK: the copy matches the store' if self.ok else 'FAILED: the copy does not match the store')
        return '\n'.join(lines)


def _fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The id, hash and positions of a line in the API's JSON or in OCSF (kept under `unmapped`)."""
    return obj['unmapped'] if 'class_uid' in obj and isinstance(obj.get('unmapped'), dict) else obj


def read_copy(path: Path, report: CopyReport) -> list[CopiedEvent]:
    """The copy's events by position, each id once (a receiver may hold a batch twice: at least once)."""
    seen: dict[str, CopiedEvent] = {}
    try:
        handle = path.open(encoding='utf-8')
    except OSError as exc:
        raise StoreError(f'cannot read {path}: {exc.strerror or exc}') from None
    with handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            report.lines += 1
            try:
                obj = _fields(json.loads(text))
                copied = CopiedEvent(str(obj['id']), str(obj['hash']), int(obj['position']),
                                     None if obj.get('previous_position') is None else int(obj['previous_position']),
                                     number)
            except (ValueError, KeyError, TypeError) as exc:
                raise StoreError(f'{path} line {number}: not an event a stream delivered ({exc})') from None
            if copied.id.startswith(TEST_PREFIX) and copied.position == 0:
                report.test_events += 1
            elif copied.id in seen:
                report.duplicates += 1
            else:
                seen[copied.id] = copied
    return sorted(seen.values(), key=lambda c: c.position)


def verify_copy(path: Path, stream: Stream | None = None) -> CopyReport:
    report = CopyReport()
    copied = read_copy(path, report)
    report.events = len(copied)
    if not copied:
        return report
    by_position = {c.position: c for c in copied}
    first, last = copied[0].position, copied[-1].position
    stored = _stored(Viewer.organization('verify --copy'), EventFilter(), first - 1, last)
    for c in copied:
        event = stored.get(c.position)
        if event is None or event['id'] != c.id:
            report.unknown.append(f'{c.id} at position {c.position} (line {c.line})')
        elif event['hash'] != c.hash:
            report.altered.append(f'{c.id} at position {c.position} (line {c.line})')
    for before, after in zip(copied, copied[1:], strict=False):
        if after.previous_position is not None and after.previous_position != before.position:
            report.gaps.append(f'before {after.id} at position {after.position}: the copy goes from position '
                               f'{before.position}, the stream delivered {after.previous_position} before it')
    if stream is not None:
        expected = _stored(stream.viewer(), stream.filter, first - 1, max(last, stream.position))
        report.missing = [f'{e["id"]} at position {seq}' for seq, e in expected.items()
                          if seq not in by_position and seq <= stream.position]
    return report


def _stored(viewer: Viewer, flt: EventFilter, after: int, upto: int) -> dict[int, dict[str, str]]:
    """The ids and hashes of the view's events at positions (after, upto], by position."""
    found: dict[int, dict[str, str]] = {}
    while rows := events_after(viewer, flt, after, CHUNK, upto):
        found.update((row['seq'], {'id': row['id'], 'hash': row['hash']}) for row in rows)
        after = rows[-1]['seq']
    return found
