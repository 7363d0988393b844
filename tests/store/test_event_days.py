"""The events' days and statuses held in memory (store/derived/event_days.py): a keyword's counts split from them equal
the counts read from the rows, for every kind of term and view, and they follow the store they belong to."""

import os
import shutil
from datetime import timedelta

import pytest

from store.derived import event_days
from store.engine.db import database
from store.ledger.buckets import DAY
from store.ledger.validation import validate_event
from store.lifecycle.opening import close_database, open_database
from store.read import counts
from store.read.events import EventFilter, Viewer, count_events
from store.write.ingest import append_events
from tests.conftest import event, raw_sql, utc

pytestmark = pytest.mark.sqlite_only  # the in-memory days serve SQLite's search index

ORG = Viewer.organization()
ADMIN = Viewer.of_workspaces('admin', {'alpha'})
START = utc(2026, 9, 1, 6)
PAIRS = [('Billing', 'Credit'), ('Service', 'AI Notebook'), ('Billing', 'Payment')]


def many(count: int, day_offset: int = 0, prefix: str = 'nb-') -> list[dict]:
    """`count` events over 12 days, both statuses, three workspaces and none, with targets like `prefix`7."""
    return [event(id=f'{prefix}{n}-{day_offset}', timestamp=(START + timedelta(days=n % 12 + day_offset,
                                                                               minutes=n)).isoformat(),
                  status='FAILED' if n % 5 == 0 else 'SUCCESS', workspace=('alpha', 'beta', 'gamma', None)[n % 4],
                  scope=PAIRS[n % 3][0], category=PAIRS[n % 3][1], action='Add Credit', target=f'{prefix}{n}',
                  description=('Payment failed' if n % 5 == 0 else 'Added credits') + (' to class' if n % 3 else ''))
            for n in range(count)]


def truth(term: str, since: int | None = None) -> dict[int, tuple[int, int]]:
    """The whole store's events whose search text holds `term`, per day and status, from the rows."""
    found: dict[int, tuple[int, int]] = {}
    for ts, status in raw_sql('SELECT ts, status FROM event WHERE instr(search_text, ?) > 0 AND ts >= ?',
                              (term, since or 0)):
        success, failed = found.get(ts // DAY, (0, 0))
        found[ts // DAY] = (success, failed + 1) if status == 'FAILED' else (success + 1, failed)
    return found


def from_rows(monkeypatch, viewer: Viewer, flt: EventFilter) -> dict[int, tuple[int, int]]:
    with monkeypatch.context() as patch:
        patch.setattr(event_days, 'upto', lambda head, head_hash: None)
        counts._kept.clear()
        return counts.view_counts(viewer, flt, DAY)


def from_days(viewer: Viewer, flt: EventFilter) -> dict[int, tuple[int, int]]:
    counts._kept.clear()
    return counts.view_counts(viewer, flt, DAY)


@pytest.mark.parametrize('term', ['nb-', 'ass', 'fai', 'failed', 'nb-1', 'to class', 'credit', 'alpha', 'ſs'])
def test_counts_from_the_days_equal_counts_from_the_rows(add_events, monkeypatch, term):
    """Including an event holding every trigram of 'failed' and of 'to class', but neither term: the search
    index's positions tell it apart."""
    add_events(*many(120))
    add_events(event(id='folded', target='claſs', description='a long s is folded to s by the search index'),
               event(id='scattered', target='a fail, a pile, a led', description='up to clay, a lass'))
    since = START + timedelta(days=5)
    two = Viewer.of_workspaces('two', {'alpha', 'beta'})
    for viewer, flt in [(ORG, EventFilter(search=term)), (ADMIN, EventFilter(search=term)),
                        (ORG, EventFilter(search=term, status='FAILED')), (ORG, EventFilter(search=term, since=since)),
                        (ORG, EventFilter(search=term, workspace='beta')),
                        (ORG, EventFilter(search=term, scope='Service')),
                        (ORG, EventFilter(search=term, scope='Billing')),
                        (ORG, EventFilter(search=term, category='Payment', status='SUCCESS')),
                        (ORG, EventFilter(search=term, scope='Service', category='Credit')),
                        (ADMIN, EventFilter(search=term, scope='Billing', status='FAILED')),
                        (two, EventFilter(search=term, workspace='beta')),
                        (ADMIN, EventFilter(search=term, workspace='beta')),
                        (Viewer.of_workspaces('nowhere', {'delta'}), EventFilter(search=term)),
                        (Viewer.of_workspaces('some', {'delta', 'gamma'}), EventFilter(search=term, status='FAILED')),
                        (ORG, EventFilter(search=term, workspace='delta')),
                        (ORG, EventFilter(search=term, status='PENDING'))]:
        assert from_days(viewer, flt) == from_rows(monkeypatch, viewer, flt), (viewer, flt)
    assert from_days(ORG, EventFilter(search=term)) == truth(term)
    assert from_days(ORG, EventFilter(search=term, since=since)) == truth(term, int(since.timestamp() * 1000))


def test_a_pair_or_workspace_without_an_id_held_is_checked_on_its_row(add_events, monkeypatch):
    """A view of pairs or workspaces keeps the matches of its ids without reading their rows; an event whose pair
    has no id (its row deleted by hand) or whose workspace's id is too large to be held is read on its row."""
    raw_sql('INSERT INTO workspace (id, name, created_at) VALUES (70000, ?, 0)', ('far',))
    add_events(*many(60), *[dict(raw, workspace='far') for raw in many(20, prefix='nb-far-')])
    raw_sql("DELETE FROM facet_marker WHERE scope = 'Billing' AND category = 'Payment'")
    event_days.clear()
    far = Viewer.of_workspaces('far', {'far', 'alpha'})
    for viewer, flt in [(far, EventFilter(search='nb-')), (ORG, EventFilter(search='nb-', workspace='far')),
                        (ORG, EventFilter(search='nb-', scope='Billing')),
                        (far, EventFilter(search='fai', scope='Billing')),
                        (ORG, EventFilter(search='nb-', category='Payment'))]:
        assert from_days(viewer, flt) == from_rows(monkeypatch, viewer, flt), (viewer, flt)
    counts._kept.clear()
    assert count_events(ORG, EventFilter(search='nb-', workspace='far')) == 20


def test_a_text_beyond_ascii_is_checked_on_its_row(add_events):
    """The search index folds 'ſ' (long s) to 's', the search text keeps it: 'ass' is one trigram of ASCII, but
    the event whose target is 'claſs' does not hold it."""
    add_events(event(id='long-s', target='claſs'), event(id='plain', target='class'))
    assert raw_sql('SELECT count(*) FROM search.event_search WHERE event_search MATCH ?', ('"ass"',))[0][0] == 2
    assert count_events(ORG, EventFilter(search='ass')) == 1


def test_the_days_follow_new_events(add_events):
    add_events(*many(30))
    assert from_days(ORG, EventFilter(search='nb-')) == truth('nb-')
    add_events(*many(30, day_offset=40, prefix='nb-later-'))
    assert from_days(ORG, EventFilter(search='nb-')) == truth('nb-')
    head, head_hash = raw_sql('SELECT seq, hash FROM event ORDER BY seq DESC LIMIT 1')[0]
    assert event_days.upto(head, head_hash) is not None
    assert event_days.upto(head - 1, 'an older snapshot') is None  # not known whether this is the same store


def test_another_file_at_the_same_url_is_read_again(add_events, database_url, tmp_path):
    add_events(*many(20))  # days 0-11 after START
    assert from_days(ORG, EventFilter(search='nb-')) == truth('nb-')
    other = tmp_path / 'other.db'
    open_database(f'sqlite:///{other}')
    append_events([validate_event(raw) for raw in many(25, day_offset=100)])  # other days at the same positions
    close_database()
    open_database(database_url)
    close_database()
    path = database_url.removeprefix('sqlite:///')
    for suffix in ('-wal', '-shm'):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    shutil.copyfile(other, path)
    database.connect(reuse_if_open=True)
    assert from_days(ORG, EventFilter(search='nb-')) == truth('nb-')
    assert min(truth('nb-')) >= (START + timedelta(days=100)).timestamp() * 1000 // DAY


def test_a_long_way_behind_they_are_read_in_the_background(add_events, monkeypatch):
    monkeypatch.setattr(event_days, 'CATCH_UP_HERE', 5)
    event_days.clear()
    add_events(*many(40))
    head, head_hash = raw_sql('SELECT seq, hash FROM event ORDER BY seq DESC LIMIT 1')[0]
    assert event_days.upto(head, head_hash) is None  # counted from the rows meanwhile
    assert count_events(ORG, EventFilter(search='nb-')) == 40
    event_days.read_ahead().result()
    codes = event_days.upto(head, head_hash)
    assert codes is not None
    seqs = [row[0] for row in raw_sql('SELECT seq FROM event')]
    assert event_days.split(codes, seqs) == truth('nb-')


def test_events_of_a_transaction_rolled_back_are_not_kept(add_events):
    """Counts inside a write transaction leave the days alone: a position rolled back is taken by another event."""
    add_events(*many(10))
    assert count_events(ORG, EventFilter(search='nb-')) == 10
    with pytest.raises(RuntimeError), database.atomic():
        append_events([validate_event(event(id='gone', target='nb-gone', timestamp='2026-12-20T10:00:00Z'))])
        assert count_events(ORG, EventFilter(search='nb-')) == 11
        raise RuntimeError('rolled back')
    append_events([validate_event(event(id='kept', target='nb-kept', timestamp='2026-11-02T10:00:00Z'))])
    assert from_days(ORG, EventFilter(search='nb-')) == truth('nb-')
    assert utc(2026, 12, 20).timestamp() * 1000 // DAY not in truth('nb-')
