"""Reads for the overview around the table: the timeline's buckets, one event by id, and per-workspace
and per-policy summaries.

Each is built on `select_events` (rows), on `rollup_where` over the daily counts, or on the view's counts
that `count_events` sums (store/read/counts.py), so every number here is one the viewer may see under the same
filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from store.derived import rollup
from store.engine.db import database
from store.engine.timefmt import from_millis, now_millis, to_millis
from store.ledger.buckets import DAY, SPANS, UNIT, Unit, choose_unit
from store.read.activity import marks_read
from store.read.counts import plan, resolution, view_counts
from store.read.events import COLUMNS, _event
from store.read.query import EventFilter, Viewer, rollup_where, select_events

__all__ = ['UNIT', 'Bucket', 'Timeline', 'choose_unit', 'find_event', 'policy_summaries', 'timeline',
           'visible_workspaces', 'workspace_activity']

POLICY_ACTIONS = ('Create Policy', 'Attach Policy', 'Detach Policy')


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


@marks_read
def timeline(viewer: Viewer, flt: EventFilter, now: int | None = None) -> Timeline:
    """The matching events over time, SUCCESS and FAILED per bar; the bars' sum is `count_events`.

    The bars are summed from the counts the total is summed from (store/read/counts.py), so beside the
    table the chart costs no second pass. A range open at its end runs until now (or the end of the
    newest event's bucket, if later); an open start begins at the oldest matching event.
    """
    now = now_millis() if now is None else now
    if flt.since is None:
        return _open_start(viewer, flt, now)
    since = to_millis(flt.since)
    until = to_millis(flt.until) if flt.until else None
    hi = until if until is not None else max(now, since + 1)
    unit, width = plan(viewer, flt, since, hi)  # what `count_events` counts at, so its pass is shared
    counts = view_counts(viewer, flt, width)
    if until is None and counts and max(counts) * width >= hi:  # a bucket of events dated after now
        hi = (max(counts) + 1) * width
        unit, finer = plan(viewer, flt, since, hi)
        if finer != width:
            width, counts = finer, view_counts(viewer, flt, finer)
    return _build(unit, counts, width, since, hi, since, until)


def _open_start(viewer: Viewer, flt: EventFilter, now: int) -> Timeline:
    """From the oldest matching event: bars over the days that hold events, or, when those span a few days
    only, over the exact span of the events with finer bars."""
    until = to_millis(flt.until) if flt.until else None
    width = resolution(viewer, flt, now)
    counts = view_counts(viewer, flt, width)
    if not counts:
        return _empty(None, until, now)
    lo, hi = min(counts) * width, until if until is not None else (max(counts) + 1) * width
    if hi - lo > SPANS[3] + 2 * DAY:  # day-exact bounds, off by a day at most on each side: day bars or wider
        return _build(choose_unit(hi - lo), counts, width, lo, hi, None, until)
    lo = _edge_ts(viewer, flt, newest=False)
    hi = until if until is not None else _edge_ts(viewer, flt, newest=True) + 1
    unit, finer = plan(viewer, flt, lo, hi)
    return _build(unit, view_counts(viewer, flt, finer), finer, lo, hi, None, until)


def _edge_ts(viewer: Viewer, flt: EventFilter, newest: bool) -> int:
    query = select_events(viewer, flt)
    return database.execute_sql(
        f'SELECT e.ts FROM event e WHERE {query.where} ORDER BY e.ts {"DESC" if newest else "ASC"} LIMIT 1',
        query.params).fetchone()[0]


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
    bars: dict[int, list[int]] = {}
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
    counts: dict[int, list[int]] = {}

    def _add(rows: Iterable[tuple[int, str, int]]) -> None:
        for workspace_id, status, n in rows:
            counts.setdefault(workspace_id, [0, 0])[0 if status == 'SUCCESS' else 1] += int(n)

    first, _ = rollup.full_days(to_millis(since), None)
    assert first is not None  # a day number, since `since` is given
    where = rollup_where(viewer, flt, first, None)
    if where is not None:
        _add(database.execute_sql(
            f'SELECT c.workspace_id, c.status, sum(c.n) FROM event_count c WHERE {where[0]} '
            'GROUP BY c.workspace_id, c.status', where[1]))
        if to_millis(since) != first * DAY:
            query = select_events(viewer, replace(flt, until=from_millis(first * DAY)))
            _add(database.execute_sql(
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
