"""Time conversions shared by the store, the page and the exporter."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.engine.db import StoreError

DISPLAY_FORMAT = '%Y-%m-%d %H:%M:%S'


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000 + (0.5 if moment.timestamp() >= 0 else -0.5))


def from_millis(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def now_millis() -> int:
    return to_millis(datetime.now(UTC))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StoreError(f'unknown time zone {name!r}: use an IANA name such as UTC or Europe/Berlin') from None


def display(moment: datetime, tz: ZoneInfo) -> str:
    """`YYYY-MM-DD HH:mm:ss` in the display time zone."""
    return moment.astimezone(tz).strftime(DISPLAY_FORMAT)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the API answers."""
    return moment.astimezone(UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')
