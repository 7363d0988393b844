"""Large loads rebuild the secondary indexes once, in their own transaction; nothing is lost on failure."""

from datetime import UTC, datetime

import peewee
import pytest

from store.engine.db import database
from store.ledger.chain import verify
from store.ledger.validation import ValidationError
from store.lifecycle.opening import close_database, open_database
from store.read.events import EventFilter, Viewer, count_events
from store.write import bulk
from store.write.ingest import prepare
from store.write.seed import demo_events

END = datetime(2026, 11, 1, tzinfo=UTC)
pytestmark = pytest.mark.sqlite_only  # index rebuild reads sqlite_master; PostgreSQL appends as usual


def index_names() -> list[str]:
    names = [name for name, _ in bulk._secondary_indexes()]
    triggers = [row[0] for row in database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    return sorted(names + triggers)


def test_bulk_load_keeps_indexes_and_chain(monkeypatch):
    monkeypatch.setattr(bulk, 'BULK_MIN', 100)
    before = index_names()
    assert len(before) >= 5 and 'event_no_replace' in before
    result = bulk.bulk_append(prepare(demo_events(300, seed=1)), expected=300)
    assert result.stored == 300
    assert index_names() == before
    assert count_events(Viewer.organization(), EventFilter(scope='Service')) == \
        database.execute_sql("SELECT count(*) FROM event WHERE scope = 'Service'").fetchone()[0]
    assert database.execute_sql('PRAGMA integrity_check').fetchone()[0] == 'ok'
    assert verify().ok
    seq, uid = database.execute_sql('SELECT seq, uid FROM event LIMIT 1').fetchone()
    with pytest.raises(peewee.DatabaseError, match='append-only'):
        database.execute_sql('REPLACE INTO event (seq, uid, ts, actor, scope, category, action, target, status, '
                             "description, search_text, hash) VALUES (?, 'x', 0, 'a', 'Billing', 'Credit', 'a', "
                             "'t', 'SUCCESS', 'd', 's', 'h')", (seq,))


def test_a_failed_bulk_load_stores_nothing_and_keeps_the_indexes(monkeypatch):
    monkeypatch.setattr(bulk, 'BULK_MIN', 10)
    before = index_names()

    def failing():
        yield from prepare(demo_events(50, seed=2))
        raise ValidationError('scope', 'broken', 50)

    with pytest.raises(ValidationError):
        bulk.bulk_append(failing(), expected=50)
    assert index_names() == before
    assert count_events(Viewer.organization(), EventFilter()) == 0


def test_a_load_in_parts_commits_each_part_and_stores_the_events_one_transaction_would(monkeypatch, tmp_path):
    """Each part is its own transaction (the write-ahead log holds one part at a time); the events, their order
    and their hashes are those of the same load in one part."""
    monkeypatch.setattr(bulk, 'BULK_MIN', 100)
    indexes = index_names()
    commits = []
    real = bulk.append_prepared

    def transaction(groups):
        items = list(groups[0])
        commits.append(len(items))
        return real([items])

    monkeypatch.setattr(bulk, 'append_prepared', transaction)
    assert bulk.load(prepare(demo_events(2_500, seed=5, end=END)), 2_500, part=1_000) == (2_500, 0)
    assert commits == [1_000, 1_000, 500]
    in_parts = database.execute_sql('SELECT uid, hash FROM event ORDER BY seq').fetchall()
    assert verify().ok and index_names() == indexes
    assert database.execute_sql('PRAGMA integrity_check').fetchone()[0] == 'ok'

    close_database()  # the same load into a second store, in one part
    open_database(f'sqlite:///{tmp_path / "one-part.db"}')
    database.connect(reuse_if_open=True)
    assert bulk.load(prepare(demo_events(2_500, seed=5, end=END)), 2_500) == (2_500, 0)
    assert database.execute_sql('SELECT uid, hash FROM event ORDER BY seq').fetchall() == in_parts
