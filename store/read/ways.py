"""The ways a page of a view can be read, each one query: in an order an index gives, in a column's sort
table's order (store/derived/sort_index.py keeps the tables), or by sorting the matches.
store/read/planner.py chooses among them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.derived import sort_index
from store.engine.db import database
from store.engine.dialect import unindexed
from store.read.query import EventFilter, Query, Viewer, add_time_range

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


def order(sort: Sort, by_index: bool = True) -> str:
    """The ORDER BY of `sort`; with `by_index` off, no index can give it (store/engine/dialect.py `unindexed`),
    so the matches are found first and sorted."""
    direction = 'DESC' if sort.descending else 'ASC'
    column = SORTABLE[sort.column]
    if column == 'e.ts':
        columns = ['e.ts', 'e.seq']
    elif column == 'e.category':  # categories repeat across scopes; one index serves this order and the filter
        columns = ['e.category', 'e.scope', 'e.ts', 'e.seq']
    else:
        columns = [column, 'e.ts', 'e.seq']
    return ', '.join(f'{name if by_index else unindexed(name, name not in ("e.ts", "e.seq"))} {direction}'
                     for name in columns)



def in_order(query: Query, sort: Sort, offset: int, limit: int, by_index: bool = True) -> list[tuple]:
    """The page's positions are found first, then its rows are read: when the matches are sorted, the columns
    (the workspace's name is a subquery) are built for the page only, not for every match (measured at 1M
    events: 'nb-' sorted by category, 1,175 → 469 ms)."""
    return database.execute_sql(
        f'SELECT {COLUMNS} FROM event e WHERE e.seq IN (SELECT e.seq FROM event e WHERE {query.where} '
        f'ORDER BY {order(sort, by_index)} LIMIT ? OFFSET ?) ORDER BY {order(sort)}',
        [*query.params, limit, offset]).fetchall()


def walk(query: Query, sort: Sort, offset: int, limit: int, viewer: Viewer, flt: EventFilter) -> list[tuple]:
    """A page read in the order of the column's sort table (store/derived/sort_index.py)."""
    direction = 'DESC' if sort.descending else 'ASC'
    upto = sort_index.sorted_upto()
    entries, entry_params = prefilter(viewer, flt)
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
