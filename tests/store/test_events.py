"""The one query: visibility, every filter, search semantics, sorting, totals and iteration."""

from datetime import UTC, datetime, timedelta

import pytest

from store.read.events import EventFilter, Sort, Viewer, count_events, find_events, iter_events, page_after
from tests.conftest import event, utc

ORG = Viewer.organization()


@pytest.fixture
def sample(add_events):
    add_events(
        event(id='e1', timestamp='2026-10-01T08:00:00Z', user='alice@acme.io', scope='Service',
              category='AI Notebook', action='Start Notebook', target='nb-gpu-1', description='Started on A100',
              workspace='alpha'),
        event(id='e2', timestamp='2026-10-02T08:00:00Z', user='bob@acme.io', scope='Billing', category='Credit',
              action='Add Credit', target='credit-7', description='Added $100 in credits', workspace=None),
        event(id='e3', timestamp='2026-10-03T08:00:00Z', user='carol@acme.io', scope='Workspace',
              category='GPU Quota', action='Change GPU Quota', target='beta/H100', status='FAILED',
              description='Quota 50%_off failed: exceeds organization quota', workspace='beta'),
        event(id='e4', timestamp='2026-10-04T08:00:00Z', user='system', scope='Organization', category='Member',
              action='Invite Member', target='dave@acme.io', description='Invited Dave "the GPU guy"',
              workspace=None),
        event(id='e5', timestamp='2026-10-05T08:00:00Z', user='Émile@acme.io', scope='Service',
              category='GPU Container', action='Stop Container', target='ctr-ÄBC', description='Stopped container',
              workspace='alpha'),
    )


def ids(flt: EventFilter = EventFilter(), viewer: Viewer = ORG, sort: Sort = Sort()) -> list[str]:
    return [e['id'] for e in find_events(viewer, flt, sort, limit=100).events]


def test_newest_first_by_default(sample):
    assert ids() == ['e5', 'e4', 'e3', 'e2', 'e1']


@pytest.mark.parametrize(('flt', 'expected'), [
    (EventFilter(scope='Service'), ['e5', 'e1']),
    (EventFilter(scope='Service', category='GPU Container'), ['e5']),
    (EventFilter(category='Credit'), ['e2']),
    (EventFilter(status='FAILED'), ['e3']),
    (EventFilter(user='system'), ['e4']),
    (EventFilter(workspace='alpha'), ['e5', 'e1']),
    (EventFilter(since=utc(2026, 10, 2, 8)), ['e5', 'e4', 'e3', 'e2']),
    (EventFilter(until=utc(2026, 10, 2, 8)), ['e1']),
    (EventFilter(since=utc(2026, 10, 2), until=utc(2026, 10, 4)), ['e3', 'e2']),
    (EventFilter(scope='Service', workspace='alpha', since=utc(2026, 10, 3)), ['e5']),
    (EventFilter(scope='Service', status='FAILED'), []),
    (EventFilter(scope='Billing', search='credit'), ['e2']),
])
def test_filters_alone_and_combined(sample, flt, expected):
    assert ids(flt) == expected
    assert count_events(ORG, flt) == len(expected)


@pytest.mark.parametrize(('term', 'expected'), [
    ('billing', ['e2']),            # scope
    ('gpu quota', ['e3']),          # category
    ('CAROL@', ['e3']),             # user, case-insensitive
    ('invite member', ['e4']),      # action
    ('nb-gpu', ['e1']),             # target
    ('a100', ['e1']),               # description
    ('gpu', ['e5', 'e4', 'e3', 'e1']),
    ('50%_off', ['e3']),            # % and _ are literal
    ('%', ['e3']),
    ('_', ['e3']),
    ('"the gpu guy"', ['e4']),      # quotes are literal
    ("'", []),
    ('émile', ['e5']),              # non-ASCII case folding
    ('äbc', ['e5']),
    ('ai', ['e5', 'e3', 'e1']),     # shorter than the trigram index: still correct
    ('zzzz-no-match', []),
    ('  a100  ', ['e1']),           # trimmed
])
def test_search_is_a_literal_case_insensitive_substring(sample, term, expected):
    assert ids(EventFilter(search=term)) == expected


def reference_search(events: list[dict], term: str) -> list[str]:
    """The meaning of search, spelled out: a case-insensitive substring of any of the six columns."""
    needle = term.strip().lower()
    fields = ('scope', 'category', 'user', 'action', 'target', 'description')
    return [e['id'] for e in events if any(needle in e[f].lower() for f in fields)]


@pytest.fixture(params=[1, 3], ids=['one pass', 'three parts'])
def parts(request, monkeypatch) -> int:
    """Cold counts in one pass, or split into three spans counted side by side (store/read/counts.py)."""
    from store.read import counts

    monkeypatch.setattr(counts, 'PARTS', request.param)
    monkeypatch.setattr(counts, 'SPLIT_FROM', 0)
    return request.param


def test_search_equals_the_plain_substring_meaning_for_every_kind_of_term(sample, parts):
    """Pages and totals alike, including terms inside scope and category names, whose events are
    counted from the daily counts."""
    everything = find_events(ORG, EventFilter(), limit=100).events
    fields = ('scope', 'category', 'user', 'action', 'target', 'description')
    words = {w for e in everything for f in fields for w in e[f].split()}
    terms = {w[i:j] for w in words for i in range(len(w)) for j in range(i + 1, min(len(w), i + 6) + 1)}
    terms |= {'ai notebook', 'gpu quota', 'ervic', 'credit'}
    assert len(terms) > 300
    for term in sorted(terms):
        expected = reference_search(everything, term)
        assert ids(EventFilter(search=term)) == expected, term
        assert count_events(ORG, EventFilter(search=term)) == len(expected), term


def test_search_does_not_match_across_field_boundaries(sample):
    # scope "Billing" followed by category "Credit" must not match "gcredit"
    assert ids(EventFilter(search='billingcredit')) == []


def test_workspace_admin_sees_only_their_workspaces(sample):
    alpha = Viewer.of_workspaces('a', {'alpha'})
    assert ids(viewer=alpha) == ['e5', 'e1']
    assert count_events(alpha, EventFilter()) == 2
    assert ids(EventFilter(scope='Billing'), viewer=alpha) == []
    assert ids(EventFilter(workspace='beta'), viewer=alpha) == []
    assert ids(EventFilter(search='quota'), viewer=alpha) == []
    assert ids(viewer=Viewer.of_workspaces('nobody', set())) == []
    assert ids(viewer=Viewer.of_workspaces('ab', {'alpha', 'beta'})) == ['e5', 'e3', 'e1']


@pytest.mark.parametrize(('sort', 'expected'), [
    (Sort('timestamp', descending=False), ['e1', 'e2', 'e3', 'e4', 'e5']),
    (Sort('user', descending=False), ['e1', 'e2', 'e3', 'e4', 'e5']),
    (Sort('user', descending=True), ['e5', 'e4', 'e3', 'e2', 'e1']),
    (Sort('status', descending=False), ['e3', 'e1', 'e2', 'e4', 'e5']),
    (Sort('scope', descending=False), ['e2', 'e4', 'e1', 'e5', 'e3']),
    (Sort('scope', descending=True), ['e3', 'e5', 'e1', 'e4', 'e2']),
    (Sort('category', descending=False), ['e1', 'e2', 'e5', 'e3', 'e4']),
])
def test_sort_by_any_column(sample, sort, expected):
    assert ids(sort=sort) == expected


def test_unknown_sort_column_is_refused():
    with pytest.raises(ValueError, match='cannot sort'):
        Sort('hash')


def test_pages_and_total(add_events):
    base = utc(2026, 1, 1)
    add_events(*[event(id=f'p{i}', timestamp=(base + timedelta(minutes=i)).isoformat()) for i in range(120)])
    first = find_events(ORG, EventFilter(), offset=0, limit=50)
    third = find_events(ORG, EventFilter(), offset=100, limit=50)
    assert first.total == third.total == 120
    assert [e['id'] for e in first.events][:2] == ['p119', 'p118']
    assert [e['id'] for e in third.events] == [f'p{i}' for i in range(19, -1, -1)]


@pytest.mark.parametrize('sort', [Sort(), Sort('timestamp', False), Sort('user', False), Sort('scope', True),
                                  Sort('category', False)])
def test_every_page_equals_the_same_slice_of_the_whole_order(add_events, sort):
    """Pages in the second half are read backwards; they must still be exactly the right slice."""
    base = utc(2026, 1, 1)
    users = ['ann@acme.io', 'bob@acme.io', 'cy@acme.io']
    add_events(*[event(id=f'q{i}', user=users[i % 3], timestamp=(base + timedelta(minutes=i // 2)).isoformat(),
                       scope='Billing' if i % 4 else 'Service', category='Credit' if i % 4 else 'AI Notebook')
                 for i in range(53)])
    whole = [e['id'] for e in find_events(ORG, EventFilter(), sort, limit=100).events]
    assert len(whole) == 53
    for size in (5, 10, 25):
        for offset in range(0, 60, size):
            page = find_events(ORG, EventFilter(), sort, offset=offset, limit=size)
            assert [e['id'] for e in page.events] == whole[offset:offset + size], (size, offset)
            assert page.total == 53


def test_total_equals_rows_iterated(sample):
    for flt in (EventFilter(), EventFilter(scope='Service'), EventFilter(search='gpu'), EventFilter(status='FAILED')):
        for viewer in (ORG, Viewer.of_workspaces('a', {'alpha'})):
            rows = list(iter_events(viewer, flt, chunk=2))
            assert len(rows) == count_events(viewer, flt)


def test_keyset_pages_are_stable_while_events_arrive(sample, add_events):
    first = page_after(ORG, EventFilter(), None, 2).events
    assert [e['id'] for e in first] == ['e5', 'e4']
    add_events(event(id='late', timestamp='2026-10-06T00:00:00Z'))
    last = first[-1]
    cursor = (int(last['timestamp'].timestamp() * 1000), last['seq'])
    assert [e['id'] for e in page_after(ORG, EventFilter(), cursor, 10).events] == ['e3', 'e2', 'e1']


def test_event_fields_round_trip(add_events):
    add_events(event(id='x', metadata={'ip': '192.0.2.1', 'before': {'quota': 4}}, workspace='alpha'))
    stored = find_events(ORG, EventFilter()).events[0]
    assert stored['metadata'] == {'ip': '192.0.2.1', 'before': {'quota': 4}}
    assert stored['workspace'] == 'alpha'
    assert stored['timestamp'] == utc(2026, 10, 1, 8)
    assert len(stored['hash']) == 64


@pytest.mark.sqlite_only  # an SQLite FTS5 plan choice; PostgreSQL's planner makes it
def test_common_terms_walk_another_columns_order_with_the_same_results(add_events, monkeypatch):
    import store.read.planner as planner

    base = utc(2026, 3, 1)
    add_events(*[event(id=f'c{i}', timestamp=(base + timedelta(minutes=(i * 37) % 101)).isoformat(),
                       action=('Start Notebook', 'Stop Notebook', 'Add Credit')[i % 3],
                       description='gpu notebook' if i % 3 else 'cpu only') for i in range(101)])
    sort = Sort('action', False)
    expected = {term: [e['id'] for e in find_events(ORG, EventFilter(search=term), sort, limit=20, offset=5).events]
                for term in ('notebook', 'cpu', 'gpu n')}
    monkeypatch.setattr(planner, 'COMMON_MATCHES', 10)
    assert planner.is_common_term('notebook', 67, 0)
    assert not planner.is_common_term('nb', 67, 0)
    for term, ids_ in expected.items():
        page = find_events(ORG, EventFilter(search=term), sort, limit=20, offset=5)
        assert [e['id'] for e in page.events] == ids_


def _searched_in_python(viewer: Viewer, flt: EventFilter, descending: bool) -> list[str]:
    """The matches of `flt`'s keyword among the view's events, tested in Python, in time order."""
    term = flt.search.lower()
    view = [e for e in iter_events(viewer, EventFilter(**{**flt.__dict__, 'search': ''}), Sort('timestamp', False))
            if any(term in str(e[field]).lower()
                   for field in ('scope', 'category', 'user', 'action', 'target', 'description'))]
    view.sort(key=lambda e: (e['timestamp'], e['seq']), reverse=descending)
    return [e['id'] for e in view]


@pytest.mark.sqlite_only  # an SQLite FTS5 plan choice; PostgreSQL's planner makes it
@pytest.mark.parametrize('way', ['walked', 'walk out of time', 'through the index'])
def test_searched_pages_in_time_order_are_the_same_walked_or_through_the_index(add_events, monkeypatch, way):
    """A keyword's page in time order, found by walking the view or through the search index
    (store/read/planner.py `_in_time_order`), and after a walk that runs out of time, is exactly the slice of the
    whole order."""
    import store.read.planner as planner

    base = utc(2026, 3, 1)
    add_events(*[event(id=f'w{i}', timestamp=(base + timedelta(minutes=(i * 37) % 120)).isoformat(),
                       user=('ann@acme.io', 'bob@acme.io')[i % 2], workspace=('alpha', 'beta', None)[i % 3],
                       scope='Billing' if i % 4 == 0 else 'Service', category='Credit' if i % 4 == 0 else 'AI Notebook',
                       status='FAILED' if i % 5 == 0 else 'SUCCESS',
                       description='gpu failed' if i % 7 < 2 else 'cpu only') for i in range(120)])
    walks = []
    race = planner.first_done

    def counted(here, elsewhere, seconds, head_start):
        walks.append(seconds)
        return elsewhere() if way == 'walk out of time' else race(here, elsewhere, seconds, head_start)

    monkeypatch.setattr(planner, 'first_done', counted)
    monkeypatch.setattr(planner, 'WALK_SECONDS_PER_EVENT', 1.0 if way == 'through the index' else 0.0)
    filters = [EventFilter(search='failed'), EventFilter(search='gpu f'), EventFilter(search='cpu', user='bob@acme.io'),
               EventFilter(search='failed', scope='Service'), EventFilter(search='only', status='FAILED'),
               EventFilter(search='failed', since=base + timedelta(minutes=30), until=base + timedelta(minutes=90))]
    for viewer in (ORG, Viewer.of_workspaces('a', {'alpha'})):
        for flt in filters:
            for descending in (True, False):
                whole = _searched_in_python(viewer, flt, descending)
                assert whole, (viewer, flt)
                for offset in range(0, len(whole) + 7, 7):
                    page = find_events(viewer, flt, Sort('timestamp', descending), offset=offset, limit=7)
                    assert page.total == len(whole)
                    assert [e['id'] for e in page.events] == whole[offset:offset + 7], (viewer.name, flt, offset)
    assert bool(walks) == (way != 'through the index')


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


@pytest.mark.parametrize('sort', [Sort(), Sort('timestamp', False)])
def test_deep_pages_placed_by_the_view_counts_equal_the_plain_slice(add_events, monkeypatch, sort):
    """Deep pages in time order start from a bucket boundary the view's counts place; every page, for every
    filter (a keyword and a user too) and both visibilities, is still exactly the slice of the whole order."""
    import store.read.planner as planner

    base = utc(2026, 5, 1)
    add_events(*[event(id=f'd{i}', timestamp=(base + timedelta(hours=(i * 7) % 150, minutes=i % 60)).isoformat(),
                       scope='Billing' if i % 3 else 'Service', category='Credit' if i % 3 else 'AI Notebook',
                       status='FAILED' if i % 5 == 0 else 'SUCCESS',
                       workspace=None if i % 3 else ('alpha', 'beta')[i % 2])
                 for i in range(90)])
    monkeypatch.setattr(planner, 'SEEK_FROM', 1)
    admin = Viewer.of_workspaces('a', {'alpha'})
    filters = [EventFilter(), EventFilter(scope='Billing'), EventFilter(status='FAILED'),
               EventFilter(since=base + timedelta(hours=30, minutes=7), until=base + timedelta(hours=101, minutes=3)),
               EventFilter(scope='Service', since=base + timedelta(hours=13)), EventFilter(search='credit'),
               EventFilter(search='nb', status='SUCCESS'), EventFilter(user='alice@acme.io')]
    seeks = 0
    for viewer in (ORG, admin):
        for flt in filters:
            whole = [e['id'] for e in iter_events(viewer, flt, sort)]
            for offset in range(0, len(whole) + 3, 7):
                page = find_events(viewer, flt, sort, offset=offset, limit=6)
                assert [e['id'] for e in page.events] == whole[offset:offset + 6], (viewer, flt, offset)
                assert page.total == len(whole)
                seeks += planner._seek(viewer, flt, sort, offset, page.total) is not None
    assert seeks > 40
    assert planner._seek(ORG, EventFilter(search='credit'), sort, 40, 60) is not None
    assert planner._seek(ORG, EventFilter(), Sort('user'), 40, 90) is None


def test_terms_in_scope_category_and_user_names_count_exactly_for_every_view(add_events, parts):
    """A term held by scope or category names, or by users: those events come from the daily counts and
    the user index, the others from the index's candidates outside them; every total and the timeline
    equal the plain count of rows, before and after new events, and for events without markers."""
    from store.derived import search_index
    from store.engine.db import database, is_sqlite
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
        assert len(search_index.naming(search_index.PAIR, 'gpu')) == 2
        assert len(search_index.naming(search_index.ACTOR, 'gpu')) == 1
        assert not search_index.naming(search_index.PAIR, 'ready')
        database.execute_sql("DELETE FROM facet_marker WHERE category = 'GPU Quota'")  # the next events: no marker
        database.execute_sql("DELETE FROM actor_marker WHERE actor = 'alice@acme.io'")
        search_index._known.__init__()
    spread('c', 30)
    counts._kept.clear()
    check()


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
