"""The ways a page of a view can be read, each one query: in an order an index gives, in a column's sort
table's order, or by sorting the matches. store/read/planner.py chooses among them."""

from __future__ import annotations

from dataclasses import dataclass

from store.derived import sort_index
from store.engine.db import database
from store.engine.dialect import unindexed
from store.read import walks
from store.read.query import EventFilter, Query, Viewer

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
    entries, entry_params = walks.prefilter(viewer, flt)
    rows = database.execute_sql(walks.page_sql(sort.column, COLUMNS, query.where, direction, entries),
                                [*entry_params, *query.params, upto, *query.params, upto, offset + limit,
                                 limit, offset]).fetchall()
    return [row[:-3] for row in rows]
