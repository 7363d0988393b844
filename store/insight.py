"""Reads for the overview around the table: the timeline's buckets, one event by id, and per-workspace
and per-policy summaries.

Each is built on `select_events` (rows) or on `rollup_where` over the daily counts, exactly as
`count_events` is, so every number here is one the viewer may see under the same filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from store import rollup
from store.db import database
from store.events import (
    COLUMNS,
    EventFilter,
    Viewer,
    _event,
    hourly_counts,
    normalize_search,
    rollup_where,
    select_events,
)
from store.timefmt import from_millis, now_millis, to_millis

MINUTE = 60_000
HOUR = 3_600_000
DAY = rollup.DAY_MS
ROW_LIMIT = 200_000  # more rows than this in a short span: day bars from the daily counts instead of a row scan
STATUSES = ('SUCCESS', 'FAILED')
POLICY_ACTIONS = ('Create Policy', 'Attach Policy', 'Detach Policy')
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


@dataclass(frozen=True)
class Bucket:
    start: int  # milliseconds, inclusive; clipped to the filter's own since/until
    end: int  # exclusive
    success: int
    failed: int

    @property
    def total(self) -> int:
        return self.success + self.failed


@dataclass(frozen=True)
class Timeline:
    unit: Unit
    buckets: list[Bucket]

    @property
    def total(self) -> int:
        return sum(bucket.total for bucket in self.buckets)


Counts = dict[int, list[int]]  # bucket key at some resolution -> [success, failed]


def _add(counts: Counts, rows: Iterable[tuple[int, str, int]]) -> Counts:
    for key, status, n in rows:
        pair = counts.setdefault(key, [0, 0])
        pair[0 if status == 'SUCCESS' else 1] += int(n)  # PostgreSQL's sum() is a numeric
    return counts


def _row_counts(viewer: Viewer, flt: EventFilter, resolution: int, counts: Counts | None = None) -> Counts:
    """Matching events grouped by `ts // resolution` and status, read row by row.

    For the whole organization with no filter but time, each status is read on its own: `status = ? AND
    ts` ranges are served by the (status, ts) index alone, about three times faster than grouping by status.
    """
    counts = {} if counts is None else counts
    if (not viewer.is_organization or flt.status or flt.scope or flt.category or flt.workspace or flt.user
            or normalize_search(flt.search)):
        query = select_events(viewer, flt)
        return _add(counts, database.execute_sql(
            f'SELECT e.ts / ?, e.status, count(*) FROM event e WHERE {query.where} GROUP BY 1, 2',
            [resolution, *query.params]))
    for status in STATUSES:
        query = select_events(viewer, replace(flt, status=status))
        _add(counts, ((key, status, n) for key, n in database.execute_sql(
            f'SELECT e.ts / ?, count(*) FROM event e WHERE {query.where} GROUP BY 1', [resolution, *query.params])))
    return counts


def _day_counts(viewer: Viewer, flt: EventFilter) -> Counts:
    """Matching events per UTC day: whole days from the daily counts, the partial days at the edges of
    the filter's time range row by row (what `count_events` reads, grouped by day)."""
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    first, end = rollup.full_days(since, until)
    if first is not None and end is not None and first >= end:
        return _row_counts(viewer, flt, DAY)
    counts: Counts = {}
    where = rollup_where(viewer, flt, first, end)
    if where is None:
        return counts
    rows = database.execute_sql(  # grouped by day alone, the daily counts' key order: no sorting
        "SELECT c.day, sum(c.n), sum(CASE WHEN c.status = 'FAILED' THEN c.n ELSE 0 END) FROM event_count c "
        f'WHERE {where[0]} GROUP BY c.day', where[1])
    counts.update((day, [int(n - failed), int(failed)]) for day, n, failed in rows)
    if first is not None and since != first * DAY:
        _row_counts(viewer, replace(flt, until=from_millis(first * DAY)), DAY, counts)
    if end is not None and until != end * DAY:
        _row_counts(viewer, replace(flt, since=from_millis(end * DAY)), DAY, counts)
    return counts


def _rollup_estimate(viewer: Viewer, flt: EventFilter, since: int | None, until: int | None) -> int:
    """At least the matching events in [since, until): the daily counts of every day it touches."""
    first = None if since is None else since // DAY
    end = None if until is None else -(-until // DAY)
    where = rollup_where(viewer, flt, first, end)
    if where is None:
        return 0
    return int(database.execute_sql(f'SELECT coalesce(sum(c.n), 0) FROM event_count c WHERE {where[0]}',
                                    where[1]).fetchone()[0])


def _edge_ts(viewer: Viewer, flt: EventFilter, newest: bool) -> int | None:
    query = select_events(viewer, flt)
    row = database.execute_sql(
        f'SELECT e.ts FROM event e WHERE {query.where} ORDER BY e.ts {"DESC" if newest else "ASC"} LIMIT 1',
        query.params).fetchone()
    return row[0] if row else None


def _sub_day(unit: Unit) -> bool:
    return bool(unit.ms) and unit.ms < DAY


def timeline(viewer: Viewer, flt: EventFilter, now: int | None = None) -> Timeline:
    """The matching events over time, SUCCESS and FAILED per bar; the bars' sum is `count_events`.

    Without a search or user filter, bars of a day or wider come from the daily counts (plus the
    partial days at the edges, row by row), which is what the total reads; narrower bars group the rows
    of a span of at most five days, or give way to day bars when that span holds more than ROW_LIMIT
    events. With a search or user filter the matching rows are grouped, by hour when the span is open.
    A range open at its end runs until now (or the newest event, if later); an open start begins at the
    oldest matching event.
    """
    now = now_millis() if now is None else now
    since = to_millis(flt.since) if flt.since else None
    until = to_millis(flt.until) if flt.until else None
    if normalize_search(flt.search) or flt.user:
        return _exact_timeline(viewer, flt, since, until, now)
    if since is not None and (until is not None or now - since <= SPANS[3]):
        hi = until
        if hi is None:  # a preset of hours or days: until now, or the newest event after it
            newest = _edge_ts(viewer, flt, newest=True)
            if newest is None:
                return _empty(since, None, now)
            hi = max(now, newest + 1)
        return _short_or_days(viewer, flt, since, hi, since, until)
    days = _day_counts(viewer, flt)
    if not days:
        return _empty(since, until, now)
    lo = since if since is not None else min(days) * DAY
    hi = until if until is not None else max((max(days) + 1) * DAY, now if since is not None else 0)
    if hi - lo > SPANS[3] + 2 * DAY:  # day-exact bounds, off by a day at most on each side: day bars or wider
        return _build(choose_unit(hi - lo), days, DAY, lo, hi, since, until)
    if since is None:
        lo = _edge_ts(viewer, replace(flt, until=from_millis((min(days) + 1) * DAY)), newest=False)
    if until is None:
        newest = _edge_ts(viewer, replace(flt, since=from_millis(max(days) * DAY)), newest=True)
        hi = max(newest + 1, now if since is not None else 0)
    return _short_or_days(viewer, flt, lo, hi, since, until, days)


def _short_or_days(viewer: Viewer, flt: EventFilter, lo: int, hi: int, since: int | None, until: int | None,
                   days: Counts | None = None) -> Timeline:
    """Bars over the exact span [lo, hi): from rows when they are narrower than a day and not too many."""
    unit = choose_unit(hi - lo)
    if _sub_day(unit):
        if _rollup_estimate(viewer, flt, lo, hi) <= ROW_LIMIT:
            span = replace(flt, since=from_millis(lo), until=from_millis(hi))
            return _build(unit, _row_counts(viewer, span, unit.ms), unit.ms, lo, hi, since, until)
        unit = UNIT['day']
    return _build(unit, _day_counts(viewer, flt) if days is None else days, DAY, lo, hi, since, until)


def _exact_timeline(viewer: Viewer, flt: EventFilter, since: int | None, until: int | None, now: int) -> Timeline:
    """Bars of an hour or wider come from the hourly counts the total is summed from (no second pass);
    narrower bars group the rows of their span."""
    if since is not None and until is not None:
        unit = choose_unit(until - since)
        if unit.ms and unit.ms < HOUR:
            return _build(unit, _row_counts(viewer, flt, unit.ms), unit.ms, since, until, since, until)
        return _build(unit, hourly_counts(viewer, flt), HOUR, since, until, since, until)
    hours = hourly_counts(viewer, flt)
    if not hours:
        return _empty(since, until, now)
    first, last = min(hours) * HOUR, (max(hours) + 1) * HOUR
    lo = since if since is not None else first
    hi = until if until is not None else max(last, now if since is not None else 0)
    unit = choose_unit(hi - lo)
    if unit.ms and unit.ms < HOUR:
        narrow = replace(flt, since=from_millis(max(lo, first)), until=from_millis(min(hi, last)))
        return _build(unit, _row_counts(viewer, narrow, unit.ms), unit.ms, lo, hi, since, until)
    return _build(unit, hours, HOUR, lo, hi, since, until)


def _empty(since: int | None, until: int | None, now: int) -> Timeline:
    """No matching events: zero bars over the filter's range when it has a start, else no bars."""
    if since is None:
        return Timeline(UNIT['day'], [])
    hi = until if until is not None else max(now, since + 1)
    unit = choose_unit(hi - since)
    return _build(unit, {}, unit.ms or DAY, since, hi, since, until)


def _build(unit: Unit, counts: Mapping[int, Sequence[int]], resolution: int, lo: int, hi: int, since: int | None,
           until: int | None) -> Timeline:
    """Bars of `unit` from `lo` to `hi` (empty ones included) out of counts at a finer `resolution`."""
    bars: Counts = {}
    for key, (success, failed) in counts.items():
        pair = bars.setdefault(unit.key(key * resolution), [0, 0])
        pair[0] += success
        pair[1] += failed
    keys = [unit.key(lo), unit.key(max(lo, hi - 1))]
    if bars:
        keys += [min(bars), max(bars)]
    buckets = []
    for key in range(min(keys), max(keys) + 1):
        success, failed = bars.get(key, (0, 0))
        start, end = unit.start(key), unit.end(key)
        buckets.append(Bucket(max(start, since) if since is not None else start,
                              min(end, until) if until is not None else end, success, failed))
    return Timeline(unit, buckets)


def find_event(viewer: Viewer, event_id: str) -> dict | None:
    """The event with this id if `viewer` may see it; None both when it is missing and when it is hidden."""
    query = select_events(viewer, EventFilter())
    row = database.execute_sql(f'SELECT {COLUMNS} FROM event e WHERE {query.where} AND e.uid = ?',
                               [*query.params, event_id]).fetchone()
    return _event(row) if row else None


@dataclass(frozen=True)
class WorkspaceActivity:
    name: str
    events: int
    failed: int


def visible_workspaces(viewer: Viewer) -> list[str]:
    if viewer.workspaces is not None:
        return sorted(viewer.workspaces)
    return [row[0] for row in database.execute_sql('SELECT name FROM workspace ORDER BY name')]


def workspace_activity(viewer: Viewer, since: datetime) -> list[WorkspaceActivity]:
    """Each workspace the viewer may see, with its events and FAILED events from `since` on."""
    flt = EventFilter(since=since)
    counts: Counts = {}
    first, _ = rollup.full_days(to_millis(since), None)
    where = rollup_where(viewer, flt, first, None)
    if where is not None:
        _add(counts, database.execute_sql(
            f'SELECT c.workspace_id, c.status, sum(c.n) FROM event_count c WHERE {where[0]} '
            'GROUP BY c.workspace_id, c.status', where[1]))
        if to_millis(since) != first * DAY:
            query = select_events(viewer, replace(flt, until=from_millis(first * DAY)))
            _add(counts, database.execute_sql(
                f'SELECT coalesce(e.workspace_id, 0), e.status, count(*) FROM event e WHERE {query.where} '
                'GROUP BY 1, 2', query.params))
    ids = dict(database.execute_sql('SELECT name, id FROM workspace').fetchall())
    result = []
    for name in visible_workspaces(viewer):
        success, failed = counts.get(ids.get(name, -1), (0, 0))
        result.append(WorkspaceActivity(name, success + failed, failed))
    return result


@dataclass(frozen=True)
class PolicySummary:
    name: str
    events: int
    last_attached: datetime | None
    last_detached: datetime | None
    last_event: datetime


def policy_summaries(viewer: Viewer) -> list[PolicySummary]:
    """The policies named by Organization / Policy events the viewer may see (create, attach, detach),
    with the times of the last successful attach and detach."""
    query = select_events(viewer, EventFilter(scope='Organization', category='Policy'))
    rows = database.execute_sql(
        "SELECT e.target, count(*), max(CASE WHEN e.action = 'Attach Policy' AND e.status = 'SUCCESS' THEN e.ts END),"
        " max(CASE WHEN e.action = 'Detach Policy' AND e.status = 'SUCCESS' THEN e.ts END), max(e.ts)"
        f' FROM event e WHERE {query.where} AND e.action IN ({",".join("?" * len(POLICY_ACTIONS))})'
        ' GROUP BY e.target ORDER BY e.target', [*query.params, *POLICY_ACTIONS])

    def moment(ms: int | None) -> datetime | None:
        return None if ms is None else from_millis(ms)
    return [PolicySummary(name, n, moment(attached), moment(detached), from_millis(last))
            for name, n, attached, detached, last in rows]
