"""The ways a page of a view can be read, each one query: in an order an index gives, in a column's sort
table's order (store/derived/sort_index.py keeps the tables), or by sorting the matches.
store/read/planner.py chooses among them."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, replace
from typing import Any

from store.derived import sort_index
from store.engine.db import database, is_sqlite
from store.engine.dialect import unindexed
from store.read.query import EventFilter, Query, Viewer, add_time_range, days_touched_where

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
    """The scopes of which the daily counts hold events of the view (`flt` without keyword or user, over the
    whole days its range touches), the one with the most first."""
    where = days_touched_where(viewer, replace(flt, search='', user=None))
    if where is None:
        return []
    return [scope for scope, _ in database.execute_sql(
        f'SELECT c.scope, sum(c.n) FROM event_count c WHERE {where[0]} GROUP BY c.scope ORDER BY 2 DESC', where[1])]


def merged_in_order(walks: list[tuple[Query, str | None]], sort: Sort, offset: int, limit: int,
                    after: Key | None = None) -> list[tuple]:
    """The page at `offset` of the events the `walks` read (each a query and its index, `in_order`), merged in
    `sort`'s order. Each walk reads at most offset + limit events, and once that many are found, only those
    up to the last of them in the order: a walk of few of the view's events (a Workspace Admin's in a scope
    of other workspaces' events) then stops where the others' page ends instead of reading all its events."""
    if len(walks) == 1:
        query, index = walks[0]
        return in_order(query, sort, offset, limit, True, after, index)
    wanted = offset + limit
    rows: list[tuple] = []
    for query, index in walks:
        if len(rows) >= wanted:
            bound, params = up_to(sort, key_of(sort, rows[wanted - 1]))
            query = Query(f'{query.where} AND {bound}', [*query.params, *params])
        page = in_order(query, sort, 0, wanted, True, after, index)
        merged = heapq.merge(rows, page, key=lambda row: key_of(sort, row), reverse=sort.descending)
        rows = list(itertools.islice(merged, wanted))
    return rows[offset:]


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
    index = f' INDEXED BY {indexed_by}' if indexed_by else ''
    return database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE e.seq IN (SELECT e.seq FROM event e{index} WHERE {query.where} '
        f'ORDER BY {order(sort, by_index)} LIMIT ? OFFSET ?) ORDER BY {order(sort)}',
        [*query.params, limit, offset]).fetchall()


def walk(query: Query, sort: Sort, offset: int, limit: int, viewer: Viewer, flt: EventFilter,
         after: Key | None = None) -> list[tuple]:
    """A page read in the order of the column's sort table (store/derived/sort_index.py); `after`: from the
    entry after that position on (a range of the table's key), the tail's events after it too."""
    direction = 'DESC' if sort.descending else 'ASC'
    upto = sort_index.sorted_upto()
    entries, entry_params = prefilter(viewer, flt)
    if after is not None:
        condition, params = beyond(sort, after, 's')
        entries, entry_params = f'{entries} AND {condition}', [*entry_params, *params]
        query = _after(query, sort, after)
    rows = database.execute_sql(page_sql(sort.column, COLUMNS, query.where, direction, entries),
                                [*entry_params, *query.params, upto, *query.params, upto, offset + limit,
                                 limit, offset]).fetchall()
    return [row[:-3] for row in rows]


def prefilter(viewer: Viewer, flt: EventFilter) -> tuple[str, list[Any]]:
    """Conditions on a sort table's entries (`s`) that every event of the view meets: they skip entries
    before the event is read. A superset only; the view's own WHERE decides (an entry may lack its pair)."""
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
    if pair:
        clauses.append('(s.pair IS NULL OR s.pair IN (SELECT id FROM facet_marker WHERE '
                       + ' AND '.join(f'{column} = ?' for column, _ in pair) + '))')
        params += [value for _, value in pair]
    if flt.status:
        clauses.append('s.failed = ?')
        params.append(int(flt.status == 'FAILED'))
    add_time_range(flt, 's', clauses, params)
    return ' AND '.join(clauses) or '1 = 1', params


def page_sql(column: str, columns: str, where: str, direction: str, entries: str = '1 = 1') -> str:
    """One page in `column` order: the sort table walked in order, merged with the sorted tail.

    Parameters, in order: the `entries` (see `prefilter`) and `where` parameters and sorted_upto (sorted
    part), the `where` parameters, sorted_upto and offset + limit (tail), then limit and offset. Each row
    ends with three sort keys. The sorted part drives the join (CROSS JOIN keeps SQLite from reordering
    it), so it costs about (offset + limit) × entries / matches lookups: for a broad view, not a few matches.
    The tail is read by position (NOT INDEXED: SQLite would otherwise walk a facet's index, which cannot
    tell that the tail is short, through all of its events).
    """
    table = sort_index.TABLES[column]
    order = f'sort_value {direction}, sort_ts {direction}, sort_seq {direction}'
    return f"""SELECT {columns}, s.{column} AS sort_value, s.ts AS sort_ts, s.seq AS sort_seq
        FROM {table} s CROSS JOIN event e ON e.seq = s.seq
        WHERE {entries} AND {where} AND s.seq <= ?
        UNION ALL
        SELECT * FROM (SELECT {columns}, e.{column}, e.ts, e.seq FROM event e NOT INDEXED
                       WHERE {where} AND e.seq > ?
                       ORDER BY e.{column} {direction}, e.ts {direction}, e.seq {direction} LIMIT ?)
        ORDER BY {order} LIMIT ? OFFSET ?"""
