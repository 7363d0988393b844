"""What differs between SQLite and PostgreSQL, in one place.

The store's SQL is written once, with `?` placeholders (PostgreSQL's connection rewrites them, see
store/engine/db.py). Only what has no common spelling lives here: schema DDL and the search clause.
"""

from __future__ import annotations

import re

from store.engine.db import database, is_sqlite


class SqliteOnly(str):
    """A schema statement that only SQLite runs (its PostgreSQL counterpart is a PostgresOnly next to it)."""


class PostgresOnly(str):
    """A schema statement that only PostgreSQL runs."""


_INTEGER_KEY = re.compile(r'\bINTEGER PRIMARY KEY\b')
_INTEGER = re.compile(r'\bINTEGER\b')


def ddl(sql: str) -> str | None:
    """`sql` as this engine spells it, or None when the statement is not for this engine.

    Generic DDL is written in SQLite's words; on PostgreSQL an INTEGER PRIMARY KEY becomes a
    BIGSERIAL, every other INTEGER a BIGINT (timestamps are milliseconds), and WITHOUT ROWID goes.
    """
    if is_sqlite():
        return None if isinstance(sql, PostgresOnly) else sql
    if isinstance(sql, SqliteOnly):
        return None
    if isinstance(sql, PostgresOnly):
        return sql
    sql = _INTEGER_KEY.sub('BIGSERIAL PRIMARY KEY', sql)
    sql = _INTEGER.sub('BIGINT', sql)
    return sql.replace(') WITHOUT ROWID', ')')


def substring_clause(column: str) -> str:
    """A condition that `column` contains the parameter's text (pass it through `substring_param`)."""
    if is_sqlite():
        return f'instr({column}, ?) > 0'
    return f"{column} LIKE '%' || ? || '%' ESCAPE '\\'"


def substring_param(term: str) -> str:
    if is_sqlite():
        return term
    return term.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


def unindexed(column: str, text: bool = True) -> str:
    """`column` as an ORDER BY term no index can give, so the engine finds the matches first and sorts them
    (SQLite's unary `+`; PostgreSQL's planner sees through nothing but an expression)."""
    if is_sqlite():
        return f'+{column}'
    return f"({column} || '')" if text else f'({column} + 0)'


def index_hint(index: str | None) -> str:
    """SQLite's `INDEXED BY index` after a table's name; nothing on PostgreSQL, whose planner chooses."""
    return f' INDEXED BY {index}' if index and is_sqlite() else ''


def orders_text_as_python() -> bool:
    """Whether the engine orders text by code point, as Python compares strings, so pages read apart (ways
    merged in Python, store/read/ways.py) can be merged by their keys: SQLite's BINARY collation; on
    PostgreSQL, a database of the C collation (the one `scripts/with-postgres` makes)."""
    if is_sqlite():
        return True
    collation = database.execute_sql('SELECT datcollate FROM pg_database WHERE datname = current_database()')
    return collation.fetchone()[0] in ('C', 'POSIX', 'C.UTF-8', 'C.utf8')
