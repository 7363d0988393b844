"""Sorting by any column but time: the sort tables plus the unsorted tail, walked whole or pair by pair, and the
events' indexes (by pair, value after value) give exactly the plain order."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest

from store.derived import search_file, sort_index
from store.engine.db import database
from store.engine.timefmt import from_millis
from store.ledger.validation import validate_event
from store.read import planner as planner_module
from store.read import ways as ways_module
from store.read.events import EventFilter, Sort, Viewer, find_events
from store.write.ingest import append_events
from tests.conftest import event, raw_sql, utc

pytestmark = pytest.mark.sqlite_only('the sort tables are SQLite-only; PostgreSQL sorts with its own indexes')

ORG = Viewer.organization()
ALPHA = Viewer.of_workspaces('a', {'alpha'})
TARGETS = ['nb-1', 'nb-2', 'AuditViewer', 'ctr-9', 'nb-10', 'Zeta', 'ws-alpha']
DESCRIPTIONS = ['Started notebook', 'Stopped notebook', 'Added credit', 'added credit', 'Created container', 'Z']
ACTIONS = ['Start Notebook', 'Stop Notebook', 'Add Credit', 'Create Container']


def _store(add_events, start: int, count: int) -> None:
    rng = random.Random(start)
    base = utc(2026, 3, 1)
    add_events(*[event(id=f's{start + i}', user=rng.choice(['ann@acme.io', 'bob@acme.io']),
                       timestamp=(base + timedelta(minutes=rng.randrange(40))).isoformat(),
                       target=rng.choice(TARGETS), description=rng.choice(DESCRIPTIONS), action=rng.choice(ACTIONS),
                       status=rng.choice(['SUCCESS', 'FAILED']), workspace=rng.choice(['alpha', 'beta', None]),
                       scope='Service' if i % 3 else 'Billing',
                       category=('Credit', 'AI Notebook', 'GPU Container')[i % 3])
                 for i in range(count)])


def _expected(viewer: Viewer, flt: EventFilter, sort: Sort) -> list[str]:
    """Every match of the view in `sort` order, by sorting all of its events in Python."""
    rows = []
    offset = 0
    while page := find_events(viewer, flt, Sort('timestamp'), offset=offset, limit=1000).events:
        rows += page
        offset += len(page)
    rows.sort(key=lambda e: (e[sort.column], e['scope'] if sort.column == 'category' else '', e['timestamp'],
                             e['seq']), reverse=sort.descending)
    return [e['id'] for e in rows]


FILTERS = [EventFilter(), EventFilter(scope='Service'), EventFilter(status='FAILED'), EventFilter(search='notebook'),
           EventFilter(search='nb-1'), EventFilter(user='bob@acme.io'), EventFilter(scope='Billing', status='FAILED'),
           EventFilter(category='Credit'), EventFilter(workspace='beta'),
           EventFilter(since=utc(2026, 3, 1, 0, 10), until=utc(2026, 3, 1, 0, 30), status='SUCCESS')]


def _other_way_only(here, elsewhere, seconds, head_start):
    return elsewhere()


@pytest.mark.parametrize(('walk_from', 'lost_pairs', 'slow'), [
    (0, False, False), (0, True, False), (0, False, True), (10**9, False, False)],
    ids=['sort table walked', 'walked, entries without their pair', 'walks with a search or user run out of time',
         'matches sorted'])
def test_pages_equal_the_plain_order_whatever_part_is_sorted(add_events, monkeypatch, walk_from, lost_pairs, slow):
    monkeypatch.setattr(planner_module, 'SORT_TABLE_FROM', walk_from)
    monkeypatch.setattr(planner_module, 'SORT_TABLE_FROM_FACETS', walk_from)
    if slow:
        monkeypatch.setattr(planner_module, 'first_done', _other_way_only)
    walks = []
    page_sql = ways_module.page_sql
    monkeypatch.setattr(ways_module, 'page_sql', lambda *args: walks.append(args) or page_sql(*args))
    _store(add_events, 0, 90)  # in the sort tables
    assert sort_index.fill() == 90
    if lost_pairs:  # the facet pre-filter only narrows: an entry without its pair is still checked
        for table in sort_index.TABLES.values():
            database.execute_sql(f'UPDATE {table} SET pair = NULL WHERE seq % 2 = 0')
    _store(add_events, 90, 60)  # the tail, sorted when read
    assert sort_index.sorted_upto() == 90
    # action, user, scope, category and status by the events' indexes (by pair, or value after value)
    for column in ('target', 'description', 'action', 'user', 'scope', 'category', 'status'):
        for descending in (True, False):
            sort = Sort(column, descending)
            for viewer in (ORG, ALPHA):
                for flt in FILTERS:
                    whole = _expected(viewer, flt, sort)
                    for size in (7, 25):
                        for offset in range(0, len(whole) + size, size):
                            page = find_events(viewer, flt, sort, offset=offset, limit=size)
                            assert page.total == len(whole)
                            assert [e['id'] for e in page.events] == whole[offset:offset + size], \
                                (column, descending, viewer.name, flt, size, offset)
    # with SORT_TABLE_FROM out of reach, only views of some pairs walk the table (by pair, raced: see planner)
    assert bool([args for args in walks if args[4] is None]) == (walk_from == 0)
    assert any(args[4] is not None for args in walks)


def test_fill_puts_each_event_in_each_table_once(add_events):
    _store(add_events, 0, 40)
    assert sort_index.fill() == 40
    assert sort_index.fill() == 0  # nothing new
    _store(add_events, 40, 15)
    assert sort_index.flush() == 15
    for column, table in sort_index.TABLES.items():
        assert raw_sql(f'SELECT {column}, ts, seq FROM {table} ORDER BY 1, 2, 3') == \
            sorted(raw_sql(f'SELECT {column}, ts, seq FROM event'))
    assert sort_index.sorted_upto() == raw_sql('SELECT max(seq) FROM event')[0][0]


def test_the_indexer_fills_a_long_tail(monkeypatch):
    """Beside the writers (store/derived/search_file.py): no append waits for the fill."""
    monkeypatch.setattr(sort_index, 'FLUSH_AT', 30)
    append = lambda start, count: _store(  # noqa: E731 - without add_events' own wait for the indexer
        lambda *raws: append_events([validate_event(raw) for raw in raws]), start, count)
    append(0, 20)
    search_file.index_all()
    assert sort_index.sorted_upto() == 0  # under FLUSH_AT: left for later
    append(20, 20)
    deadline = time.monotonic() + 10
    while sort_index.sorted_upto() < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sort_index.sorted_upto() == 40
    assert raw_sql('SELECT count(*) FROM search.sort_target') == [(40,)]


def test_tables_of_other_events_are_not_used_and_are_filled_again(add_events, database_url, tmp_path):
    """A backup restored over the database: the tables hold events it does not have."""
    import shutil

    from store.engine.db import sqlite_path
    from store.lifecycle.opening import close_database, open_database

    _store(add_events, 0, 30)
    assert sort_index.fill() == 30
    close_database()
    path = sqlite_path(database_url)
    shutil.copyfile(path, tmp_path / 'backup.db')
    open_database(database_url)
    database.connect(reuse_if_open=True)
    _store(add_events, 30, 30)
    assert sort_index.fill() == 30
    close_database()
    for suffix in ('', '-wal', '-shm'):
        (tmp_path / f'audit.db{suffix}').unlink(missing_ok=True)
    shutil.copyfile(tmp_path / 'backup.db', path)
    database.connect(reuse_if_open=True)
    assert sort_index.sorted_upto() == 30  # recorded at 30 with the same event there
    sort = Sort('target', False)
    assert [e['id'] for e in find_events(ORG, EventFilter(), sort, limit=100).events] == _expected(
        ORG, EventFilter(), sort)
    assert sort_index.fill_if_due() == 30  # entries beyond the database's events: emptied and filled again
    assert raw_sql('SELECT count(*) FROM search.sort_target') == [(30,)]


def test_the_idle_fill_waits_for_a_quiet_moment(add_events, monkeypatch):
    _store(add_events, 0, 10)
    monkeypatch.setattr(sort_index, 'IDLE_SECONDS', 3600)
    assert sort_index.flush_when_idle(10) == (10, 0)  # this process appended a moment ago
    monkeypatch.setattr(sort_index, 'IDLE_SECONDS', 0)
    assert sort_index.flush_when_idle(None) == (10, 0)  # first look: the last event is noted, nothing filled
    _store(add_events, 10, 5)
    assert sort_index.flush_when_idle(10) == (15, 0)  # events arrived since the last look
    assert sort_index.sorted_upto() == 0
    assert sort_index.flush_when_idle(15) == (15, 15)  # quiet since the last look: filled
    assert sort_index.flush_when_idle(15) == (15, 0)
    assert database.execute_sql('SELECT count(*) FROM search.sort_description').fetchone() == (15,)


def test_the_idle_fill_gives_way_to_another_writer(add_events, monkeypatch, database_url):
    import sqlite3

    from store.engine.db import sqlite_path

    _store(add_events, 0, 10)
    monkeypatch.setattr(sort_index, 'IDLE_SECONDS', 0)
    database.execute_sql('PRAGMA busy_timeout = 50')
    other = sqlite3.connect(search_file.path_for(sqlite_path(database_url)), isolation_level=None)
    other.execute('BEGIN IMMEDIATE')  # e.g. another process's indexer at work
    try:
        assert sort_index.flush_when_idle(10) == (10, 0)
    finally:
        other.execute('ROLLBACK')
        other.close()
    assert sort_index.flush_when_idle(10) == (10, 10)


def _blocks_hold_their_entries() -> None:
    """Each block's counts are those of the entries from its first position to the next block's, per pair, status
    and workspace, and no block holds more than twice BLOCK."""
    for column, table in sort_index.TABLES.items():
        bounds = raw_sql(f'SELECT id, value, ts, seq FROM {sort_index.BOUNDS[column]} ORDER BY value, ts, seq')
        for (block, *lo), following in zip(bounds, [*bounds[1:], None], strict=True):
            upper = '' if following is None else f' AND ({column}, ts, seq) < (?, ?, ?)'
            entries = raw_sql(f'SELECT coalesce(pair, 0), failed, coalesce(workspace_id, 0), count(*) FROM {table} '
                              f'WHERE ({column}, ts, seq) >= (?, ?, ?){upper} GROUP BY 1, 2, 3',
                              [*lo, *([] if following is None else following[1:])])
            counted = raw_sql(f'SELECT pair, failed, workspace_id, n FROM {sort_index.TALLIES[column]} '
                              'WHERE block = ? ORDER BY 1, 2, 3', [block])
            assert counted == sorted(entries), (column, block)
            assert sum(row[-1] for row in counted) <= 2 * sort_index.BLOCK
        assert len(bounds) > 3  # cut into blocks


def test_blocks_count_each_entry_in_the_block_its_position_falls_in(add_events, monkeypatch):
    """Fills count their entries into the blocks, and cut a grown block; a table filled before the blocks is cut
    at the next fill."""
    monkeypatch.setattr(sort_index, 'BLOCK', 4)
    _store(add_events, 0, 40)
    assert sort_index.fill() == 40  # one block, cut
    _blocks_hold_their_entries()
    for start in (40, 55, 70):  # entries falling into blocks already cut
        _store(add_events, start, 15 if start < 70 else 3)
        assert sort_index.fill() > 0
        _blocks_hold_their_entries()
    for column in sort_index.TABLES:  # as a file filled before the blocks
        database.execute_sql(f'DELETE FROM {sort_index.TALLIES[column]}')
        database.execute_sql(f'DELETE FROM {sort_index.BOUNDS[column]} WHERE id > 1')
    assert not sort_index.blocked()
    monkeypatch.setattr(sort_index, 'CUT_BLOCKS', 2)  # 8 entries a transaction
    monkeypatch.setattr(sort_index, 'CUT_PAUSE', 0)
    assert sort_index.cut_some() and sort_index.cut_some()  # 16 entries cut, the rest to come
    with monkeypatch.context() as meanwhile:  # filled meanwhile: counted if before the entries still to cut
        meanwhile.setattr(sort_index, 'cut_some', lambda: False)
        _store(add_events, 100, 3)
        assert sort_index.fill() == 3
        lo = raw_sql('SELECT value, ts FROM search.sort_target_bound ORDER BY value DESC, ts DESC LIMIT 1')[0]
        add_events(*[event(id=f'late{i}', target=lo[0], timestamp=from_millis(lo[1]).isoformat())
                     for i in range(9)])  # into the last block cut so far, which grows and is cut again
        assert sort_index.fill() == 9
    assert not sort_index.blocked()
    assert sort_index.fill_if_due() == 0  # cut to the end, nothing new to fill
    assert sort_index.blocked()
    _blocks_hold_their_entries()


@pytest.mark.parametrize('lost_pairs', [False, True], ids=['placed by the blocks', 'entries without their pair'])
def test_deep_pages_placed_by_the_blocks_equal_the_plain_order(add_events, monkeypatch, lost_pairs):
    """Any page read from the block holding it (SEEK_FROM 1: every page but the first block's), the tail merged
    in, is the slice of the whole order; a view the blocks cannot place (a keyword, a user, a time range, entries
    without their pair in a view of pairs) is read as before."""
    monkeypatch.setattr(sort_index, 'BLOCK', 4)
    monkeypatch.setattr(planner_module, 'SEEK_FROM', 1)
    monkeypatch.setattr(planner_module, 'SORT_TABLE_FROM', 0)
    monkeypatch.setattr(planner_module, 'SORT_TABLE_FROM_FACETS', 0)
    placed = []
    place = ways_module.placed
    monkeypatch.setattr(ways_module, 'placed',
                        lambda *args: placed.append((args[1].descending, place(*args))) or placed[-1][1])
    _store(add_events, 0, 90)
    assert sort_index.fill() == 90
    if lost_pairs:
        for table in sort_index.TABLES.values():
            database.execute_sql(f'UPDATE {table} SET pair = NULL WHERE seq % 5 = 0')
    _store(add_events, 90, 25)  # the tail
    for column in sort_index.TABLES:
        for descending in (True, False):
            sort = Sort(column, descending)
            for viewer in (ORG, ALPHA):
                for flt in FILTERS:
                    whole = _expected(viewer, flt, sort)
                    for offset in range(0, len(whole), 3):
                        page = find_events(viewer, flt, sort, offset=offset, limit=3)
                        assert [e['id'] for e in page.events] == whole[offset:offset + 3], \
                            (column, descending, viewer.name, flt, offset)
    assert {descending for descending, start in placed if start is not None} == {True, False}
    assert any(start is None for _, start in placed)
