"""The one query: visibility, every filter, search semantics, sorting, totals and iteration."""

from datetime import timedelta

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
