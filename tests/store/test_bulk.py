"""Large loads rebuild the secondary indexes once, in their own transaction; nothing is lost on failure."""

import peewee
import pytest

from store import bulk
from store.chain import verify
from store.db import database
from store.events import EventFilter, Viewer, count_events
from store.ingest import prepare
from store.seed import demo_events
from store.validation import ValidationError

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
