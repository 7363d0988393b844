"""Turning an incoming event (JSON object or CSV row) into a checked event, or a clear refusal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, overload

from store.ledger import taxonomy

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
# The refused control characters as the body of a regular expression's class, written with escapes that
# Python and JSON Schema (ECMA 262) read alike: the API's schema states the same rule (ui/api/schema.py).
CONTROL_CLASS = r'\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f'
_CONTROL = re.compile(f'[{CONTROL_CLASS}]')
# The form of a timestamp the API's schema documents (RFC 3339 from 1970 on); parse_timestamp also reads
# other ISO 8601 forms (no zone, a space for the T, a date alone), and refuses what is before 1970 in UTC.
TIMESTAMP_PATTERN = (r'^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])'
                     r'T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$')
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
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise ValidationError(field, 'is after the year 9999') from None
    if parsed < EARLIEST:
        raise ValidationError(field, 'is before 1970')
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


@overload
def _text(raw: dict[str, Any], field: str, *, required: Literal[True]) -> str: ...


@overload
def _text(raw: dict[str, Any], field: str, *, required: bool) -> str | None: ...


def _text(raw: dict[str, Any], field: str, *, required: bool) -> str | None:
    """The stripped text of a field (None when optional and empty), its length checked before stripping.

    Control characters are checked once per event, over all its texts as sent, in `validate_event`.
    """
    value = raw.get(field)
    if value.__class__ is not str:
        if value is None:
            if required:
                raise ValidationError(field, 'is required')
            return None
        if not isinstance(value, str):
            raise ValidationError(field, f'must be a string, not {type(value).__name__}')
    if len(value) > MAX_LENGTH[field]:
        raise ValidationError(field, f'is longer than {MAX_LENGTH[field]} characters')
    value = value.strip()
    if not value:
        if required:
            raise ValidationError(field, 'is required')
        return None
    return value


def _refuse_control(raw: dict[str, Any], fields: Iterable[str]) -> None:
    """Refuse the first of `fields` whose text as sent holds a control character (one search over all
    texts in the usual case)."""
    texts = [(field, value) for field in fields if (value := raw.get(field)).__class__ is str]
    if _CONTROL.search('\t'.join(text for _, text in texts)) is None:
        return
    for field, text in texts:
        bad = _CONTROL.search(text)
        if bad is not None:
            raise ValidationError(field, f'contains the control character U+{ord(bad.group()):04X}')


def _metadata(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The metadata object and its stored JSON text (encoded once here, reused for storing and hashing)."""
    value = raw.get('metadata')
    if value is None:
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
    user, action = _text(raw, 'user', required=True), _text(raw, 'action', required=True)
    texts: dict[str, str | None] = {'user': user, 'scope': _text(raw, 'scope', required=True),
             'category': _text(raw, 'category', required=True), 'action': action}
    scope, category = texts['scope'], texts['category']
    if scope not in taxonomy.SCOPES:
        _refuse_control(raw, texts)
        raise ValidationError('scope', f'{scope!r} is not one of {", ".join(taxonomy.SCOPES)}')
    if category not in taxonomy.categories(scope):
        _refuse_control(raw, texts)
        raise ValidationError('category', f'{category!r} is not a category of {scope} '
                                          f'({", ".join(taxonomy.categories(scope))})')
    # absent or null is SUCCESS; an empty text is not a status
    texts['status'] = status = 'SUCCESS' if raw.get('status') is None else _text(raw, 'status', required=False) or ''
    if status not in STATUSES:
        _refuse_control(raw, texts)
        raise ValidationError('status', f'{status!r} must be SUCCESS or FAILED')
    for name in ('id', 'target', 'description', 'workspace'):
        texts[name] = _text(raw, name, required=False)
    _refuse_control(raw, texts)
    timestamp = raw.get('timestamp')
    metadata, metadata_json = _metadata(raw)
    return NewEvent(
        id=texts['id'],
        timestamp=parse_timestamp(timestamp if timestamp is not None else (now or datetime.now(UTC))),
        user=user,
        scope=scope,
        category=category,
        action=action,
        target=texts['target'] or '',
        status=status,
        description=texts['description'] or '',
        workspace=texts['workspace'],
        metadata=metadata,
        metadata_json=metadata_json,
    )
