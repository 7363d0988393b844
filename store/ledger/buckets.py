"""Bar widths of the timeline and the time resolutions counts are kept at: pure arithmetic on UTC milliseconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from store.engine.timefmt import to_millis

MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
EPOCH_MONDAY_OFFSET = 3  # 1970-01-01 was a Thursday: day + 3 counts days from a Monday


@dataclass(frozen=True)
class Unit:
    """A bar's width: a fixed number of milliseconds, or a calendar week, month or year (UTC)."""

    name: str
    ms: int = 0

    def key(self, ts: int) -> int:
        if self.ms:
            return ts // self.ms
        day = ts // DAY
        if self.name == 'week':
            return (day + EPOCH_MONDAY_OFFSET) // 7
        moment = date.fromordinal(date(1970, 1, 1).toordinal() + day)
        return moment.year * 12 + moment.month - 1 if self.name == 'month' else moment.year

    def start(self, key: int) -> int:
        if self.ms:
            return key * self.ms
        if self.name == 'week':
            return (key * 7 - EPOCH_MONDAY_OFFSET) * DAY
        year, month = (key // 12, key % 12 + 1) if self.name == 'month' else (key, 1)
        return to_millis(datetime(year, month, 1, tzinfo=UTC))

    def end(self, key: int) -> int:
        return self.start(key + 1)

    @property
    def resolution(self) -> int:
        """The counts these bars are summed from: their own width up to an hour, days for wider bars."""
        return self.ms if self.ms and self.ms <= HOUR else DAY


UNITS = (Unit('minute', MINUTE), Unit('5 minutes', 5 * MINUTE), Unit('15 minutes', 15 * MINUTE),
         Unit('hour', HOUR), Unit('day', DAY), Unit('week'), Unit('month'), Unit('year'))
# the widest span each unit is chosen for: at most about 120 bars
SPANS = (2 * HOUR, 10 * HOUR, 30 * HOUR, 5 * DAY, 120 * DAY, 840 * DAY, 3660 * DAY)
UNIT = {unit.name: unit for unit in UNITS}


def choose_unit(span_ms: int) -> Unit:
    for unit, widest in zip(UNITS, SPANS, strict=False):
        if span_ms <= widest:
            return unit
    return UNIT['year']


def whole_units(since: int | None, until: int | None, width: int) -> tuple[int | None, int | None]:
    """The whole units of `width` ms inside [since, until), as unit numbers [first, end); None for an open side."""
    first = None if since is None else -(-since // width)
    end = None if until is None else until // width
    return first, end
