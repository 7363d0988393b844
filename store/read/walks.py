"""A page read in the order of a column's sort table (store/derived/sort_index.py keeps the tables)."""

from __future__ import annotations

from typing import Any

from store.derived.sort_index import TABLES
from store.read.query import EventFilter, Viewer, add_time_range


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
    table = TABLES[column]
    order = f'sort_value {direction}, sort_ts {direction}, sort_seq {direction}'
    return f"""SELECT {columns}, s.{column} AS sort_value, s.ts AS sort_ts, s.seq AS sort_seq
        FROM {table} s CROSS JOIN event e ON e.seq = s.seq
        WHERE {entries} AND {where} AND s.seq <= ?
        UNION ALL
        SELECT * FROM (SELECT {columns}, e.{column}, e.ts, e.seq FROM event e NOT INDEXED
                       WHERE {where} AND e.seq > ?
                       ORDER BY e.{column} {direction}, e.ts {direction}, e.seq {direction} LIMIT ?)
        ORDER BY {order} LIMIT ? OFFSET ?"""
