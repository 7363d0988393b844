"""How a page of a view is read, decided in one place: `plan_page` returns a Plan, `execute` reads it, and
`describe` prints it (`main.py explain`), so a slow view can be understood without a profiler.

A page is the events of a view (a viewer's visibility and a filter) in one order, from one position. First
the plan moves the page so that any depth costs about what the first page does:
- seek: a deep page in time order starts at a bucket boundary that the view's own kept counts place
  (store/read/counts.py), instead of stepping over every event before it;
- reverse: a page in the second half is read from the other end in the opposite order.
Then it picks a way to read it (store/read/ways.py), or two ways to race when the estimates can't tell which
is quicker (store/engine/race.py `first_done`: the first has a head start and a time budget, the other runs
beside it once the head start is over, and the page costs about the quicker of the two).

A walk to the end (the export, store/read/events.py `iter_events`) reads page after page, each continuing
after the last event of the one before (`after`, a position in the order) among the events stored up to a
position fixed at its start (`upto`): no offset to step over, and no event repeated or skipped while events
arrive.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, replace

from store.derived import sort_index
from store.engine.db import database, is_sqlite, read_snapshot
from store.engine.dialect import orders_text_as_python
from store.engine.race import first_done
from store.engine.timefmt import from_millis
from store.ledger import chain
from store.ledger.buckets import DAY, HOUR
from store.read import keywords, ways
from store.read.counts import count_events, resolution, rollup_total, view_counts
from store.read.query import (
    WHOLE_STORE,
    EventFilter,
    Query,
    Viewer,
    is_indexed,
    normalize_search,
    select_events,
    term_query,
)
from store.read.tallies import searched
from store.read.ways import Key, Sort

INDEX_ORDER = 'index order'
VIEW_WALK = 'view walk'
SORT_TABLE = 'sort table'
SORTED_MATCHES = 'sorted matches'
ORDER_WALK = 'order walk'
BY_VALUE = 'by value'
PAIR_WALKS = 'pair walks'
NAMED_PAIRS = 'named pairs'
NAMED_PAIRS_ONLY = 'named pairs only'

# Matches from which a sort table's order is walked rather than the matches sorted. A filter of facets and
# time only is checked on the entries themselves (store/read/ways.py `prefilter`): a walk then costs at most a
# scan of the table (measured at 1M events: 63 ms for descriptions), less than sorting a few thousand matches
# that SQLite may reach through a poor index (10,159 in 165 ms).
SORT_TABLE_FROM = 20_000
SORT_TABLE_FROM_FACETS = 2_000
# A search or a user is checked on each event a walk in another column's order reads (a sort table or an
# index). When the matches come late in that order (a term found in one kind of description or action), the
# walk reads most events: measured at 1M events, 'credit' sorted by action took 2.3 s. So the other way
# starts beside a walk that is not done after HEAD_START, and the walk gets at most about the time the other
# way takes. The other way sorts the matches after finding them through the search index (about 3 µs per
# match) or, for many matches, by testing every event (about 0.45 µs per event), measured at 1M.
HEAD_START = 0.002
WALK_SECONDS = 0.04
SORT_SECONDS_PER_MATCH = 3e-6
# Matches of a structured filter found through a facet's index and sorted by another column (SQLite's choice for
# a page of such a view): measured at 1M events, scope Service by action, 705,670 matches in 431 ms.
SORT_SECONDS_PER_FACET_MATCH = 0.6e-6
SCAN_SECONDS_PER_EVENT = 0.45e-6
WALK_SECONDS_PER_EVENT = 1e-6  # an event read in an index's time order and tested
SEEK_FROM = 5_000
# A view holding at least this share of the events is walked in a column's own index rather than pair by pair
# (`_walk_or_sort`): its matches are then close together in any order. A sparser view's matches gather in some
# pairs, which the walk of the whole order passes one after the other: measured at 10M events, workspace research
# by action ascending 506 ms, the last 7 days 8% of the events.
DENSE_SHARE = 0.5
# A keyword's matches outside the pairs whose names hold it, up to which they are sorted beside those pairs' own
# pages (`_named_split`): about 30 ms at 3 µs a match.
NAMED_REST_SORTED = 10_000
COMMON_MATCHES = 20_000
# PostgreSQL keeps an index in the order of each of these columns (store/lifecycle/schema.py) and chooses between
# walking it and sorting the matches by its estimates, which cannot tell where in that order the matches lie.
# When they come late (the targets of one category, a keyword found in one kind of action), the walk reads most
# of the table: measured at 1M events, target within Service / AI Notebook took 2.5 s, action with the search
# 'credit' 3.2 s, where sorting the matches took 230 and 100 ms. So the walk gets WALK_SECONDS, then the sort
# runs: PostgreSQL sorts with parallel workers, and with the walk going on beside them on 2 cores the sort took
# about twice as long. A walk that fails costs its time on top of the sort: it gets at most a quarter of the
# sort's estimate ('credit', 20,000 matches, sorted by description: 114 → 209 ms with 40 ms for the walk).
WALK_SHARE = 0.25
MIN_WALK_SECONDS = 0.005
# The indexes in these columns' orders carry the events' facets (store/lifecycle/schema.py step 20): a view of
# facets and time alone is walked in the index, without reading the events, at about 0.1-0.2 µs an entry, so its
# walk gets longer. Measured at 1M events, p50 of 5: target within Service / AI Notebook 184-197 → 63-65 ms, action
# within Organization descending 190-193 → 47-48; the other views tried were the same either way.
POSTGRES_COVERED = frozenset({'target', 'action', 'description'})
COVERED_WALK_SECONDS = 0.15
POSTGRES_WALKS = frozenset({'user', 'scope', 'category', 'action', 'target', 'status', 'description'})


@dataclass(frozen=True)
class Way:
    """One query that reads a page: `name` says which (the constants above); `narrow_search` lets the search
    index narrow a keyword's candidates; `by_index` off sorts the matches instead of following an index."""

    name: str
    narrow_search: bool = True
    by_index: bool = True

    def words(self) -> str:
        text = {
            INDEX_ORDER: 'follow the order of an index',
            VIEW_WALK: "walk the view in time order, testing each event for the keyword",
            SORT_TABLE: "walk the column's sort table in order, merged with its unsorted tail",
            SORTED_MATCHES: 'find every match, then sort them',
            ORDER_WALK: "walk the index of the sort column in its order, testing each event",
            BY_VALUE: "read the view's values of the sort column one after the other, each in time order",
            PAIR_WALKS: "walk each pair of the view in the sort column's order, testing each event, and merge them",
            NAMED_PAIRS: "read the pairs whose names hold the keyword as views of their own, sort the other "
                         'matches, and merge them',
            NAMED_PAIRS_ONLY: 'read the pairs whose names hold the keyword as views of their own, and merge them',
        }[self.name]
        if self.name not in (VIEW_WALK, ORDER_WALK, BY_VALUE, PAIR_WALKS, NAMED_PAIRS, NAMED_PAIRS_ONLY):
            text += ', the search index narrowing the candidates' if self.narrow_search else ''
        return text


@dataclass(frozen=True)
class Plan:
    """How one page is read. `flt`, `sort`, `offset` and `limit` are what is read (narrowed when seeking,
    reversed when reading from the other end); `matches` is the view's total (an upper bound after a seek).
    `after`: the page starts after this position in `sort`'s order; `upto`: only events stored up to there."""

    viewer: Viewer
    flt: EventFilter
    sort: Sort
    offset: int
    limit: int
    matches: int
    first: Way
    other: Way | None = None
    seconds: float = 0.0
    head_start: float = 0.0
    reverse: bool = False
    why: tuple[str, ...] = ()
    after: Key | None = None
    upto: int | None = None

    def noting(self, *why: str) -> Plan:
        return replace(self, why=(*why, *self.why))


def plan_page(viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, limit: int, total: int,
              near: bool = False, *, after: Key | None = None, upto: int | None = None,
              seek_from: int | None = None) -> Plan:
    """The plan of a page at `offset` of a view holding `total` events. `near` says `total` is only an upper
    bound and the page is near the start (a cursor's page, or the rest after a seek).

    `after` starts the page after that position in `sort`'s order (`offset` then counts from there), and
    `upto` leaves out the events stored after that position: a walk's continuation, always near. The kept
    counts a seek or a reverse relies on know neither bound, and the page is at the start of what is left."""
    if after is not None or upto is not None:
        plan = plan_page(viewer, flt, sort, offset, limit, total, near=True)
        return replace(plan, after=after, upto=upto).noting(
            *(() if after is None else ('a walk goes on after the last event it read',)),
            *(() if upto is None else (f'a walk reads the events stored up to position {upto:,} only',)))
    seek_from = SEEK_FROM if seek_from is None else seek_from
    seek = _seek(viewer, flt, sort, offset, total) if offset >= seek_from and not near else None
    if seek is not None:
        narrowed, skip, remaining = seek
        return plan_page(viewer, narrowed, sort, skip, limit, remaining, near=True).noting(
            f'seek: {offset - skip:,} events lie before a bucket boundary the view\'s counts place; '
            f'read from there, skipping {skip:,}')
    if offset > total // 2 and not near:
        count = min(limit, total - offset)
        plan = _choose(viewer, flt, Sort(sort.column, not sort.descending), total - offset - count, count, total,
                       narrow=True)
        return replace(plan, reverse=True).noting(f'reverse: the page is in the second half of {total:,}; read '
                                                  f'{count} from the other end in the opposite order')
    narrow = sort.column == 'timestamp' or not is_common_term(flt.search, total, offset)
    plan = _choose(viewer, flt, sort, offset, limit, total, narrow)
    return plan if narrow else plan.noting('common keyword: the search index would yield most events; '
                                           'tested on each event instead')


def execute(plan: Plan) -> list[tuple]:
    """The rows of the page `plan` describes, in the order asked."""
    if plan.other is None:
        rows = _read(plan, plan.first)
    else:
        other = plan.other
        rows = first_done(lambda: _read(plan, plan.first), lambda: _read(plan, other), plan.seconds,
                          plan.head_start)
    if plan.reverse:
        rows.reverse()
    return rows


def describe(plan: Plan) -> list[str]:
    """The plan in words, a line each."""
    start = f'offset {plan.offset:,}' if plan.after is None else f'{plan.offset:,} after the position {plan.after}'
    lines = [f'read {plan.limit} from {start} of at most {plan.matches:,} events, ordered by '
             f'{plan.sort.column} {"descending" if plan.sort.descending else "ascending"}'
             + (', then reversed' if plan.reverse else '')]
    active = plan.flt.active()
    lines.append('view read: ' + ('; '.join(f'{k} {v}' for k, v in active.items()) or 'every event')
                 + (' (organization)' if plan.viewer.is_organization else
                    f' (workspaces {", ".join(sorted(plan.viewer.workspaces or ()))})'))
    if plan.other is None:
        lines.append(f'way: {plan.first.words()}')
    else:
        lines.append(f'way: race. First {plan.first.words()}, for up to {plan.seconds * 1000:,.0f} ms;')
        lines.append(f'     beside it after {plan.head_start * 1000:,.0f} ms, {plan.other.words()}')
    return [*lines, *(f'because {reason}' for reason in plan.why)]


def explain(viewer: Viewer, flt: EventFilter, sort: Sort = Sort(), offset: int = 0, limit: int = 50) -> list[str]:
    """How the page at `offset` of this view is read, and what it cost here and now: the total first (counted,
    or brought up to date from kept counts), then the page's plan, then the page read by that plan."""
    started = time.perf_counter()
    total = count_events(viewer, flt)
    counted = (time.perf_counter() - started) * 1000
    width = resolution(viewer, flt)
    bucket = 'day' if width == DAY else 'hour' if width == HOUR else f'{width // 60_000} minutes'
    lines = [f"total: {total:,} events, summed from the view's counts per {bucket}, in {counted:,.1f} ms"]
    if offset >= total:
        return [*lines, 'page: none, the offset is past the last event']
    plan = plan_page(viewer, flt, sort, offset, limit, total)
    started = time.perf_counter()
    rows = execute(plan)
    return [*lines, *describe(plan), f'page: {len(rows)} events in {(time.perf_counter() - started) * 1000:,.1f} ms']


def _read(plan: Plan, way: Way) -> list[tuple]:
    query = ways.stored_upto(select_events(plan.viewer, plan.flt, narrow_search=way.narrow_search), plan.upto)
    if not is_sqlite() and way.narrow_search and len(normalize_search(plan.flt.search)) == 2:
        narrowed = keywords.two_character_candidates(plan.viewer, plan.flt)
        if narrowed is not None:
            query = Query(f'{query.where} AND {narrowed[0]}', [*query.params, *narrowed[1]])
    if way.name in (NAMED_PAIRS, NAMED_PAIRS_ONLY):
        return _named_pairs_page(plan, way.name == NAMED_PAIRS)
    counted = plan.upto is None and not (plan.flt.since or plan.flt.until)  # the daily counts hold the view
    if way.name == PAIR_WALKS:  # a user's by the counts per user and action, from any offset: see ways.by_pairs
        return ways.by_pairs(query, plan.viewer, plan.flt, plan.sort, plan.offset, plan.limit, plan.after,
                             counted and plan.after is None and (plan.offset >= SEEK_FROM or bool(plan.flt.user)))
    if way.name == BY_VALUE:  # a user's by the counts per user
        return ways.by_value(query, plan.viewer, plan.flt, plan.sort, plan.offset, plan.limit, plan.after,
                             _group_page(plan) if counted else None)
    if way.name == SORT_TABLE:
        return _sort_table_page(plan, query)
    if is_sqlite() and (way.name == VIEW_WALK or _walked_in_time_order(plan, way)):
        walks = ways.in_time_order(query, plan.viewer, plan.flt)
        return ways.merged_in_order(walks, plan.sort, plan.offset, plan.limit, plan.after)
    index = ways.ORDER_INDEX[plan.sort.column] if way.name == ORDER_WALK else None
    return ways.in_order(query, plan.sort, plan.offset, plan.limit, way.by_index, plan.after, index)


def _sort_table_page(plan: Plan, query: Query) -> list[tuple]:
    """A page in a sort table's order; a deep one from the block holding it (store/read/ways.py `placed`), where
    the blocks can place it."""
    with read_snapshot():
        start = (ways.placed(query, plan.sort, plan.offset, plan.viewer, plan.flt)
                 if plan.after is None and plan.upto is None and plan.offset >= SEEK_FROM else None)
        if start is not None:
            return ways.walk(query, plan.sort, start[1], plan.limit, plan.viewer, plan.flt, start[0])
        return ways.walk(query, plan.sort, plan.offset, plan.limit, plan.viewer, plan.flt, plan.after)


def _group_page(plan: Plan) -> ways.GroupPage:
    """Reads a group of a BY_VALUE page (the events of one value of the sort column) in time order by its own
    plan, which places the page by the group's counts (`_seek`) from any offset: a group's walk in time order may
    test each event of the group's index on its row (measured at 10M events, a Workspace Admin's category Member
    by user at offset 5,000, 4,950 into one user's: 36 ms from the group's first event)."""
    in_time = Sort('timestamp', plan.sort.descending)
    return lambda part, offset, limit, total: execute(
        plan_page(plan.viewer, part, in_time, offset, limit, total, seek_from=1))


def _walked_in_time_order(plan: Plan, way: Way) -> bool:
    """Whether a page in time order that SQLite would plan (no keyword the search index narrows) follows the
    index of the view's equalities instead (store/read/ways.py `in_time_order`). Left to itself, SQLite took
    the category's index for a category without its scope and sorted all its events: measured at 10M events,
    the first page of category AI Inference (1,465,546 events) 290 ms, at offset 1,000 688; category Member
    seen by a Workspace Admin 2,285."""
    term = normalize_search(plan.flt.search)
    return (way.name == INDEX_ORDER and plan.sort.column == 'timestamp'
            and not (way.narrow_search and is_indexed(term)))


def _choose(viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, limit: int, matches: int,
            narrow: bool) -> Plan:
    plan = Plan(viewer, flt, sort, offset, limit, matches, Way(INDEX_ORDER, narrow))
    if not is_sqlite():
        return _on_postgres(plan, narrow)
    if sort.column == 'timestamp':
        return _in_time_order(plan)
    keyed = searched(flt)
    tabled = sort.column in sort_index.TABLES and matches >= (SORT_TABLE_FROM if keyed else SORT_TABLE_FROM_FACETS)
    column_way = Way(SORT_TABLE, narrow) if tabled else Way(INDEX_ORDER, narrow)
    if not normalize_search(flt.search) and sort.column in ways.ORDER_INDEX:  # a user filter is walked too
        return _walk_or_sort(plan)
    if not keyed and not tabled and sort.column in sort_index.TABLES and (flt.scope or flt.category):
        return _pairs_walked_or_sorted(plan)
    if not keyed:
        return replace(plan, first=column_way)
    split = _named_split(plan)
    if split is not None:
        return split
    through_index = matches * SORT_SECONDS_PER_MATCH
    scan = chain.head()[0] * SCAN_SECONDS_PER_EVENT
    return replace(plan, first=column_way, other=Way(SORTED_MATCHES, through_index <= scan, by_index=False),
                   seconds=max(WALK_SECONDS, min(through_index, scan)), head_start=HEAD_START).noting(
        f'a keyword or user is tested on each event of a walk in {sort.column} order, where the matches may '
        f'come late; sorting them costs about {min(through_index, scan) * 1000:,.0f} ms')


def _named_split(plan: Plan) -> Plan | None:
    """A keyword found in the names of some (scope, category) pairs (store/read/keywords.py `named_split`), in
    another column's order: when few of its matches lie outside those pairs, each pair is read as a view of its
    own (with that view's plan: its sort table or index by pair) and the rest are sorted. A walk in the column's
    order tests the keyword on each event it passes, and sorting every match costs about 3 µs a match: measured
    at 10M events, 'credit' (199,198 matches, all of Billing / Credit) by description 683 ms, by action 706."""
    split = keywords.named_split(plan.viewer, plan.flt)
    if split is None:
        return None
    named = sum(count_events(plan.viewer, pair) for pair in split.pairs)
    rest = plan.matches - named
    if rest > NAMED_REST_SORTED:
        return None
    return replace(plan, first=Way(NAMED_PAIRS if rest else NAMED_PAIRS_ONLY)).noting(
        f'{named:,} of the {plan.matches:,} matches are of the pairs whose names hold the keyword, read as views '
        f'of their own; the other {rest:,} are sorted')


def _named_pairs_page(plan: Plan, rest: bool) -> list[tuple]:
    """The page of a NAMED_PAIRS plan: the first offset + limit events of each named pair's view and of the
    rest (unless the plan found none: NAMED_PAIRS_ONLY, where finding them would cost as much as the count
    did), merged."""
    split = keywords.named_split(plan.viewer, plan.flt)
    if split is None:  # the names changed since the plan: sort every match
        return _read(plan, Way(SORTED_MATCHES, True, by_index=False))
    wanted = plan.offset + plan.limit
    parts = [execute(plan_page(plan.viewer, pair, plan.sort, 0, wanted, count_events(plan.viewer, pair),
                               near=True, after=plan.after, upto=plan.upto)) for pair in split.pairs]
    if rest:
        parts.append(ways.in_order(ways.stored_upto(split.rest, plan.upto), plan.sort, 0, wanted, False, plan.after))
    merged = heapq.merge(*parts, key=lambda row: ways.key_of(plan.sort, row), reverse=plan.sort.descending)
    return list(itertools.islice(merged, plan.offset, wanted))


def _pairs_walked_or_sorted(plan: Plan) -> Plan:
    """A view of some pairs with few matches, in a sort table's order: each pair's entries walked in the table's
    index by pair skip the entries of the other facets without reading their events, raced against SQLite's own
    plan, which sorts the matches. Measured at 1M events, Billing / Credit's failed events (1,400) by target:
    26 ms sorted by SQLite."""
    estimate = plan.matches * SORT_SECONDS_PER_FACET_MATCH
    return replace(plan, first=Way(SORT_TABLE), other=Way(INDEX_ORDER), seconds=max(WALK_SECONDS, estimate),
                   head_start=HEAD_START).noting(
        f'{plan.matches:,} matches: walking their pairs in the sort table may reach the page first; SQLite\'s own '
        'plan beside it')


def _walk_or_sort(plan: Plan) -> Plan:
    """A structured view in another column's order (SQLite): that column's index walked, raced against the
    matches sorted, when the walk should reach the page sooner.

    SQLite reads such a view through a facet's index and sorts every match, which costs as much for the first
    page as for a deep one (measured at 1M events, scope Service by action: 431 ms), and a walk to the end (the
    export) would sort the rest of the view once per page. Walking the column's index reaches the page after
    about (offset + limit) × events / matches entries, each tested on its row: for the first pages of a broad
    view, and for each page of a walk to the end, which starts where the page before ended.

    A sparser view's matches gather in some (scope, category) pairs and values, which that walk passes one after
    the other (measured at 10M events, p50 of 3: Service / AI Notebook by action ascending 3,077 ms, category
    Member by action descending 2,237, workspace research by scope 2,112). By action, each pair of the view is
    walked in the index of its events in action order and the walks merged (PAIR_WALKS); by a column of few
    values (scope, category, status, user), the view's values are read one after the other, each in time order
    (BY_VALUE). The matches sorted run beside either.
    """
    if _every_event(plan, True):
        if plan.offset < SEEK_FROM:
            return replace(plan, first=Way(ORDER_WALK))
        deep = PAIR_WALKS if ways.pair_order_index(plan.sort.column) else BY_VALUE if ways.grouped(
            plan.sort.column) else ORDER_WALK
        return replace(plan, first=Way(deep)).noting(
            'a deep page of every event: placed by the counts rather than stepping over the events before it '
            '(measured at 10M events, the middle page by user 343-534 ms walking the order\'s index)')
    sort_estimate = plan.matches * SORT_SECONDS_PER_FACET_MATCH
    events = chain.head()[0]
    if ways.pair_order_index(plan.sort.column) and (plan.flt.scope or plan.flt.category
                                                      or plan.matches < events * DENSE_SHARE):
        return replace(plan, first=Way(PAIR_WALKS), other=Way(SORTED_MATCHES, False, by_index=False),
                       seconds=max(WALK_SECONDS, sort_estimate), head_start=HEAD_START).noting(
            f'each pair of the view is walked in the index of its events in {plan.sort.column} order; '
            f'finding and sorting the matches takes about {sort_estimate * 1000:,.0f} ms, beside it')
    if ways.grouped(plan.sort.column):
        return replace(plan, first=Way(BY_VALUE), other=Way(SORTED_MATCHES, False, by_index=False),
                       seconds=max(WALK_SECONDS, sort_estimate), head_start=HEAD_START).noting(
            f'{plan.sort.column} has few values: each of the view\'s is read in time order, one after the other; '
            f'finding and sorting the matches takes about {sort_estimate * 1000:,.0f} ms, beside it')
    walk_estimate = (plan.offset + plan.limit) * events / max(1, plan.matches) * WALK_SECONDS_PER_EVENT
    if walk_estimate >= sort_estimate:
        return plan
    return replace(plan, first=Way(ORDER_WALK), other=Way(SORTED_MATCHES, False, by_index=False),
                   seconds=max(WALK_SECONDS, sort_estimate), head_start=HEAD_START).noting(
        f'a walk in {plan.sort.column} order should reach the page in about {walk_estimate * 1000:,.0f} ms, '
        f'finding and sorting the matches takes about {sort_estimate * 1000:,.0f} ms; the matches may come late')


def _on_postgres(plan: Plan, narrow: bool) -> Plan:
    """PostgreSQL: in time order, or of every event, as its planner chooses; in another column's order, that
    column's index walked for a short time (longer in the index alone, see POSTGRES_COVERED), then the matches
    sorted (one after the other, see WALK_SHARE)."""
    if len(normalize_search(plan.flt.search)) == 2:
        narrow, why = _two_characters(plan)
        plan = replace(plan, first=Way(INDEX_ORDER, narrow)).noting(why)
    if plan.sort.column == 'timestamp' or _every_event(plan, narrow):
        return plan.noting("PostgreSQL's planner chooses the index")
    sorted_matches = Way(SORTED_MATCHES, narrow, by_index=False)
    apart = _read_apart(plan)
    if apart is not None:
        return replace(plan, first=Way(apart), other=sorted_matches, seconds=WALK_SECONDS,
                       head_start=WALK_SECONDS).noting(
            f'{plan.sort.column}: the view read {"pair by pair" if apart == PAIR_WALKS else "value after value"} '
            f'for up to {WALK_SECONDS * 1000:,.0f} ms, then the matches sorted')
    if plan.sort.column not in POSTGRES_WALKS:
        return replace(plan, first=sorted_matches)
    covered = plan.sort.column in POSTGRES_COVERED and not searched(plan.flt)
    longest = COVERED_WALK_SECONDS if covered else WALK_SECONDS
    walk = min(longest, max(MIN_WALK_SECONDS, plan.matches * SORT_SECONDS_PER_MATCH * WALK_SHARE))
    return replace(plan, other=sorted_matches, seconds=walk, head_start=walk).noting(
        f'PostgreSQL cannot tell where the matches lie in {plan.sort.column} order: the walk gets '
        f'{walk * 1000:,.0f} ms, then the matches are sorted')


def _read_apart(plan: Plan) -> str | None:
    """PostgreSQL: the way reading a view without keyword apart, as on SQLite (`_walk_or_sort`), when the
    database orders text as Python does (the parts are merged by their keys); else None. Measured at 1M
    events, p50 of 30 (`bench_store --only sort`, one run each): workspace research by scope 283 → 12 ms,
    Service / AI Notebook by action 103 → 4, the last 7 days by action 3.8 → 9.1."""
    if normalize_search(plan.flt.search) or not orders_text_as_python():
        return None
    ranged = plan.flt.since or plan.flt.until
    if ways.pair_order_index(plan.sort.column) and (not ranged or ways.values_walked(plan.sort.column)) and (
            plan.flt.scope or plan.flt.category or plan.matches < chain.head()[0] * DENSE_SHARE):
        return PAIR_WALKS
    # by user, PostgreSQL's own way was quicker: Billing / Credit's failed events 73 ms value after value, 34 not
    return BY_VALUE if ways.grouped(plan.sort.column) and plan.sort.column != 'user' else None


def _two_characters(plan: Plan) -> tuple[bool, str]:
    """PostgreSQL: whether a page of a term of two characters is read from its candidates (store/read/keywords.py
    `two_character_candidates`), and why. pg_trgm cannot narrow such a term, so PostgreSQL reads the view in
    time order and tests each event: quick when the matches are dense in the view (after about (offset + limit)
    × events in the view / matches events), and a read of the whole view for a rare term (measured at 1M
    events, 'ak', 291 matches: 405-465 ms). The candidates cost about what sorting the matches does."""
    plain = replace(plan.flt, search='')
    in_view = rollup_total(plan.viewer, plain)
    walk = (plan.offset + plan.limit) * in_view / max(1, plan.matches) * WALK_SECONDS_PER_EVENT
    through_pairs = plan.matches * SORT_SECONDS_PER_MATCH
    if walk < through_pairs:
        return False, (f'{plan.matches:,} matches of a term of two characters among {in_view:,} events: a walk '
                       f'should reach the page in about {walk * 1000:,.1f} ms')
    return True, (f'{plan.matches:,} matches of a term of two characters among {in_view:,} events: its candidates, '
                  f"from the index of event_text's character pairs and the names holding it, in about "
                  f'{through_pairs * 1000:,.1f} ms')


def _every_event(plan: Plan, narrow: bool) -> bool:
    """Whether the view has no condition at all (the whole store, as its order's index gives it)."""
    return select_events(plan.viewer, plan.flt, narrow_search=narrow).where == WHOLE_STORE


def _in_time_order(plan: Plan) -> Plan:
    """A page of a keyword's matches in time order.

    Walking the view (the filter without the keyword) in time order and testing each event reaches the page
    after about (offset + limit) × events in the view / matches events; finding every match through the search
    index and sorting them costs about 3 µs a match. The walk is tried when it should cost less, with the other
    way beside it, since matches may gather far from the start. Measured at 1M events, 'failed' (11,320
    matches) for a Workspace Admin: 126 ms through the index, 0.6 ms walking.
    """
    viewer, flt, offset, limit, matches = plan.viewer, plan.flt, plan.offset, plan.limit, plan.matches
    through_index = matches * SORT_SECONDS_PER_MATCH
    # a walk reads at least the events up to the page's end: with fewer matches the view is not even counted
    shortest_walk = (offset + limit) * WALK_SECONDS_PER_EVENT
    if not is_indexed(normalize_search(flt.search)) or shortest_walk >= through_index:
        return plan
    plain = replace(flt, search='')
    in_view = rollup_total(viewer, plain)
    walk = (offset + limit) * in_view / matches * WALK_SECONDS_PER_EVENT
    if walk >= through_index:
        return plan
    return replace(plan, first=Way(VIEW_WALK, narrow_search=False), other=Way(INDEX_ORDER, True),
                   seconds=max(WALK_SECONDS, through_index), head_start=HEAD_START).noting(
        f'{matches:,} matches among {in_view:,} events: a walk should reach the page in about '
        f'{walk * 1000:,.1f} ms, the search index in {through_index * 1000:,.0f} ms')


def _seek(viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, total: int) -> tuple[EventFilter, int, int] | None:
    """A deep page in time order without stepping over every event before it: `flt` narrowed to the events
    beyond a bucket boundary, how many of those to skip (fewer than one bucket holds), and how many the
    narrowed view holds.

    The boundary is placed by the view's own counts per bucket and status, which the total was summed from
    (store/read/counts.py keeps them), so any view, a keyword's or a user's too, is placed without a second pass.
    Measured at 1M events, the middle page of 'notebook' took 231 ms stepping over the matches before it.
    None when the sort is not by time or the page is in the first bucket.
    """
    if sort.column != 'timestamp':
        return None
    width = resolution(viewer, flt)
    counts = view_counts(viewer, flt, width)
    passed = 0
    for bucket in sorted(counts, reverse=sort.descending):
        count = sum(counts[bucket])
        if passed + count > offset:
            break
        passed += count
    else:
        return None
    if passed == 0:
        return None
    if sort.descending:
        return replace(flt, until=from_millis((bucket + 1) * width)), offset - passed, total - passed
    return replace(flt, since=from_millis(bucket * width)), offset - passed, total - passed


def is_common_term(search: str, total: int, offset: int) -> bool:
    """Whether a search matches so many rows that a near page is found faster by walking time order."""
    term = normalize_search(search)
    if not is_indexed(term) or total < COMMON_MATCHES or offset > 10_000 or not is_sqlite():
        return False
    probe = database.execute_sql(
        'SELECT count(*) FROM (SELECT rowid FROM search.event_search WHERE event_search MATCH ? LIMIT ?)',
        (term_query(term), COMMON_MATCHES)).fetchone()[0]
    return probe >= COMMON_MATCHES
