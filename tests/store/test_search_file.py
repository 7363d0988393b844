"""The search index in a file of its own (store/derived/search_file.py): searches are exact whatever it holds, events
not yet indexed included, it is filled again when it belongs to other events, and appends never wait for it."""

import shutil
import sqlite3
import time
from datetime import timedelta

import pytest

from store.derived import search_file
from store.engine.db import database, sqlite_path
from store.ledger.validation import validate_event
from store.lifecycle.opening import close_database, open_database
from store.read import counts
from store.read.events import EventFilter, Viewer, count_events, find_events, iter_events
from store.write.ingest import append_events
from tests.conftest import event, raw_sql, utc

pytestmark = pytest.mark.sqlite_only('the search index file is SQLite only')

ORG = Viewer.organization()
ALPHA = Viewer.of_workspaces('admin', {'alpha'})
START = utc(2026, 9, 1, 6)
TERMS = ['nb-', 'fai', 'failed', 'nb-1', 'credit', 'alpha', 'notebook', 'alice', 'ass', 'h1']


def many(count: int, tag: str, offset_days: int = 0) -> list[dict]:
    return [event(id=f'{tag}-{n}', timestamp=(START + timedelta(days=n % 9 + offset_days, minutes=n)).isoformat(),
                  user=('alice@acme.io', 'bob@acme.io')[n % 2], workspace=('alpha', 'beta', None)[n % 3],
                  status='FAILED' if n % 4 == 0 else 'SUCCESS',
                  scope=('Billing', 'Service')[n % 2], category=('Credit', 'AI Notebook')[n % 2],
                  action=('Add Credit', 'Start Notebook')[n % 2], target=f'{tag}-nb-{n}',
                  description=('Payment failed' if n % 4 == 0 else 'Added credits') + (' to claſs' if n % 5 else ''))
            for n in range(count)]


def store(raws: list[dict]) -> None:
    append_events([validate_event(raw) for raw in raws])


def truth(viewer: Viewer, term: str) -> list[str]:
    """The ids of the viewer's events whose search text holds `term`, newest first, from the rows alone."""
    rows = raw_sql('SELECT e.uid, e.workspace_id, w.name FROM event e LEFT JOIN workspace w ON w.id = e.workspace_id '
                   'WHERE instr(e.search_text, ?) > 0 ORDER BY e.ts DESC, e.seq DESC', (term,))
    return [uid for uid, _, name in rows if viewer.workspaces is None or name in viewer.workspaces]


def assert_exact(term: str) -> None:
    for viewer in (ORG, ALPHA):
        flt = EventFilter(search=term)
        expected = truth(viewer, term)
        counts._kept.clear()
        assert count_events(viewer, flt) == len(expected), (term, viewer)
        assert [e['id'] for e in find_events(viewer, flt, limit=500).events] == expected, (term, viewer)
        assert [e['id'] for e in iter_events(viewer, flt)] == expected, (term, viewer)


@pytest.fixture
def no_indexer(monkeypatch):
    """The indexer thread stopped: new events stay after the indexed position until a test indexes them."""
    database.obj.indexer.stop()
    monkeypatch.setattr(database.obj.indexer, 'committed', lambda: None)


def head() -> int:
    return raw_sql('SELECT max(seq) FROM event')[0][0]


@pytest.mark.parametrize('parts', [False, True])
def test_events_not_yet_indexed_are_found(no_indexer, monkeypatch, parts):
    if parts:  # a large store's count, split into spans counted side by side
        monkeypatch.setattr(counts, 'SPLIT_FROM', 1)
    store(many(60, 'old'))
    search_file.index_all()
    store(many(45, 'new', offset_days=3))
    assert search_file.indexed_upto() == 60 < head() == 105
    for term in TERMS:
        assert_exact(term)
    search_file.index_all()
    assert search_file.indexed_upto() == head()
    for term in TERMS:
        assert_exact(term)


@pytest.mark.parametrize('parts', [False, True])
def test_a_short_term_in_names_is_counted_from_the_index_alone_exactly(no_indexer, monkeypatch, parts):
    """A term of two or three characters that users' or pairs' names hold: the rest of its matches, in the whole
    store, is counted from the index's positions alone. Those with other characters than ASCII (`claſs`, which
    the index folds to hold 'ass') are checked on their rows, and so are the events not yet indexed. A longer
    term's candidates are not all matches ('a castle, a mass' for 'cass'): they are checked on their rows."""
    if parts:
        monkeypatch.setattr(counts, 'SPLIT_FROM', 1)

    def mixed(tag: str, offset_days: int = 0) -> list[dict]:
        users = ['cass@acme.io', 'bas@acme.io', 'bob@example.com']
        texts = ['a bass note', 'claſs act', 'a castle, a mass', 'ass', 'as is', 'Ünterwasser']
        return [event(id=f'{tag}-{n}', user=users[n % 3], description=texts[n % 6], workspace=('alpha', None)[n % 2],
                      scope=('Service', 'Billing')[n % 2], category=('AI Notebook', 'Credit')[n % 2],
                      timestamp=(START + timedelta(days=n % 7 + offset_days, minutes=n)).isoformat())
                for n in range(36)]

    store(mixed('old'))
    search_file.index_all()
    store(mixed('new', offset_days=2))
    assert search_file.indexed_upto() == 36 < head() == 72
    for term in ('ass', 'as', 'ote', 'is', 'bas', 'ser', 'cass'):
        assert_exact(term)
    search_file.index_all()
    for term in ('ass', 'as', 'ote', 'is', 'bas', 'ser', 'cass'):
        assert_exact(term)


@pytest.mark.parametrize('term', ['h1', 'xq'])
def test_a_trigram_indexed_while_a_query_is_built_is_still_found(no_indexer, monkeypatch, term):
    """A term of two characters is asked of the index's trigrams that start with it, as the index held them when
    the query was built. An event the indexer adds right after (its trigram 'h1x' new to the index) is read on
    its row, not missed by a query that does not name its trigram."""
    store(many(30, 'old'))
    search_file.index_all()
    store([event(id='late', target='h1x-7', description='xqz'), *many(3, 'new', offset_days=1)])
    built = search_file.starting_with

    def then_indexed(text: str) -> str:
        query = built(text)
        search_file.index_all()  # the indexer reaches the new events just after the query was built
        return query

    monkeypatch.setattr(search_file, 'starting_with', then_indexed)
    for viewer in (ORG, ALPHA):
        for n in range(2):  # each round with one more match, stored after the index's position
            store([event(id=f'later-{viewer.name}-{n}', workspace='alpha', description=f'more {term}!')])
            expected = truth(viewer, term)
            counts._kept.clear()
            assert count_events(viewer, EventFilter(search=term)) == len(expected), viewer
            assert [e['id'] for e in find_events(viewer, EventFilter(search=term), limit=500).events] == expected


def test_a_keyword_in_a_view_of_workspaces_counts_only_the_viewers_events(no_indexer):
    """A keyword in a view whose only other conditions are workspaces (a Workspace Admin's, a workspace filter):
    the index's workspace markers narrow the candidates, and the count and the page hold exactly the viewer's
    events, whatever workspaces they name (one that does not exist, one outside their own), events not yet
    indexed included."""
    store(many(60, 'old'))
    search_file.index_all()
    store(many(21, 'new', offset_days=2))
    views = [(ALPHA, None), (Viewer.of_workspaces('two', {'alpha', 'beta'}), None), (ALPHA, 'alpha'),
             (ALPHA, 'beta'), (ORG, 'beta'), (Viewer.of_workspaces('nowhere', {'gamma'}), None),
             (Viewer.of_workspaces('some', {'gamma', 'beta'}), None), (ORG, 'gamma')]
    for term in ('failed', 'nb-1', 'ass', 'claſs', 'to c'):
        rows = raw_sql('SELECT e.uid, w.name FROM event e LEFT JOIN workspace w ON w.id = e.workspace_id '
                       'WHERE instr(e.search_text, ?) > 0 ORDER BY e.ts DESC, e.seq DESC', (term,))
        for viewer, workspace in views:
            expected = [uid for uid, name in rows if (viewer.workspaces is None or name in viewer.workspaces)
                        and workspace in (None, name)]
            flt = EventFilter(search=term, workspace=workspace)
            counts._kept.clear()
            assert count_events(viewer, flt) == len(expected), (term, viewer.name, workspace)
            assert [e['id'] for e in find_events(viewer, flt, limit=500).events] == expected, (term, viewer.name)


def test_an_index_of_other_events_is_not_used_and_is_filled_again(no_indexer, database_url, tmp_path):
    store(many(50, 'first'))
    search_file.index_all()
    path = sqlite_path(database_url)
    kept_index = tmp_path / 'first.search'
    close_database()
    shutil.copyfile(search_file.path_for(path), kept_index)

    other = tmp_path / 'other.db'  # other events at the same positions
    open_database(f'sqlite:///{other}')
    store(many(50, 'second', offset_days=20))
    close_database()
    open_database(database_url)  # the test's store again, whose file is then replaced without reopening it
    close_database()
    for suffix in ('', '-wal', '-shm'):
        (tmp_path / f'audit.db{suffix}').unlink(missing_ok=True)
    shutil.copyfile(other, path)
    raw = sqlite3.connect(search_file.path_for(path))
    assert raw.execute('SELECT max(seq) FROM search_progress').fetchone() == (50,)  # the first store's index
    raw.close()
    database.connect(reuse_if_open=True)  # the file was replaced under the open store, not reopened
    database.obj.indexer.stop()
    assert search_file.indexed_upto() == 0  # its events' hash is not these events'
    for term in ('nb-', 'failed', 'second'):
        assert_exact(term)
    assert count_events(ORG, EventFilter(search='first')) == 0
    search_file.index_all()
    assert search_file.indexed_upto() == 50
    for term in ('nb-', 'failed', 'second'):
        assert_exact(term)
    assert raw_sql('SELECT count(*) FROM search.event_search WHERE event_search MATCH ?', ('"fir"',)) == [(0,)]


def test_an_older_copy_of_the_database_is_searched_exactly(no_indexer, database_url, tmp_path):
    """A backup restored over the database: the index holds events the restored file does not have."""
    store(many(30, 'early'))
    close_database()  # indexes them, up to 30
    path = sqlite_path(database_url)
    shutil.copyfile(path, tmp_path / 'backup.db')
    open_database(database_url)
    database.obj.indexer.stop()
    store(many(30, 'late', offset_days=10))
    search_file.index_all()
    close_database()
    for suffix in ('', '-wal', '-shm'):
        (tmp_path / f'audit.db{suffix}').unlink(missing_ok=True)
    shutil.copyfile(tmp_path / 'backup.db', path)
    database.connect(reuse_if_open=True)
    database.obj.indexer.stop()
    assert search_file.indexed_upto() == 30  # recorded at 30 with the same event there: good up to 30
    assert count_events(ORG, EventFilter(search='late')) == 0
    assert raw_sql('SELECT count(*) FROM search.event_search WHERE event_search MATCH ?', ('"lat"',)) == [(30,)]
    for term in ('nb-', 'early', 'failed'):
        assert_exact(term)
    close_database()
    reopen(database_url, tmp_path)  # opening fills it again
    assert search_file.indexed_upto() == 30
    assert raw_sql('SELECT count(*) FROM search.event_search WHERE event_search MATCH ?', ('"lat"',)) == [(0,)]
    assert_exact('nb-')


def remove_index_file(database_url: str) -> None:
    index = search_file.path_for(sqlite_path(database_url))
    for suffix in ('', '-wal', '-shm'):
        index.with_name(index.name + suffix).unlink(missing_ok=suffix != '')


def reopen(database_url: str, tmp_path) -> None:
    """As a new process opens the database (the store of another URL in between)."""
    open_database(f'sqlite:///{tmp_path / "elsewhere.db"}')
    open_database(database_url)


def test_a_missing_index_file_is_made_again_when_the_database_is_opened(database_url, tmp_path):
    store(many(40, 'kept'))
    close_database()
    remove_index_file(database_url)
    reopen(database_url, tmp_path)
    assert search_file.indexed_upto() == 40
    assert_exact('nb-')


@pytest.mark.parametrize('older', [
    "fts5(search_text, content='', detail='none', tokenize='trigram')",  # before it held positions
    "fts5(search_text, content='', detail='full', columnsize=0, tokenize='trigram')",  # before it left out the names
])
def test_an_index_of_an_older_kind_is_filled_again(database_url, tmp_path, older):
    """An index file made before the index held the trigrams' positions (detail=none, which finds candidates but
    not exact matches), or before it left the names of scope, category and user out of its text, is emptied and
    filled again when the store is opened; searches stay exact."""
    store([*many(40, 'kept'), event(id='scattered', target='a fail, a pile, a led')])
    close_database()
    index = search_file.path_for(sqlite_path(database_url))
    with sqlite3.connect(index) as old:
        old.execute('DROP TABLE event_search')
        old.execute(f'CREATE VIRTUAL TABLE event_search USING {older}')
    reopen(database_url, tmp_path)
    sql = raw_sql("SELECT sql FROM search.sqlite_master WHERE name = 'event_search'")[0][0]
    assert "tail_text, content='', detail='full', columnsize=0" in sql
    assert search_file.indexed_upto() == 41
    found = 'SELECT count(*) FROM search.event_search WHERE event_search MATCH ?'
    assert raw_sql(found, ('"failed"',))[0][0] == len(truth(ORG, 'failed')) == 10
    assert raw_sql(found, ('"alice@"',))[0][0] == 0 < len(truth(ORG, 'alice@'))  # a name, found by its marker
    for term in ('failed', 'nb-1', 'claſs', 'alice@', 'ai notebook', 'billing'):
        assert_exact(term)


def test_an_index_file_removed_under_a_running_store_is_made_again(no_indexer, database_url):
    store(many(20, 'before'))
    close_database()
    remove_index_file(database_url)
    database.connect(reuse_if_open=True)
    assert search_file.indexed_upto() == 0
    assert_exact('nb-')
    search_file.index_all()
    assert search_file.indexed_upto() == 20
    assert_exact('nb-')


def test_the_indexer_follows_new_events(database_url):
    store(many(10, 'a'))
    deadline = time.monotonic() + 10
    while search_file.indexed_upto() < head() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert search_file.indexed_upto() == head() == 10


def test_an_append_does_not_wait_for_the_index(no_indexer, database_url):
    """Another connection holds the index file's write lock (an indexer at work): appends go on."""
    path = sqlite_path(database_url)
    other = sqlite3.connect(search_file.path_for(path), timeout=0)
    other.execute('BEGIN IMMEDIATE')
    try:
        store(many(5, 'during'))
    finally:
        other.rollback()
        other.close()
    assert head() == 5
    assert_exact('during')


def test_a_reader_whose_snapshot_is_older_than_the_index_still_uses_it(no_indexer, database_url):
    """The indexer went on after the reader's snapshot of the database was taken: the index still serves the
    reader up to the reader's own newest event (not 0, which would test every event on its row)."""
    store(many(30, 'seen'))
    search_file.index_all()
    store(many(10, 'unseen', offset_days=2))
    search_file.index_all()
    reader = sqlite3.connect(sqlite_path(database_url), isolation_level=None)
    reader.execute('ATTACH DATABASE ? AS search', (str(search_file.path_for(sqlite_path(database_url))),))
    reader.execute('BEGIN')
    assert reader.execute('SELECT max(seq) FROM main.event').fetchone() == (40,)  # the snapshot of the events
    store(many(10, 'later', offset_days=4))
    search_file.index_all()
    assert reader.execute(f'SELECT {search_file.INDEXED}').fetchone() == (40,)
    sql, params = search_file.candidates('?', ['"nb-"'])
    found = reader.execute(f'SELECT count(*) FROM ({sql})', params).fetchone()[0]
    assert found == 40
    reader.execute('COMMIT')
    reader.close()
    assert search_file.indexed_upto() == 50


def test_a_command_leaves_its_events_indexed(no_indexer, database_url):
    store(many(12, 'cli'))
    assert search_file.indexed_upto() == 0
    close_database()  # as main.py's commands end
    raw = sqlite3.connect(search_file.path_for(sqlite_path(database_url)))
    assert raw.execute('SELECT max(seq) FROM search_progress').fetchone() == (12,)
    raw.close()
