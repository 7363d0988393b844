"""The ways a page of a view can be read, each one query: in an order an index gives, in a column's sort
table's order (store/derived/sort_index.py keeps the tables), or by sorting the matches.
store/read/planner.py chooses among them."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from store.derived import rollup, sort_index
from store.engine.db import database, is_sqlite
from store.engine.dialect import index_hint, unindexed
from store.ledger.buckets import DAY
from store.read.query import EventFilter, Query, Viewer, add_time_range, days_touched_where
from store.read.tallies import searched

SORTABLE = {
    'timestamp': 'e.ts', 'user': 'e.actor', 'scope': 'e.scope', 'category': 'e.category', 'action': 'e.action',
    'target': 'e.target', 'status': 'e.status', 'description': 'e.description',
}


@dataclass(frozen=True)
class Sort:
    column: str = 'timestamp'
    descending: bool = True

    def __post_init__(self) -> None:
        if self.column not in SORTABLE:
            raise ValueError(f'cannot sort by {self.column!r}; sortable columns are {", ".join(SORTABLE)}')


COLUMNS = """e.seq, e.uid, e.ts, e.actor, e.scope, e.category, e.action, e.target, e.status, e.description,
             (SELECT name FROM workspace w WHERE w.id = e.workspace_id), e.metadata, e.hash"""


# Where each of an event row's sort keys is in COLUMNS, to continue a walk after that row.
_IN_ROW = {'e.seq': 0, 'e.ts': 2, 'e.actor': 3, 'e.scope': 4, 'e.category': 5, 'e.action': 6, 'e.target': 7,
           'e.status': 8, 'e.description': 9}
# The SQLite index whose order is each column's order (store/lifecycle/schema.py creates them; target and
# description have sort tables instead): an order walk follows it (`in_order`'s `indexed_by`).
ORDER_INDEX = {'timestamp': 'event_ts', 'user': 'event_actor_ts_facets', 'scope': 'event_scope_ts',
               'category': 'event_category_scope_ts', 'action': 'event_action_ts', 'status': 'event_status_ts'}

# The index a walk of a view in time order follows (SQLite), by the view's equalities: left to itself, SQLite
# may take an index of the view that does not give the time order and sort every event of the view. Measured
# at 10M events, 'failed' in category Plan (3,767 matches; the category has one scope): event_category_scope_ts
# by category alone, 53,376 events read and sorted, 229 ms; the whole time order walked (event_ts) 52 ms; the
# category and its scope's events walked in time order 2 ms. The first that applies, columns and index:
_TIME_ORDER_INDEX = ((('user',), 'event_actor_ts_facets'), (('scope', 'category'), 'event_category_scope_ts'),
                     (('scope',), 'event_scope_ts'), (('workspace',), 'event_workspace_ts'),
                     (('status',), 'event_status_ts'))


def in_time_order(query: Query, viewer: Viewer, flt: EventFilter) -> list[tuple[Query, str | None]]:
    """The walks in time order that together read the view `query` (the viewer's, of the filter `flt`): each a
    query and the index it follows, None when none of `_TIME_ORDER_INDEX` applies (SQLite chooses).

    A category without a scope is walked once per scope that has events of it in the view (by the daily
    counts, which hold every event's), by the index of both, the scope with the most first, and the walks are
    merged (`merged_in_order`): one index cannot give a category of several scopes in time order, and SQLite
    sorted all its events. Measured at 10M events, first page and total: 'failed' in category Member (of
    Organization and Workspace; 1,105,735 events) 972 ms, 'alice' in it 917."""
    if flt.category and not flt.scope and not flt.user:
        scopes = _scopes_in_view(viewer, flt)
        if scopes:
            return [(Query(f'{query.where} AND e.scope = ?', [*query.params, scope]), 'event_category_scope_ts')
                    for scope in scopes]
    values = {'user': flt.user, 'scope': flt.scope, 'category': flt.category, 'workspace': flt.workspace,
              'status': flt.status}
    return [(query, next((index for columns, index in _TIME_ORDER_INDEX if all(values[c] for c in columns)), None))]


def _scopes_in_view(viewer: Viewer, flt: EventFilter) -> list[str]:
    """The scopes of which the daily counts hold events of the view, the one with the most first."""
    return [scope for scope, _ in _counted(viewer, flt, ('scope',), '2 DESC')]


def _counted(viewer: Viewer, flt: EventFilter, columns: tuple[str, ...], order: str,
             by_user: bool = False) -> list[tuple]:
    """The values of `columns` of which the daily counts hold events of the view (`flt` without keyword, over
    the whole days its range touches; a user filter, or `by_user`, from the counts per user), each with their
    number of events, ordered by `order` (SQL naming the result's columns by position)."""
    by_user = by_user or bool(flt.user)
    where = days_touched_where(viewer, replace(flt, search='', user=flt.user if by_user else None), by_user)
    if where is None:
        return []
    names = ', '.join(f'c.{column}' for column in columns)
    return database.execute_sql(f'SELECT {names}, sum(c.n) FROM {"event_user_count" if by_user else "event_count"} '
                                f'c WHERE {where[0]} GROUP BY {names} ORDER BY {order}', where[1]).fetchall()


# The columns of few values (the daily counts hold them) and the values that split a view into groups, each one
# value of the order: a page in such a column's order is the groups one after the other, each read in time order.
_GROUPED_BY = {'scope': ('scope',), 'category': ('category', 'scope'), 'status': ('status',), 'user': ('actor',)}
_FILTERED_AS = {'actor': 'user'}  # the filter's field of each of those columns, where its name differs


def grouped(column: str) -> bool:
    """Whether a page in `column`'s order can be read as the view's groups of one value (`by_value`)."""
    return column in _GROUPED_BY


# A group's events as a view of its own (the filter, at an offset, a limit, the group's exact count), read in
# time order by the planner (store/read/planner.py), which places a deep page by the view's counts.
GroupPage = Callable[[EventFilter, int, int, int], list[tuple]]


def by_value(query: Query, viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, limit: int,
             after: Key | None = None, page_of: GroupPage | None = None) -> list[tuple]:
    """The page at `offset` of the view `query` (the viewer's, of `flt` without keyword) in the order of a
    column of few values (`_GROUPED_BY`): the view's values of it, from the daily counts, in `sort`'s order,
    and each value's events read in time order, until the page is full. With `page_of` (the counts hold
    exactly the view: no time range or bound on positions; a user's, the counts per user), a value whose
    events all lie before the page is passed by its count without reading them, and each value's events are
    read as a view of their own by `page_of`; else by the walks `in_time_order` chooses for it, which step over
    the events before the page (measured at 1M events, at offset 5,000: FAILED by scope descending 130 ms,
    category Member by status ascending 191).

    A walk of the column's own index tests each event of the other values it passes, and sorting the matches
    costs about 0.6 µs a match: measured at 1M events, workspace research by scope 60 ms, scope Billing by
    category 61, a Workspace Admin's category Member by status 46."""
    keys = _GROUPED_BY[sort.column]
    direction = 'DESC' if sort.descending else 'ASC'
    groups = _counted(viewer, flt, keys, ', '.join(f'{n} {direction}' for n in range(1, len(keys) + 1)),
                      'actor' in keys)

    def part_of(value: tuple) -> EventFilter:
        return replace(flt, **{_FILTERED_AS.get(key, key): one for key, one in zip(keys, value, strict=True)})

    def walks_of(value: tuple) -> list[tuple[Query, str | None]]:
        part = Query(query.where + ''.join(f' AND e.{key} = ?' for key in keys), [*query.params, *value])
        return in_time_order(part, viewer, part_of(value))

    def read(value: tuple, count: int, skip: int, wanted: int, since: Key | None) -> tuple[list[tuple], int]:
        if page_of is not None and since is None:
            return page_of(part_of(value), skip, wanted - skip, count), min(count, wanted)
        return _in_time(walks_of(value), sort.descending, skip, wanted, since)

    return _value_after_value([(tuple(values), int(count), read) for *values, count in groups], sort, offset, limit,
                              after, page_of is not None)


# Reads a group's events in time order: (its value, its count, how many to skip, how many to reach, the position
# to start after) → the rows after the skipped ones, and how many events were reached.
GroupRead = Callable[[tuple, int, int, int, 'Key | None'], tuple[list[tuple], int]]


def _in_time(walks: list[tuple[Query, str | None]], descending: bool, skip: int, wanted: int,
             since: Key | None) -> tuple[list[tuple], int]:
    """The rows of the first `wanted` events the `walks` read in time order (after `since`) less the first
    `skip`, and how many were reached (a `GroupRead`)."""
    found = merged_keys(walks, Sort('timestamp', descending), wanted, since)
    return rows_at(found[skip:]), len(found)


def _value_after_value(groups: list[tuple[tuple, int, GroupRead]], sort: Sort, offset: int, limit: int,
                       after: Key | None, counted: bool) -> list[tuple]:
    """The page at `offset` of `groups` read one after the other: each a value of the first columns of `sort`'s
    order (in that order), the number of its events (with `counted`: exact, so a group lying wholly before
    the page is passed by it) and how its events are read in time order. `after`: the page starts after that
    position."""
    width = len(groups[0][0]) if groups else 0
    start = None if after is None else tuple(after[:width])
    rows: list[tuple] = []
    skip = offset
    for value, count, read in groups:
        if start is not None and (value > start if sort.descending else value < start):
            continue  # before the position the page starts after
        since = after[width:] if after is not None and value == start else None
        if counted and since is None and count <= skip:
            skip -= count
            continue
        found, reached = read(value, count, skip, skip + limit - len(rows), since)
        rows += found
        skip -= min(skip, reached)
        if len(rows) >= limit:
            break
    return rows


# The index in each column's order within each (scope, category) pair (store/lifecycle/schema.py steps 25 and 26;
# SQLite reads targets and descriptions by pair from its sort tables instead, `walk`).
PAIR_ORDER_INDEX = {'action': 'event_pair_action_ts'}
POSTGRES_PAIR_ORDER_INDEX = {**PAIR_ORDER_INDEX, 'target': 'event_pair_target_ts',
                             'description': 'event_pair_description_ts'}


def values_walked(column: str) -> bool:
    """Whether a time range's page in `column`'s order is read value after value (`by_pairs`, `_values_of`): a
    column of few values, action. Targets and descriptions have about as many values as events: measured on
    PostgreSQL at 1M events, the last 7 days by description 89.6 ms value after value, 3.1 in its own plan."""
    return column in PAIR_ORDER_INDEX


def pair_order_index(column: str) -> str | None:
    """The index of the events of each pair in `column`'s order on this engine, None if it has none."""
    return (PAIR_ORDER_INDEX if is_sqlite() else POSTGRES_PAIR_ORDER_INDEX).get(column)


def by_pairs(query: Query, viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, limit: int,
             after: Key | None = None, counted: bool = False) -> list[tuple]:
    """The page at `offset` of the view `query` (the viewer's, of the filter `flt`) in `sort`'s order (a column
    with an index by pair, `pair_order_index`), read pair by pair: each (scope, category) pair of which the daily
    counts hold events of the view, the pair with the most first, walked in the pair's index, and the walks
    merged. A view of a time range is read value after value of the column, each value's pairs in time order
    (`_values_of`). With `counted` (the counts hold exactly the view: no time range or bound on positions), a
    page in action order is placed by the counts per action (`_placed_by_actions`). A user's events are few in
    each pair's index, which does not hold the user: measured at 1M events, user bob's events in scope Workspace
    (3,827) by action at offset 1,853, 91-99 ms pair by pair."""
    index = pair_order_index(sort.column)
    assert index is not None, sort.column

    def walk(pair: tuple[str, str], value: tuple = ()) -> tuple[Query, str | None]:
        column = f' AND {SORTABLE[sort.column]} = ?' if value else ''
        return Query(f'{query.where} AND e.category = ? AND e.scope = ?{column}',
                     [*query.params, pair[1], pair[0], *value]), index

    if counted and sort.column == 'action':
        return _placed_by_actions(query, viewer, flt, sort, offset, limit, walk)
    pairs = [(scope, category) for scope, category, _ in _counted(viewer, flt, ('scope', 'category'), '3 DESC')]
    if not (flt.since or flt.until):
        return merged_in_order([walk(pair) for pair in pairs], sort, offset, limit, after)
    holding: dict[Any, list[tuple[str, str]]] = {}
    for pair in pairs:
        for value in _values_of(sort.column, index, *pair):
            holding.setdefault(value, []).append(pair)

    def read(value: tuple, count: int, skip: int, wanted: int, since: Key | None) -> tuple[list[tuple], int]:
        return _in_time([walk(pair, value) for pair in holding[value[0]]], sort.descending, skip, wanted, since)

    return _value_after_value([((value,), 0, read) for value in sorted(holding, reverse=sort.descending)], sort,
                              offset, limit, after, False)


def _placed_by_actions(query: Query, viewer: Viewer, flt: EventFilter, sort: Sort, offset: int, limit: int,
                       walk: Callable[[tuple[str, str], tuple], tuple[Query, str | None]]) -> list[tuple]:
    """The page at `offset` of a view in action order, placed by the counts per action and day (a user's: per
    user, action and day; store/derived/rollup.py), which must hold exactly the view: the actions before the page
    passed by their counts, and within the action holding its start, the days before it; from that day's
    boundary on, each of the action's pairs `walk`ed in time order and merged (a user's events: the user's own
    index in time order, which holds the facets; the pairs' index does not hold the user, and a user's FAILED
    events at the middle took 82-87 ms through it at 1M). A merge of the pairs' walks in
    action order steps over every event before the page: measured at 1M events, the middle page of workspace
    research by action (offset 80,798) 251-288 ms, of user bob's events (17,941) 75-77."""
    where = days_touched_where(viewer, replace(flt, search=''), by_user=True)
    if where is None:
        return []
    pairs: dict[str, set[tuple[str, str]]] = {}
    days: dict[str, dict[int, int]] = {}
    for action, scope, category, day, count in database.execute_sql(
            f'SELECT c.action, c.scope, c.category, c.day, sum(c.n) FROM '
            f'{rollup.BY_USER_ACTION if flt.user else rollup.BY_ACTION} c WHERE {where[0]} GROUP BY 1, 2, 3, 4',
            where[1]):
        pairs.setdefault(action, set()).add((scope, category))
        days.setdefault(action, {})[day] = days.get(action, {}).get(day, 0) + int(count)

    def read(value: tuple, count: int, skip: int, wanted: int, since: Key | None) -> tuple[list[tuple], int]:
        action = value[0]
        passed, start = 0, None
        for day, events in sorted(days[action].items(), reverse=sort.descending):
            if passed + events > skip:
                break
            passed += events
            start = (day * DAY, 0) if sort.descending else ((day + 1) * DAY - 1, 2 ** 62)
        walks = (in_time_order(Query(f'{query.where} AND e.action = ?', [*query.params, action]), viewer, flt)
                 if flt.user else [walk(pair, (action,)) for pair in sorted(pairs[action])])
        rows, reached = _in_time(walks, sort.descending, skip - passed, wanted - passed, start)
        return rows, passed + reached

    return _value_after_value([((action,), sum(days[action].values()), read)
                               for action in sorted(days, reverse=sort.descending)], sort, offset, limit, None, True)


def _values_of(column: str, index: str, scope: str, category: str) -> list[Any]:
    """The values of `column` among the events of a (scope, category) pair, one probe of the pair's `index`
    each. A time range is then walked in each value's part of the index, where the range is one slice: a
    walk of the whole pair in the column's order passes every event of each value outside the range
    (measured at 10M events, the last 7 days by action ascending: 307 ms)."""
    name = SORTABLE[column].removeprefix('e.')
    rows = database.execute_sql(
        f"""WITH RECURSIVE v(value) AS (
            SELECT min({name}) FROM event{index_hint(index)} WHERE category = ? AND scope = ?
            UNION ALL SELECT (SELECT min({name}) FROM event{index_hint(index)} WHERE category = ? AND scope = ?
                              AND {name} > v.value) FROM v WHERE v.value IS NOT NULL)
        SELECT value FROM v WHERE value IS NOT NULL""", (category, scope, category, scope)).fetchall()
    return [row[0] for row in rows]


def merged_in_order(walks: list[tuple[Query, str | None]], sort: Sort, offset: int, limit: int,
                    after: Key | None = None) -> list[tuple]:
    """The page at `offset` of the events the `walks` read (each a query and its index, `in_order`), merged in
    `sort`'s order."""
    if len(walks) == 1:
        query, index = walks[0]
        return in_order(query, sort, offset, limit, True, after, index)
    return rows_at(merged_keys(walks, sort, offset + limit, after)[offset:])


def merged_keys(walks: list[tuple[Query, str | None]], sort: Sort, wanted: int, after: Key | None = None) -> list[Key]:
    """The positions in `sort`'s order (`order_columns`) of the first `wanted` events the `walks` read, merged.

    Only the positions are read, from the walk's index where it holds the view's columns, and the page's rows
    after (`rows_at`): each walk of a deep page reads up to offset + limit events, and building every one of
    their rows cost more than finding them (measured at 1M events, workspace research by action at offset 5,000,
    seven pairs: 405 ms for their rows, 253 for their positions)."""
    readers = [_Walk(query, index, sort, wanted, after) for query, index in walks]

    def bound() -> Key | None:
        """A position up to which the walks' positions read so far hold `wanted` or more (so the page ends there
        or before), None until they do."""
        read = 0
        for last, count in sorted(((one.last, one.read) for one in readers if one.last is not None),
                                  reverse=sort.descending):
            read += count
            if read >= wanted:
                return last
        return None

    return list(itertools.islice(heapq.merge(*(reader.positions(bound) for reader in readers),
                                             reverse=sort.descending), wanted))


class _Walk:
    """The positions of at most `wanted` events of one walk (a query and the index it follows) in `sort`'s order
    after `after`, read as the merge takes them, in chunks that double from FIRST_CHUNK, each continuing after the
    last and ending at the merge's bound: a walk whose events come late in the order is read no further than
    the page's last position, whichever walk is read first, and one of few of the view's events (a user's in a
    pair of many users) stops where the others' page ends. One read of `wanted` per walk, later walks bounded by
    the page found so far, read too much of the walks first taken: measured at 1M events, FAILED by action
    ascending at offset 5,000 (13 pairs) 34 → 13 ms."""

    FIRST_CHUNK = 64

    def __init__(self, query: Query, index: str | None, sort: Sort, wanted: int, after: Key | None) -> None:
        self.query, self.index, self.sort, self.wanted, self.after = query, index, sort, wanted, after
        self.read = 0
        self.last: Key | None = None

    def positions(self, bound: Callable[[], Key | None]) -> Iterator[Key]:
        names = ', '.join(order_columns(self.sort))
        size = self.FIRST_CHUNK
        while self.read < self.wanted:
            part = _after(self.query, self.sort, self.last or self.after)
            end = bound()
            if end is not None:
                condition, params = up_to(self.sort, end)
                part = Query(f'{part.where} AND {condition}', [*part.params, *params])
            chunk = min(size, self.wanted - self.read)
            found = [tuple(row) for row in database.execute_sql(
                f'SELECT {names} FROM event e{index_hint(self.index)} WHERE {part.where} ORDER BY {order(self.sort)} '
                'LIMIT ?', [*part.params, chunk])]
            if found:
                self.read += len(found)
                self.last = found[-1]
            yield from found
            if len(found) < chunk:
                return
            size *= 2


def rows_at(keys: list[Key]) -> list[tuple]:
    """The rows (COLUMNS) of the events at these positions (each ending with the event's seq), in their order."""
    seqs = [key[-1] for key in keys]
    if not seqs:
        return []
    found = {row[0]: row for row in database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE e.seq IN ({",".join("?" * len(seqs))})', seqs)}
    return [found[seq] for seq in seqs]


Key = tuple[Any, ...]  # an event's values of its order's columns (`order_columns`): a position in a walk


def order_columns(sort: Sort) -> list[str]:
    """The columns of `sort`'s order, ties broken by time and then storage position, so the order is total."""
    column = SORTABLE[sort.column]
    if column == 'e.ts':
        return ['e.ts', 'e.seq']
    if column == 'e.category':  # categories repeat across scopes; one index serves this order and the filter
        return ['e.category', 'e.scope', 'e.ts', 'e.seq']
    return [column, 'e.ts', 'e.seq']


def order(sort: Sort, by_index: bool = True) -> str:
    """The ORDER BY of `sort`; with `by_index` off, no index can give it (store/engine/dialect.py `unindexed`),
    so the matches are found first and sorted."""
    direction = 'DESC' if sort.descending else 'ASC'
    return ', '.join(f'{name if by_index else unindexed(name, name not in ("e.ts", "e.seq"))} {direction}'
                     for name in order_columns(sort))


def key_of(sort: Sort, row: tuple) -> Key:
    """The position of the event `row` (in COLUMNS) in `sort`'s order."""
    return tuple(row[_IN_ROW[name]] for name in order_columns(sort))


def up_to(sort: Sort, key: Key) -> tuple[str, list[Any]]:
    """A condition on the events (`e`) holding for the event at `key` in `sort`'s order and those before it."""
    names = ', '.join(order_columns(sort))
    return f'({names}) {">=" if sort.descending else "<="} ({",".join("?" * len(key))})', list(key)


def beyond(sort: Sort, key: Key, table: str = 'e') -> tuple[str, list[Any]]:
    """A condition on `table` (the events, or a sort table's entries `s`) holding for the events after `key` in
    `sort`'s order: one row-value comparison, which either engine turns into a range of the order's index."""
    names = ', '.join(table + name.removeprefix('e') for name in order_columns(sort))
    return f'({names}) {"<" if sort.descending else ">"} ({",".join("?" * len(key))})', list(key)


def stored_upto(query: Query, upto: int | None) -> Query:
    """`query` less the events stored after position `upto` (None: all of them). On SQLite the bound is kept
    from the choice of index (unary `+`): as a range of positions it made SQLite read every event of the range
    and sort them, not walk the order's index (measured at 1M events, a page of 'notebook': 540 ms)."""
    if upto is None:
        return query
    return Query(f'{query.where} AND {"+" if is_sqlite() else ""}e.seq <= ?', [*query.params, upto])


def _after(query: Query, sort: Sort, key: Key | None) -> Query:
    if key is None:
        return query
    condition, params = beyond(sort, key)
    return Query(f'{query.where} AND {condition}', [*query.params, *params])


def in_order(query: Query, sort: Sort, offset: int, limit: int, by_index: bool = True, after: Key | None = None,
             indexed_by: str | None = None) -> list[tuple]:
    """The page's positions are found first, then its rows are read: when the matches are sorted, the columns
    (the workspace's name is a subquery) are built for the page only, not for every match (measured at 1M
    events: 'nb-' sorted by category, 1,175 → 469 ms). `after`: only the events after that position in
    `sort`'s order; `indexed_by` (SQLite): follow that index, whatever SQLite would choose."""
    query = _after(query, sort, after)
    index = index_hint(indexed_by)
    return database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE e.seq IN (SELECT e.seq FROM event e{index} WHERE {query.where} '
        f'ORDER BY {order(sort, by_index)} LIMIT ? OFFSET ?) ORDER BY {order(sort)}',
        [*query.params, limit, offset]).fetchall()


def walk(query: Query, sort: Sort, offset: int, limit: int, viewer: Viewer, flt: EventFilter,
         after: Key | None = None) -> list[tuple]:
    """A page read in the order of the column's sort table (store/derived/sort_index.py); `after`: from the
    entry after that position on (a range of the table's key), the tail's events after it too. A view of some
    pairs (a scope, a category) reads each pair's entries through the table's index by pair."""
    direction = 'DESC' if sort.descending else 'ASC'
    upto = sort_index.sorted_upto()
    pairs = _pairs(viewer, flt)
    entries = prefilter(viewer, flt, by_pair=pairs is None)
    if after is not None:
        condition, params = beyond(sort, after, 's')
        entries = Query(f'{entries.where} AND {condition}', [*entries.params, *params])
        query = _after(query, sort, after)
    sql, params = page_sql(sort.column, query, direction, entries, pairs, upto, offset, limit, entries_decide(flt))
    return rows_at(database.execute_sql(sql, params).fetchall())


def placed(query: Query, sort: Sort, offset: int, viewer: Viewer, flt: EventFilter) -> tuple[Key, int] | None:
    """Where the page at `offset` of a view in a sort table's order starts, placed by the table's blocks
    (store/derived/sort_index.py): the position the page's walk goes on after (`walk`'s `after`) and how many
    of the view's events after it to skip, fewer than a block holds; None when the blocks cannot place it (a
    keyword, a user or a time range, which they do not count; entries without their pair in a view of some
    pairs; a table not yet cut; the page in the first block). Call in a snapshot (`read_snapshot`): the blocks
    count the table up to the position its tail starts after, and the tail's events are counted apart."""
    column = sort.column
    if not entries_decide(flt) or flt.since or flt.until or not sort_index.blocked():
        return None
    pairs = _pairs(viewer, flt)
    facets = prefilter(viewer, flt, by_pair=False)
    if pairs is not None:
        lost = database.execute_sql(f'SELECT EXISTS (SELECT 1 FROM {sort_index.TABLES[column]} '
                                    f'INDEXED BY {sort_index.PAIR_INDEXES[column]} WHERE pair IS NULL)').fetchone()[0]
        if lost or not pairs:
            return None
        facets = Query(f'{facets.where} AND s.pair IN ({",".join("?" * len(pairs))})', [*facets.params, *pairs])
    direction = 'DESC' if sort.descending else 'ASC'
    blocks = database.execute_sql(
        f"""SELECT b.value, b.ts, b.seq, sum(s.n) FROM {sort_index.TALLIES[column]} s
            JOIN {sort_index.BOUNDS[column]} b ON b.id = s.block WHERE {facets.where}
            GROUP BY b.id ORDER BY b.value {direction}, b.ts {direction}, b.seq {direction}""", facets.params)
    before = 0
    start: Key | None = None  # descending: the first position of the block read before
    for value, ts, seq, count in blocks:
        if before + count > offset:
            if not sort.descending:
                start = (value, ts, seq - 1)  # the block's entries are those after it
            break
        before += count
        start = (value, ts, seq)
    else:
        return None
    if start is None or before == 0:
        return None
    beyond_start, params = beyond(sort, start)
    tail = database.execute_sql(
        f'SELECT count(*) FROM event e NOT INDEXED WHERE {query.where} AND e.seq > ? AND NOT ({beyond_start})',
        [*query.params, sort_index.sorted_upto(), *params]).fetchone()[0]
    skip = offset - before - tail
    return None if skip < 0 else (start, skip)


def entries_decide(flt: EventFilter) -> bool:
    """Whether a sort table's entries tell by themselves (`prefilter`, and their pair) which events are in the
    view: no keyword or user, which only the events hold."""
    return not searched(flt)


def _pairs(viewer: Viewer, flt: EventFilter) -> list[int] | None:
    """The pairs (their ids in facet_marker, the sort tables' `pair`) of which the daily counts hold events of the
    view; None for a view of no scope, category or workspace, which every pair may hold.

    A workspace's events gather in some pairs, which a walk of the whole table passes one after the other:
    measured at 10M events, a Workspace Admin's first page by description ascending 53 ms."""
    if not (flt.scope or flt.category or flt.workspace or viewer.workspaces is not None):
        return None
    known = {(scope, category): pair for pair, scope, category in
             database.execute_sql('SELECT id, scope, category FROM facet_marker')}
    return sorted(known[scope, category] for scope, category, _ in _counted(viewer, flt, ('scope', 'category'), '1')
                  if (scope, category) in known)


def prefilter(viewer: Viewer, flt: EventFilter, by_pair: bool = True) -> Query:
    """Conditions on a sort table's entries (`s`) that every event of the view meets: they skip entries
    before the event is read. A superset only; the view's own WHERE decides (an entry may lack its pair).
    `by_pair` off leaves the pairs out (the caller reads the view's pairs apart)."""
    clauses: list[str] = []
    params: list[Any] = []
    if viewer.workspaces is not None:
        names = sorted(viewer.workspaces)
        clauses.append(f's.workspace_id IN (SELECT id FROM workspace WHERE name IN ({",".join("?" * len(names))}))')
        params += names
    if flt.workspace:
        clauses.append('s.workspace_id = (SELECT id FROM workspace WHERE name = ?)')
        params.append(flt.workspace)
    pair = [(column, value) for column, value in (('scope', flt.scope), ('category', flt.category)) if value]
    if pair and by_pair:
        clauses.append('(s.pair IS NULL OR s.pair IN (SELECT id FROM facet_marker WHERE '
                       + ' AND '.join(f'{column} = ?' for column, _ in pair) + '))')
        params += [value for _, value in pair]
    if flt.status:
        clauses.append('s.failed = ?')
        params.append(int(flt.status == 'FAILED'))
    add_time_range(flt, 's', clauses, params)
    return Query(' AND '.join(clauses) or '1 = 1', params)


def page_sql(column: str, query: Query, direction: str, entries: Query, pairs: list[int] | None, upto: int,
             offset: int, limit: int, decide: bool = False) -> tuple[str, list[Any]]:
    """The positions (sort value, time, seq: `order_columns`) of one page in `column` order, and the query's
    parameters: the sort table walked in order, merged with the sorted tail; with `pairs`, each pair's entries
    walked apart in the table's index by pair (at most offset + limit of each), and the entries without their
    pair (its name was missing when they were filled), and all merged.

    `entries` (see `prefilter`) are conditions on the table's entries, `query` the view's on the events. Unless
    the entries `decide` (`entries_decide`), each entry's event is read and tested: the sorted part drives the
    join (CROSS JOIN keeps SQLite from reordering it), so it costs about (offset + limit) × entries / matches
    lookups: for a broad view, not a few matches. When they decide, an entry of a known pair is taken on the
    entry alone: measured at 1M events, workspace research by target at offset 5,000 (eight pairs) 157 ms
    reading the events, 21 from the index by pair alone. The tail is read by position (NOT INDEXED: SQLite
    would otherwise walk a facet's index, which cannot tell that the tail is short, through all of its events).
    """
    table = sort_index.TABLES[column]
    order = f'sort_value {direction}, sort_ts {direction}, sort_seq {direction}'

    def part(pair: str | None, pair_params: list[Any], decided: bool) -> tuple[str, list[Any]]:
        index = f' INDEXED BY {sort_index.PAIR_INDEXES[column]}' if pair else ''
        condition = f'{pair} AND ' if pair else ''
        if decided:
            return (f"""SELECT s.{column} AS sort_value, s.ts AS sort_ts, s.seq AS sort_seq FROM {table} s{index}
                WHERE {condition}{entries.where} AND s.seq <= ?""", [*pair_params, *entries.params, upto])
        return (f"""SELECT s.{column} AS sort_value, s.ts AS sort_ts, s.seq AS sort_seq
            FROM {table} s{index} CROSS JOIN event e ON e.seq = s.seq
            WHERE {condition}{entries.where} AND {query.where} AND s.seq <= ?""",
                [*pair_params, *entries.params, *query.params, upto])

    if pairs is None:
        parts = [part(None, [], decide)]
    else:
        arms = [part('s.pair = ?', [pair], decide) for pair in pairs] + [part('s.pair IS NULL', [], False)]
        parts = [(f'SELECT * FROM ({sql} ORDER BY {order} LIMIT ?)', [*params, offset + limit]) for sql, params in arms]
    tail = (f"""SELECT * FROM (SELECT e.{column}, e.ts, e.seq FROM event e NOT INDEXED
                       WHERE {query.where} AND e.seq > ?
                       ORDER BY e.{column} {direction}, e.ts {direction}, e.seq {direction} LIMIT ?)""",
            [*query.params, upto, offset + limit])
    sql = ' UNION ALL '.join(sql for sql, _ in [*parts, tail]) + f' ORDER BY {order} LIMIT ? OFFSET ?'
    return sql, [*(param for _, params in [*parts, tail] for param in params), limit, offset]
