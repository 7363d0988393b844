"""Totals are exact for every view: kept counts brought up to date, keywords found in names, counts in parts, in
a transaction, over a recent range, and a Workspace Admin's search."""

from datetime import UTC, datetime, timedelta

import pytest

from store.read.events import EventFilter, Sort, Viewer, count_events, find_events, iter_events
from tests.conftest import event

ORG = Viewer.organization()


def ids(flt: EventFilter = EventFilter(), viewer: Viewer = ORG, sort: Sort = Sort()) -> list[str]:
    return [e['id'] for e in find_events(viewer, flt, sort, limit=100).events]


def test_kept_counts_stay_exact_as_events_arrive(add_events):
    """Kept totals, of keyword and user filters and of the rest, are brought up to date from the events
    stored since the last count, whatever their timestamps."""
    from store.read import counts

    add_events(*[event(id=f's{i}', description='gpu job' if i % 2 else 'cpu job', user=f'u{i % 3}@acme.io')
                 for i in range(30)])
    both = EventFilter(search='gpu', user='u1@acme.io')
    for flt in (EventFilter(search='gpu'), EventFilter(user='u1@acme.io'), both):
        assert count_events(ORG, flt) == len(list(iter_events(ORG, flt)))
    add_events(*[event(id=f't{i}', description='gpu again', user='u1@acme.io') for i in range(7)])
    alpha = Viewer.of_workspaces('a', {'alpha'})
    for viewer in (ORG, alpha):
        for flt in (EventFilter(search='gpu'), EventFilter(user='u1@acme.io'),
                    EventFilter(search='gpu', user='u1@acme.io')):
            assert count_events(viewer, flt) == len(list(iter_events(viewer, flt))), (viewer, flt)
    now = datetime.now(UTC)
    ranged = [EventFilter(), EventFilter(scope='Service'), EventFilter(since=now - timedelta(hours=1)),
              EventFilter(since=now - timedelta(days=3), status='SUCCESS'), EventFilter(since=now - timedelta(days=40))]
    before = {(viewer, flt): count_events(viewer, flt) for viewer in (ORG, alpha) for flt in ranged}
    add_events(*[event(id=f'n{i}', timestamp=(now - timedelta(hours=5 * i, minutes=1)).isoformat(),
                       workspace='alpha' if i % 2 else 'beta') for i in range(12)])
    for (viewer, flt), total in before.items():
        assert count_events(viewer, flt) == len(list(iter_events(viewer, flt))) > total - (viewer is alpha), flt
    counts._kept.clear()
    assert count_events(ORG, EventFilter(search='gpu')) == 22


def test_terms_in_scope_category_and_user_names_count_exactly_for_every_view(add_events, parts):
    """A term held by scope or category names, or by users: those events come from the daily counts and
    the user index, the others from the index's candidates outside them; every total and the timeline
    equal the plain count of rows, before and after new events."""
    from store.derived import search_file, search_index
    from store.engine.db import is_sqlite
    from store.engine.timefmt import to_millis
    from store.read import counts
    from store.read.insight import timeline

    now = datetime(2026, 11, 1, 13, 37, tzinfo=UTC)
    pairs = [('Service', 'AI Notebook'), ('Service', 'GPU Container'), ('Workspace', 'GPU Quota'),
             ('Billing', 'Credit'), ('Organization', 'Policy')]
    texts = ['notebook ready', 'gpu attached', 'credit notebook', 'policy for gpu service', 'plain alice']
    users = ['alice@acme.io', 'bob@gpu.example', 'credit-bot@acme.io', 'system']

    def spread(prefix: str, n: int) -> None:
        add_events(*[event(id=f'{prefix}{i}', timestamp=(now - timedelta(hours=7 * i + i % 5, minutes=i)).isoformat(),
                           scope=pairs[i % 5][0], category=pairs[i % 5][1], description=texts[i % 4 * 3 % 5],
                           target=f'gpu-{i}' if i % 6 == 0 else f't-{i}', status='FAILED' if i % 4 == 0 else 'SUCCESS',
                           user=users[i % 4], workspace=(None, 'alpha', 'beta')[i % 3]) for i in range(n)])

    spread('a', 120)
    views = [ORG, Viewer.of_workspaces('a', {'alpha'})]
    terms = ('notebook', 'gpu', 'service', 'credit', 'cy f', 'ai n', 'alice', 'acme', 'syst', '@')
    flts = [EventFilter(search=term, **more) for term in terms
            for more in ({}, {'scope': 'Service'}, {'status': 'FAILED'}, {'since': now - timedelta(days=3)},
                         {'since': now - timedelta(days=20, hours=5), 'until': now - timedelta(days=2, hours=3)})]

    def check() -> None:
        for viewer in views:
            for flt in flts:
                expected = len(list(iter_events(viewer, flt)))
                assert count_events(viewer, flt, now=to_millis(now)) == expected, (viewer, flt)
                assert timeline(viewer, flt, now=to_millis(now)).total == expected, (viewer, flt)

    check()
    spread('b', 40)  # kept counts take these in
    check()
    if is_sqlite():  # PostgreSQL's trigram index needs no markers
        named = search_file.names('gpu').named
        assert (len(named[search_index.PAIR]), len(named[search_index.ACTOR])) == (2, 1)
        assert search_file.names('ready').named == {}
    spread('c', 30)
    counts._kept.clear()
    check()


def _held(term: str) -> int:
    """How many stored events hold `term`, tested on every row without any index."""
    from store.engine.db import database
    from store.engine.dialect import substring_clause, substring_param

    return database.execute_sql(f'SELECT count(*) FROM event WHERE {substring_clause("search_text")}',
                                [substring_param(term)]).fetchone()[0]


@pytest.mark.sqlite_only("the names' markers are SQLite's search index's")
@pytest.mark.parametrize('term', ['zed', 'zed@', 'quota', 'ze'])
def test_names_read_before_new_events_still_find_every_match(add_events, parts, monkeypatch, term):
    """The search index holds no names: a term found in a name is found by that value's marker. A reader who read
    the names before events of a new user or pair were stored and indexed (`names` as of an older position) still
    counts and pages every match: the events after that position are tested on their rows."""
    from store.derived import search_file
    from store.read import counts

    add_events(*[event(id=f'a{i}', user='amy@acme.io', description='plain', category='Credit', scope='Billing')
                 for i in range(20)])
    before = search_file.names(term)
    add_events(*[event(id=f'b{i}', user='zed@acme.io', description='plain', category='GPU Quota', scope='Workspace')
                 for i in range(15)], event(id='c', description=f'about {term} here'))
    monkeypatch.setattr(search_file, 'names', lambda _term: before)
    counts._kept.clear()
    flt = EventFilter(search=term)
    assert count_events(ORG, flt) == _held(term) == 16
    assert len(list(iter_events(ORG, flt))) == 16
    assert len(find_events(ORG, flt, limit=100).events) == 16


@pytest.mark.sqlite_only("the names' markers are SQLite's search index's")
def test_a_term_in_more_names_than_are_listed_is_tested_on_the_rows(add_events, parts, monkeypatch):
    """When more than MAX_NAMED users' names hold a term, their markers are not listed in the index's query, and
    the index (which holds no names) cannot find their events: every view of it is then tested on the rows."""
    from store.derived import search_file, search_index
    from store.read import counts

    add_events(*[event(id=f'a{i}', user=f'u{i % 4}@acme.io', description='acme rocket' if i % 5 == 0 else 'plain',
                       status='FAILED' if i % 3 == 0 else 'SUCCESS') for i in range(40)],
               event(id='x', user='system', description='plain'))
    monkeypatch.setattr(search_index, 'MAX_NAMED', 2)
    assert search_file.names('acme').too_many
    for flt in (EventFilter(search='acme'), EventFilter(search='acme', status='FAILED'), EventFilter(search='ac')):
        counts._kept.clear()
        expected = 40 if flt.status is None else 14
        assert count_events(ORG, flt) == expected, flt
        assert len(list(iter_events(ORG, flt))) == expected, flt
        assert len(find_events(ORG, flt, limit=100).events) == expected, flt


@pytest.mark.parametrize('term', ['gpu', 'ready', 'ai'])
def test_a_count_inside_a_transaction_includes_its_own_events(add_events, parts, term):
    """Helper threads read committed events only: a count in a transaction that appended is not split."""
    from store.engine.db import write_transaction
    from store.read import counts

    add_events(*[event(id=f'a{i}', description=f'gpu ready {i}') for i in range(5)])
    with write_transaction():
        add_events(*[event(id=f'b{i}', description=f'gpu ready {i}') for i in range(4)])
        counts._kept.clear()
        assert count_events(ORG, EventFilter(search=term)) == 9
    assert count_events(ORG, EventFilter(search=term)) == 9


@pytest.mark.sqlite_only('only SQLite counts are split')
def test_the_parts_of_a_count_cover_the_store_once(monkeypatch):
    from store.read import counts

    monkeypatch.setattr(counts, 'PARTS', 3)
    monkeypatch.setattr(counts, 'SPLIT_FROM', 10)
    assert counts._spans(0, 9) is None
    assert counts._spans(0, 10) == [(0, 3), (3, 6), (6, 10)]
    assert counts._spans(0, 1_000_001) == [(0, 333_333), (333_333, 666_667), (666_667, 1_000_001)]
    assert counts._spans(5, 14) == [(5, 14)]  # a range's positions only, fewer than SPLIT_FROM: one pass
    assert counts._spans(900_000, 1_000_001) == [(900_000, 933_333), (933_333, 966_667), (966_667, 1_000_001)]


@pytest.mark.parametrize('share', [0.25, 1.0])
def test_a_recent_range_is_counted_from_its_least_position_exactly(add_events, parts, monkeypatch, share):
    """A keyword over a recent range is counted from the least position an event of the range holds; positions
    follow arrival, not time (history back-filled late, events stamped ahead), so earlier events by time may
    hold later positions and the other way round."""
    from store.read import counts

    monkeypatch.setattr(counts, 'RANGE_SHARE', share)
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    order = [i * 37 % 100 for i in range(100)]  # 0..99 in no time order: event k is 9k hours old

    def text(k: int) -> str:
        return f'disk {"failed" if k % 3 == 0 else "ok"} {k}'

    for batch in range(4):
        add_events(*[event(id=f'p{k}', timestamp=(now - timedelta(hours=9 * k)).isoformat(), description=text(k),
                           status='FAILED' if k % 3 == 0 else 'SUCCESS') for k in order[batch * 25:batch * 25 + 25]])
    for hours in (-1, 0, 5, 30, 100, 300, 1000):
        for term in ('failed', 'disk', 'ok 1', 'fa'):
            flt = EventFilter(search=term, since=now - timedelta(hours=hours))
            expected = sum(1 for k in range(100) if 9 * k <= hours and term in text(k))
            counts._kept.clear()
            assert count_events(ORG, flt) == expected, (term, hours)


@pytest.mark.parametrize('most', [50, 0], ids=['narrowed by markers', 'too many workspaces to narrow'])
def test_a_workspace_admins_search_reads_only_their_workspaces_candidates(add_events, parts, monkeypatch, most):
    """Each entry of the trigram index carries a marker of its event's workspace: the search of a Workspace
    Admin, or of a workspace filter, reads only those workspaces' candidates, and finds exactly the events
    holding the term that the reader may see."""
    from store.derived import search_index
    from store.engine.db import database, is_sqlite
    from store.read.query import index_query, trigram_query

    monkeypatch.setattr(search_index, 'MAX_WORKSPACES', most)
    places = ['alpha', 'beta', 'gamma', None]
    texts = {f'w{i}': (places[i % 4], f'disk {"failed" if i % 3 == 0 else "ok"} on node-{i}') for i in range(80)}
    add_events(*[event(id=uid, workspace=place, description=text) for uid, (place, text) in texts.items()])
    views = [(Viewer.of_workspaces('a', {'alpha'}), None), (Viewer.of_workspaces('ab', {'alpha', 'beta'}), None),
             (ORG, 'gamma'), (Viewer.of_workspaces('a', {'alpha'}), 'beta'),
             (Viewer.of_workspaces('x', {'alpha', 'nowhere'}), None), (Viewer.of_workspaces('n', {'nowhere'}), None)]
    for term in ('failed', 'disk', 'node-1', 'ok on', 'fa'):
        for viewer, place in views:
            seen = viewer.workspaces if place is None else {place} & (viewer.workspaces or {place})
            expected = [uid for uid, (where, text) in reversed(texts.items()) if where in seen and term in text]
            flt = EventFilter(search=term, workspace=place)
            assert ids(flt, viewer) == expected, (term, viewer, place)
            assert count_events(viewer, flt) == len(expected), (term, viewer, place)
    if is_sqlite():
        alpha = Viewer.of_workspaces('a', {'alpha'})
        match, params = index_query('?', [trigram_query('failed')], alpha, EventFilter())
        read = database.execute_sql(f'SELECT count(*) FROM search.event_search WHERE event_search MATCH {match}',
                                    params).fetchone()[0]
        failed = sum(1 for where, text in texts.values() if 'failed' in text)
        assert read == (sum(1 for where, text in texts.values() if where == 'alpha' and 'failed' in text)
                        if most else failed)


def test_a_two_character_term_is_found_by_the_trigrams_that_start_with_it(add_events, parts):
    """A term of two ASCII characters is narrowed by every indexed trigram that starts with it: each
    occurrence starts one, the last field's too (its event's markers follow it). Counts, pages and the
    index's candidates agree with a test of every event's text, across field boundaries, upper case, other
    alphabets, and events the index has not reached yet."""
    from store.derived import search_file
    from store.engine.db import database, is_sqlite
    from store.ledger.validation import validate_event
    from store.read import counts
    from store.read.insight import timeline
    from store.write.ingest import append_events

    texts = {'t0': ('Push', '1-box', 'no match across fields'), 't1': ('Scale', 'gpu-H100', 'scaled'),
             't2': ('Stop', 'nb-1', 'stopped on h1'), 't3': ('Stop', 'nb-2', 'ünh1 über'),
             't4': ('Start', 'nb-3', 'ḫ1 is another letter'), 't5': ('Start', 'H1', 'x'),
             't6': ('Start', 'nb-4', 'h'), 't8': ('Add', 'nb-5', 'h1é'), 't9': ('Add', 'nb-6', 'quoted "h1"'),
             't7': ('Add', 'h1x', 'after the index')}
    rows = [event(id=uid, action=action, target=target, description=text, workspace=('alpha', 'beta')[i % 2],
                  timestamp=f'2026-10-0{1 + i % 5}T08:00:00Z')
            for i, (uid, (action, target, text)) in enumerate(texts.items())]
    add_events(*rows[:-1])
    append_events([validate_event(rows[-1])])  # after the index's position until its thread reaches it
    alpha = Viewer.of_workspaces('a', {'alpha'})
    for term in ('h1', 'H1', 'h', '1-', 'ü'):
        for viewer in (ORG, alpha):
            for more in ({}, {'scope': 'Service'}, {'since': datetime(2026, 10, 3, tzinfo=UTC)}):
                flt = EventFilter(search=term, **more)
                expected = [e['id'] for e in iter_events(viewer, EventFilter(**more), Sort('timestamp', True))
                            if term.lower() in '\x1f'.join((e['scope'], e['category'], e['user'], e['action'],
                                                            e['target'], e['description'])).lower()]
                counts._kept.clear()
                assert count_events(viewer, flt) == len(expected), (term, viewer.name, more)
                assert timeline(viewer, flt).total == len(expected), (term, viewer.name, more)
                assert sorted(ids(flt, viewer)) == sorted(expected), (term, viewer.name, more)
    if is_sqlite():
        found = database.execute_sql('SELECT group_concat(e.uid) FROM search.event_search f JOIN event e '
                                     'ON e.seq = f.rowid WHERE event_search MATCH ?',
                                     (search_file.starting_with('h1'),)).fetchone()[0]
        # t7 once the indexer reached it; t8's trigram 'h1é' is listed beyond ASCII, t9's 'h1"' probed
        assert sorted(set(found.split(',')) - {'t7'}) == ['t1', 't2', 't3', 't5', 't8', 't9']
        assert search_file.starting_with('qz') == '("qz")'  # in no event: a phrase that matches nothing
