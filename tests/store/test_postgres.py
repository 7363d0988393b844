"""What only PostgreSQL needs proving: refusals by its trigger, LIKE search with its escapes, the append lock."""

from __future__ import annotations

import threading

import peewee
import psycopg2
import pytest

from store.engine.db import database
from store.ledger.chain import verify
from store.ledger.validation import validate_event
from store.read.events import EventFilter, Viewer, count_events, find_events
from store.write.ingest import append_events
from tests.conftest import event


@pytest.fixture(autouse=True)
def postgresql_only(engine):
    if engine != 'postgresql':
        pytest.skip('PostgreSQL only (SQLite has its own tests in test_schema.py)')


def test_update_delete_and_truncate_are_refused(add_events, database_url):
    add_events(event())
    for sql in ("UPDATE event SET description = 'edited'", 'DELETE FROM event', 'TRUNCATE event'):
        with pytest.raises(peewee.DatabaseError, match='append-only'):
            database.execute_sql(sql)
    raw = psycopg2.connect(database_url.partition('?')[0])  # as someone with the password would
    for sql in ("UPDATE event SET description = 'edited'", 'DELETE FROM event', 'TRUNCATE event CASCADE',
                "INSERT INTO event SELECT * FROM event ON CONFLICT (seq) DO UPDATE SET actor = 'x'"):
        with pytest.raises(psycopg2.DatabaseError, match='append-only'), raw:
            raw.cursor().execute(sql)
    raw.close()
    assert count_events(Viewer.organization(), EventFilter()) == 1 and verify().ok


def test_like_wildcards_in_a_search_are_plain_characters(add_events):
    texts = ['100% done', '100 done', 'a_b', 'axb', 'back\\slash', 'backslash', "it's", 'ÄÖü straße']
    add_events(*[event(description=text, target=f't{i}') for i, text in enumerate(texts)])
    org = Viewer.organization()
    for term in ['%', '0%', '_', 'a_b', '\\', 'k\\s', "'", 'äöü', 'STRASSE', 'straße', '%%', '']:
        found = {e['description'] for e in find_events(org, EventFilter(search=term), limit=100).events}
        assert found == {t for t in texts if term.lower() in t.lower()}, term


def test_writers_on_separate_connections_extend_one_chain():
    """Like several app instances: each thread has its own connection; the advisory lock orders them."""
    def writer(n: int) -> None:
        with database.connection_context():
            for batch in range(5):
                append_events([validate_event(event(target=f'w{n}-{batch}-{i}')) for i in range(40)])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = verify()
    assert report.ok and report.checked == 4 * 5 * 40
    assert database.execute_sql('SELECT min(seq), max(seq) FROM event').fetchone() == (1, 800)
