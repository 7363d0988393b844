"""Turning an incoming event (JSON object or CSV row) into a checked event, or a clear refusal."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from store import taxonomy

FIELDS = ('id', 'timestamp', 'user', 'scope', 'category', 'action', 'target', 'status', 'description',
          'workspace', 'metadata')
REQUIRED = ('user', 'scope', 'category', 'action')
STATUSES = ('SUCCESS', 'FAILED')

MAX_LENGTH = {
    'id': 128, 'user': 320, 'scope': 40, 'category': 100, 'status': 20, 'action': 200, 'target': 500,
    'description': 4000, 'workspace': 100, 'timestamp': 64,
}
MAX_METADATA_BYTES = 16 * 1024
ALLOWED_CONTROL = '\t\n\r'  # other control characters (NUL above all) are refused
_CONTROL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')
_FIELD_SET = frozenset(FIELDS)
METADATA_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)  # the stored (and hashed) form
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


class ValidationError(ValueError):
    """An event that cannot be stored; names the field and, in a batch, the event's index."""

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.index = index

    def at(self, index: int) -> ValidationError:
        return ValidationError(self.field, self.message, index)

    def __str__(self) -> str:
        where = f'event {self.index}: ' if self.index is not None else ''
        return f'{where}{self.field}: {self.message}'


@dataclass(slots=True)
class NewEvent:
    id: str | None
    timestamp: datetime
    user: str
    scope: str
    category: str
    action: str
    target: str
    status: str
    description: str
    workspace: str | None
    metadata: dict[str, Any] | None
    metadata_json: str | None = None  # METADATA_ENCODER's text of metadata, when validation made it


def parse_timestamp(value: Any, field: str = 'timestamp') -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; one without a zone is read as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_LENGTH['timestamp']:
            raise ValidationError(field, 'expected an ISO 8601 timestamp such as 2026-10-01T08:00:00Z')
        try:
            parsed = datetime.fromisoformat(text.replace(' ', 'T', 1) if 'T' not in text else text)
        except ValueError:
            raise ValidationError(field, f'{value!r} is not an ISO 8601 timestamp') from None
    else:
        raise ValidationError(field, 'expected an ISO 8601 timestamp string')
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if parsed < EARLIEST:
        raise ValidationError(field, 'is before 1970')
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def _text(raw: dict[str, Any], field: str, *, required: bool) -> str | None:
    """The stripped text of a field (None when optional and empty), its length checked.

    Control characters are checked once per event, over all its texts, in `validate_event`.
    """
    value = raw.get(field)
    if value.__class__ is not str:
        if value is None:
            if required:
                raise ValidationError(field, 'is required')
            return None
        if not isinstance(value, str):
            raise ValidationError(field, f'must be a string, not {type(value).__name__}')
    value = value.strip()
    if not value:
        if required:
            raise ValidationError(field, 'is required')
        return None
    if len(value) > MAX_LENGTH[field]:
        raise ValidationError(field, f'is longer than {MAX_LENGTH[field]} characters')
    return value


def _refuse_control(texts: dict[str, str | None]) -> None:
    """Refuse the first field holding a control character (one search over all texts in the usual case)."""
    if _CONTROL.search('\t'.join(text for text in texts.values() if text)) is None:
        return
    for field, text in texts.items():
        bad = _CONTROL.search(text) if text else None
        if bad is not None:
            raise ValidationError(field, f'contains the control character U+{ord(bad.group()):04X}')


def _metadata(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The metadata object and its stored JSON text (encoded once here, reused for storing and hashing)."""
    value = raw.get('metadata')
    if value is None or value == '':
        return None, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError('metadata', 'is not valid JSON') from None
    if not isinstance(value, dict):
        raise ValidationError('metadata', 'must be a JSON object')
    if not value:
        return None, None
    text = METADATA_ENCODER.encode(value)
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise ValidationError('metadata', 'holds an unpaired surrogate (such as \\ud800), not valid Unicode') from None
    if size > MAX_METADATA_BYTES:
        raise ValidationError('metadata', f'is larger than {MAX_METADATA_BYTES // 1024} KiB')
    return value, text


def validate_event(raw: Any, now: datetime | None = None) -> NewEvent:
    """Check one incoming event; raise ValidationError naming the first bad field."""
    if not isinstance(raw, dict):
        raise ValidationError('event', 'must be a JSON object')
    if not _FIELD_SET.issuperset(raw):
        raise ValidationError(sorted(set(raw) - _FIELD_SET)[0], 'is not a field of an event')
    texts = {'user': _text(raw, 'user', required=True), 'scope': _text(raw, 'scope', required=True),
             'category': _text(raw, 'category', required=True), 'action': _text(raw, 'action', required=True)}
    scope, category = texts['scope'], texts['category']
    if scope not in taxonomy.SCOPES:
        _refuse_control(texts)
        raise ValidationError('scope', f'{scope!r} is not one of {", ".join(taxonomy.SCOPES)}')
    if category not in taxonomy.categories(scope):
        _refuse_control(texts)
        raise ValidationError('category', f'{category!r} is not a category of {scope} '
                                          f'({", ".join(taxonomy.categories(scope))})')
    texts['status'] = status = _text(raw, 'status', required=False) or 'SUCCESS'
    if status not in STATUSES:
        _refuse_control(texts)
        raise ValidationError('status', f'{status!r} must be SUCCESS or FAILED')
    for name in ('id', 'target', 'description', 'workspace'):
        texts[name] = _text(raw, name, required=False)
    _refuse_control(texts)
    timestamp = raw.get('timestamp')
    metadata, metadata_json = _metadata(raw)
    return NewEvent(
        id=texts['id'],
        timestamp=parse_timestamp(timestamp if timestamp not in (None, '') else (now or datetime.now(UTC))),
        user=texts['user'],
        scope=scope,
        category=category,
        action=texts['action'],
        target=texts['target'] or '',
        status=status,
        description=texts['description'] or '',
        workspace=texts['workspace'],
        metadata=metadata,
        metadata_json=metadata_json,
    )
