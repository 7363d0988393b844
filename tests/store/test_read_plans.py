"""The planner's other ways to a page and to a total, on both engines: whichever way answers, and whichever wins
a race (store/engine/race.py), a page is exactly the slice of the plain order and a total the plain count."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from store.engine.db import database
from store.engine.race import first_done
from store.read import planner as planner_module
from store.read import ways as ways_module
from store.read.events import EventFilter, Sort, Viewer, count_events, find_events, iter_events
from tests.conftest import event, utc

ORG = Viewer.organization()
ALPHA = Viewer.of_workspaces('a', {'alpha'})

ENDLESS = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n'
FINITE = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT count(*) FROM n'


def _run(sql: str, ended: list | None = None):
    def run():
        try:
            return database.execute_sql(sql).fetchone()[0]
        finally:
            if ended is not None:
                ended.append(sql)
    return run


def test_a_race_takes_the_other_way_when_this_one_does_not_end(engine):
    assert first_done(_run(ENDLESS), _run(FINITE), seconds=600, head_start=0.01) == 300000
    assert database.execute_sql(FINITE).fetchone() == (300000,)  # nothing left behind to stop it


def test_a_race_stops_the_other_way_once_this_one_is_done(engine):
    ended: list[str] = []
    assert first_done(_run(FINITE), _run(ENDLESS, ended), seconds=600, head_start=0) == 300000
    for _ in range(1000):  # the endless one is stopped, not left running in a helper thread
        if ended:
            break
        threading.Event().wait(0.01)
    assert ended == [ENDLESS]
    calls: list[str] = []
    assert first_done(lambda: 'here', lambda: calls.append('elsewhere'), seconds=600, head_start=600) == 'here'
    assert calls == []


def test_a_race_out_of_time_in_a_transaction_takes_the_other_way_there_and_keeps_its_writes(engine):
    """Another connection would not see the transaction's own writes; the stopped way leaves them in place."""
    with database.atomic():
        database.execute_sql("INSERT INTO meta (key, value) VALUES ('unseen', 'elsewhere')")
        count = _run("SELECT count(*) FROM meta WHERE key = 'unseen'")
        assert first_done(_run(ENDLESS), count, seconds=0.05, head_start=0) == 1
        assert database.execute_sql("SELECT value FROM meta WHERE key = 'unseen'").fetchone() == ('elsewhere',)
    assert database.execute_sql("SELECT value FROM meta WHERE key = 'unseen'").fetchone() == ('elsewhere',)


def test_a_race_passes_on_an_error_of_this_way(engine):
    with pytest.raises(Exception, match='no_such_table'):
        first_done(_run('SELECT * FROM no_such_table'), _run(FINITE), seconds=600, head_start=0)
    assert database.execute_sql(FINITE).fetchone() == (300000,)


def _store(add_events, count: int) -> None:
    rng = random.Random(7)
    base = utc(2026, 3, 1)
    add_events(*[event(id=f'p{i}', user=rng.choice(['ann@acme.io', 'bob@acme.io', 'cy@acme.io']),
                       timestamp=(base + timedelta(minutes=rng.randrange(30))).isoformat(),
                       target=rng.choice(['nb-1', 'nb-2', 'ctr-9', 'Zeta', 'ws-alpha']),
                       description=rng.choice(['Started notebook', 'Added credit', 'added credit', 'Created x', 'Z']),
                       action=rng.choice(['Start Notebook', 'Add Credit', 'Create Container']),
                       status=rng.choice(['SUCCESS', 'FAILED']), workspace=rng.choice(['alpha', 'beta', None]),
                       scope='Service' if i % 3 else 'Billing', category='AI Notebook' if i % 3 else 'Credit')
                 for i in range(count)])


def _sorted_in_python(viewer: Viewer, flt: EventFilter, sort: Sort) -> list[str]:
    rows = list(iter_events(viewer, flt, Sort('timestamp', False)))
    rows.sort(key=lambda e: (e[sort.column], e['scope'] if sort.column == 'category' else '', e['timestamp'],
                             e['seq']), reverse=sort.descending)
    return [e['id'] for e in rows]


FILTERS = [EventFilter(scope='Service', category='AI Notebook'), EventFilter(search='credit'),
           EventFilter(search='nb-', status='FAILED'), EventFilter(user='bob@acme.io'), EventFilter(workspace='beta'),
           EventFilter(since=utc(2026, 3, 1, 0, 10), until=utc(2026, 3, 1, 0, 20))]


@pytest.mark.parametrize('way', ['walked', 'sorted', 'raced'])
def test_pages_in_another_columns_order_equal_the_plain_slice_whichever_way_answers(add_events, monkeypatch, way):
    """A page sorted by any column but time, for filters and keywords, read by walking the column's order (an
    index on PostgreSQL), by sorting the matches, or by the race of both, is the slice of the whole order."""
    race = planner_module.first_done
    raced = []

    def forced(here, elsewhere, seconds, head_start):
        raced.append(seconds)
        if way == 'raced':
            return race(here, elsewhere, seconds, 0)
        return here() if way == 'walked' else elsewhere()

    monkeypatch.setattr(planner_module, 'first_done', forced)
    monkeypatch.setattr(planner_module, 'SORT_TABLE_FROM', 0)
    monkeypatch.setattr(planner_module, 'SORT_TABLE_FROM_FACETS', 0)
    _store(add_events, 80)
    for column in ('target', 'description', 'action', 'user', 'category'):
        for descending in (True, False):
            sort = Sort(column, descending)
            for viewer in (ORG, ALPHA):
                for flt in FILTERS:
                    whole = _sorted_in_python(viewer, flt, sort)
                    assert whole or flt.workspace == 'beta', (viewer.name, flt)
                    for offset in range(0, len(whole) + 9, 9):
                        page = find_events(viewer, flt, sort, offset=offset, limit=9)
                        assert page.total == len(whole)
                        assert [e['id'] for e in page.events] == whole[offset:offset + 9], \
                            (way, column, descending, viewer.name, flt, offset)
    assert raced  # the planner did choose between the ways


# A view and an order, and the way the planner reads it (SQLite): a view of some pairs in the order of an index or
# a sort table by pair, a column of few values value after value, a keyword found in a pair's name.
BY_PAIRS = [(EventFilter(scope='Service'), Sort('action', False), planner_module.PAIR_WALKS),
            (EventFilter(category='Member', status='FAILED'), Sort('action', True), planner_module.PAIR_WALKS),
            (EventFilter(category='Member'), Sort('scope', False), planner_module.BY_VALUE),
            (EventFilter(workspace='alpha'), Sort('category', True), planner_module.BY_VALUE),
            (EventFilter(category='Member', status='FAILED'), Sort('status', False), planner_module.BY_VALUE),
            (EventFilter(workspace='alpha'), Sort('action', True), planner_module.PAIR_WALKS),
            (EventFilter(since=utc(2026, 3, 1, 0, 12), until=utc(2026, 3, 1, 0, 20)), Sort('action', False),
             planner_module.PAIR_WALKS),
            (EventFilter(user='bob@acme.io'), Sort('action', False), planner_module.PAIR_WALKS),
            (EventFilter(user='bob@acme.io', status='FAILED'), Sort('scope', True), planner_module.BY_VALUE),
            (EventFilter(scope='Service'), Sort('user', True), planner_module.BY_VALUE),
            (EventFilter(category='Member', workspace='alpha'), Sort('user', False), planner_module.BY_VALUE),
            (EventFilter(scope='Workspace', status='FAILED'), Sort('target', True), planner_module.SORT_TABLE),
            (EventFilter(category='Member'), Sort('description', False), planner_module.SORT_TABLE),
            (EventFilter(search='credit'), Sort('description', True), planner_module.NAMED_PAIRS),
            (EventFilter(search='notebook', workspace='alpha'), Sort('action', False), planner_module.NAMED_PAIRS),
            (EventFilter(search='member'), Sort('target', False), planner_module.NAMED_PAIRS_ONLY)]


SQLITE_ONLY_WAYS = {planner_module.NAMED_PAIRS, planner_module.NAMED_PAIRS_ONLY}


@pytest.mark.parametrize(('way', 'deep'), [('first', False), ('other', False), ('first', True)],
                         ids=['first', 'other', 'first, read as a deep page'])
def test_views_of_some_pairs_read_pair_by_pair_equal_the_plain_slice(add_events, engine, monkeypatch, way, deep):
    """A view of some (scope, category) pairs in another column's order, read pair by pair (each pair's events in
    an index or a sort table by pair, merged), value after value, or as the pairs whose names hold the keyword
    and the rest sorted, is the slice of the whole order at every offset, for a Workspace Admin too; so is the
    page of the way raced beside it. PostgreSQL (of the C collation) reads pair by pair and value after value
    too (not by user, where its own plan was quicker), by target and description in its indexes by pair; the
    names' markers are SQLite's. Read as a deep page (`deep`), the page of each value read value after value
    starts at a bucket boundary its counts place, a page by action at a day's boundary the counts per action and
    day place, and each walk merged reads its positions in chunks of two."""
    if deep:
        monkeypatch.setattr(planner_module, 'SEEK_FROM', 1)
        monkeypatch.setattr(ways_module._Walk, 'FIRST_CHUNK', 2)
    planned = []
    race = planner_module.first_done
    choose = planner_module._choose

    def chosen(*args, **kwargs):
        plan = choose(*args, **kwargs)
        planned.append(plan.first.name)
        return plan

    monkeypatch.setattr(planner_module, '_choose', chosen)
    monkeypatch.setattr(planner_module, 'first_done',
                        lambda here, elsewhere, seconds, head_start: race(here, here, seconds, 0) if way == 'first'
                        else elsewhere())
    _store(add_events, 80)
    add_events(*[event(id=f'm{i}', scope=('Workspace', 'Organization')[i % 2], category='Member',
                       target=f'nb-m{i % 7}', action=('Add Member', 'Remove Member', 'Add Credit')[i % 3],
                       workspace=('alpha', None, 'beta')[i % 3], status=('SUCCESS', 'FAILED')[i // 2 % 2],
                       description=('Added credit', 'Started notebook')[i % 2],
                       timestamp=utc(2026, 3, 1, 0, i % 25).isoformat()) for i in range(40)])
    add_events(*[event(id=f'd{i}', scope=('Service', 'Workspace', 'Organization')[i % 3],  # over the days before
                       category=('AI Notebook', 'Member', 'Member')[i % 3],
                       workspace=('alpha', 'beta', None)[i % 4 % 3],
                       action=(('Start Notebook', 'Stop Notebook'), ('Add Member', 'Remove Member'),
                               ('Add Member', 'Remove Member'))[i % 3][i // 3 % 2],
                       description=('Started notebook', 'Added member', 'Added member')[i % 3],
                       target=('nb-1', 'm-1', 'm-2')[i % 3], status=('SUCCESS', 'FAILED')[i % 5 % 2],
                       user=('bob@acme.io', 'ann@acme.io')[i % 2],
                       timestamp=utc(2026, 2, 20 + i % 7, i % 24).isoformat()) for i in range(42)])
    every = [(EventFilter(), Sort(column, descending),
              planner_module.PAIR_WALKS if column == 'action' else planner_module.BY_VALUE)
             for column, descending in (('action', False), ('category', True), ('user', False))]
    for flt, sort, name in [*BY_PAIRS, *(every if deep else [])]:  # every event's deep pages placed by the counts
        for viewer in (ORG, ALPHA) if flt != EventFilter() else (ORG,):
            whole = _sorted_in_python(viewer, flt, sort)
            assert whole, (viewer.name, flt)
            planned.clear()
            for offset in range(0, len(whole) + 6, 6):
                page = find_events(viewer, flt, sort, offset=offset, limit=6)
                assert page.total == len(whole)
                assert [e['id'] for e in page.events] == whole[offset:offset + 6], (way, viewer.name, flt, sort, offset)
            expected: str | None = name
            if engine == 'postgresql':  # its indexes by pair in target and description order stand for the tables
                expected = {planner_module.SORT_TABLE: planner_module.PAIR_WALKS}.get(name, name)
                if expected in SQLITE_ONLY_WAYS or sort.column == 'user' or flt == EventFilter():
                    expected = None
            assert expected is None or expected in planned, (viewer.name, flt, sort, planned)


TIME_WALKED = [EventFilter(search='credit', category='Credit'), EventFilter(search='nb-', category='Member'),
               EventFilter(search='nb-', scope='Service'),
               EventFilter(search='nb-', scope='Workspace', status='FAILED'),
               EventFilter(search='started', scope='Service', category='AI Notebook', workspace='alpha'),
               EventFilter(search='nb-', user='cy@acme.io'), EventFilter(search='add', workspace='beta'),
               EventFilter(search='nb-', status='SUCCESS', since=utc(2026, 3, 1, 0, 10)),
               EventFilter(search='nb-', category='Nowhere'), EventFilter(category='Member'),
               EventFilter(category='Member', status='FAILED', since=utc(2026, 3, 1, 0, 10))]


@pytest.mark.sqlite_only("the walk in time order is SQLite's plan; PostgreSQL's planner chooses its index")
def test_pages_in_time_order_walked_through_the_views_own_index_equal_the_plain_slice(add_events, monkeypatch):
    """A keyword's page in time order read by walking the view (the race's first way, made to answer) through
    the index of its equalities, a category of one scope with that scope's, is the slice of the whole order; a
    category found in two scopes (Member, of Organization and of Workspace) is walked once per scope, with or
    without a keyword, and the walks merged keep the events of both in order, at every offset of the first half
    (the second is read from the other end), a Workspace Admin's too (some of the scopes' events are theirs)."""
    race = planner_module.first_done
    walked = []

    def first(here, elsewhere, seconds, head_start):
        walked.append(seconds)
        return race(here, lambda: here(), seconds, 0)

    monkeypatch.setattr(planner_module, 'first_done', first)
    monkeypatch.setattr(planner_module, 'SORT_SECONDS_PER_MATCH', 1.0)  # the walk is always worth trying
    _store(add_events, 80)
    add_events(*[event(id=f'{"wo"[i % 2]}{i}', scope=('Workspace', 'Organization')[i % 2], category='Member',
                       target=f'nb-w{i}', workspace=('alpha', None, 'beta', 'alpha')[i % 4],
                       description='Started notebook', status=('SUCCESS', 'FAILED')[i // 2 % 2],
                       timestamp=utc(2026, 3, 1, 0, i).isoformat()) for i in range(40)])
    for viewer in (ORG, ALPHA):
        for flt in TIME_WALKED:
            whole = [e['id'] for e in iter_events(viewer, flt)]
            assert whole or flt.category == 'Nowhere' or viewer is ALPHA, flt
            if flt.category == 'Member' and viewer is ORG:
                assert {name[0] for name in whole} == {'w', 'o'}
            for offset in range(0, len(whole) + 7, 7):
                page = find_events(viewer, flt, offset=offset, limit=7)
                assert [e['id'] for e in page.events] == whole[offset:offset + 7], (viewer.name, flt, offset)
    assert walked


@pytest.mark.parametrize(('text_from', 'most_users'), [(-1.0, 10_000), (1.0, 10_000), (-1.0, 1)],
                         ids=['rest from event_text', 'rest from the events', 'too many users to name them'])
def test_keyword_totals_equal_the_plain_count_whichever_table_counts_the_rest(add_events, monkeypatch, text_from,
                                                                              most_users):
    """A keyword's total and timeline (events of the pairs and users whose names hold it counted apart, the
    rest read; on PostgreSQL from `event_text`, kept by a trigger, or from the events) equal the plain count of
    its matches, for terms in names, in the other fields, across no field boundary, of 1 to 3+ characters, with
    a user filter too (a user whose name holds the term, or not: the index's candidates with their marker)."""
    from store.read import counts, keywords
    from store.read.insight import timeline

    monkeypatch.setattr(keywords, 'TEXT_TABLE_FROM', text_from)
    monkeypatch.setattr(keywords, 'MAX_USERS_NAMED', most_users)
    base = utc(2026, 3, 1)

    def spread(prefix: str, n: int) -> None:
        add_events(*[event(id=f'{prefix}{i}', timestamp=(base + timedelta(hours=5 * i, minutes=i)).isoformat(),
                           scope=('Service', 'Billing', 'Workspace')[i % 3],
                           category=('GPU Container', 'Credit', 'GPU Quota')[i % 3],
                           user=('gpu-bot@acme.io', 'ann@acme.io', 'cy@acme.io')[i % 4 % 3],
                           action=('Attach GPU', 'Add Credit', 'Set 50%_quota')[i % 5 % 3],
                           target=f'nb-{i}', description=('gpu ready', 'credit added', 'quota\\set', 'x')[i % 4],
                           status='FAILED' if i % 4 == 0 else 'SUCCESS', workspace=('alpha', 'beta', None)[i % 3])
                     for i in range(n)])

    spread('a', 90)
    views = [ORG, ALPHA]
    terms = ('gpu', 'credit', 'ann', 'nb-1', '50%_', 'a\\s', 'r\nadd', 'y a', 'g', 'c', 'ce', 'nb-', 'acme',
             'quota', 'attach credit')  # the last: its first and last trigrams in events that do not hold it
    since = base + timedelta(days=6)
    flts = [EventFilter(search=term, **more) for term in terms
            for more in ({}, {'scope': 'Service'}, {'status': 'FAILED'}, {'since': since}, {'user': 'ann@acme.io'},
                         {'user': 'gpu-bot@acme.io', 'scope': 'Service', 'status': 'FAILED'})]

    def check() -> None:
        for viewer in views:
            for flt in flts:
                expected = len(list(iter_events(viewer, flt)))
                assert count_events(viewer, flt) == expected, (viewer.name, flt)
                assert timeline(viewer, flt).total == expected, (viewer.name, flt)

    check()
    spread('b', 30)  # counted from the kept counts on, and from scratch
    check()
    counts._kept.clear()
    check()


def test_the_step_that_adds_event_text_fills_it_from_the_events_already_stored(add_events, engine):
    """PostgreSQL: a database of the releases before gets `event_text` filled from its events, in a part per
    category (step 19), and kept from then on by the trigger; SQLite has no such table (its search index file
    does this work)."""
    from store.lifecycle import schema
    from store.read import counts

    add_events(*[event(id=f'u{i}', description=f'gpu job {i}', target='nb-7' if i % 2 else 't') for i in range(12)])
    if engine == 'sqlite':
        assert not database.execute_sql("SELECT count(*) FROM sqlite_master WHERE name = 'event_text'").fetchone()[0]
        return
    database.execute_sql('DROP TABLE event_text')
    database.execute_sql('DROP TRIGGER event_text_kept ON event')
    database.execute_sql('DROP FUNCTION event_text_add()')
    with database.atomic():
        schema._run(schema.V17_POSTGRES_EVENT_TEXT)()  # the steps, as an upgrade runs them
    with database.atomic():
        schema._run(schema.V19_POSTGRES_EVENT_TEXT_PARTS)()
    add_events(event(id='after', description='gpu job later', target='nb-7'))
    assert database.execute_sql('SELECT count(*) FROM event_text').fetchone() == (13,)
    assert database.execute_sql('SELECT count(*) FROM event_text_other').fetchone() == (0,)  # each in its part
    counts._kept.clear()
    assert count_events(ORG, EventFilter(search='nb-7')) == 7
    assert count_events(ORG, EventFilter(search='job 1')) == 3  # 1, 10 and 11


def test_keyword_totals_across_the_parts_of_event_text(add_events, engine, tmp_path, monkeypatch):
    """PostgreSQL keeps `event_text` in one part per category (a category added later in the default part) and
    reads only the parts of categories with a pair left to read: none of "AI Notebook" for 'notebook'. A category
    of two scopes ('Member') is read while one of its pairs is not named. The totals equal the plain count on
    both engines."""
    from store.ledger import taxonomy
    from store.read import counts, keywords

    monkeypatch.setattr(keywords, 'TEXT_TABLE_FROM', -1.0)  # the rest from event_text, however narrow the view
    read: list[str] = []
    execute = type(database.obj).execute_sql

    def explained(self, sql, params=None, *args, **kwargs):
        if 'FROM event_text' in sql and 'notebook' in (params or []):
            read.extend(row[0] for row in execute(self, f'EXPLAIN {sql}', params))
        return execute(self, sql, params, *args, **kwargs)

    monkeypatch.setattr(type(database.obj), 'execute_sql', explained)

    path = tmp_path / 'taxonomy.json'
    path.write_text('{"Service": ["Batch Job"]}')
    taxonomy.load_extra_categories(str(path))
    try:
        pairs = [('Organization', 'Member'), ('Workspace', 'Member'), ('Service', 'AI Notebook'),
                 ('Service', 'Batch Job'), ('Billing', 'Credit')]
        add_events(*[event(id=f'p{i}', scope=pairs[i % 5][0], category=pairs[i % 5][1],
                           user=('organa@acme.io', 'bo@acme.io')[i % 2], action=('Invite Member', 'Run Job')[i % 3 % 2],
                           description=('organization member', 'notebook batch job', 'credit')[i % 3],
                           workspace=('alpha', None)[i % 2]) for i in range(60)])
    finally:
        taxonomy.load_extra_categories('')
    flts = [EventFilter(search=term, **more) for term in ('organ', 'member', 'notebook', 'batch', 'job', 'credit')
            for more in ({}, {'scope': 'Workspace'}, {'scope': 'Service'}, {'category': 'Member'})]
    for viewer in (ORG, ALPHA):
        for flt in flts:
            counts._kept.clear()
            assert count_events(viewer, flt) == len(list(iter_events(viewer, flt))), (viewer.name, flt)
    if engine == 'postgresql':
        parts = dict(database.execute_sql('SELECT category, count(DISTINCT tableoid) FROM event_text GROUP BY 1'))
        assert parts == {'Member': 1, 'AI Notebook': 1, 'Batch Job': 1, 'Credit': 1}
        assert database.execute_sql("SELECT count(*) FROM event_text_other WHERE category = 'Batch Job'"
                                    ).fetchone() == (12,)
        # each part's trigram index keeps a short pending list (schema step 19)
        assert database.execute_sql(
            "SELECT count(*) FILTER (WHERE 'gin_pending_list_limit=256' = ANY(i.reloptions)), count(*) "
            "FROM pg_inherits h JOIN pg_class i ON i.oid = h.inhrelid "
            "WHERE h.inhparent = 'event_text_trgm'::regclass").fetchone() == (13, 13)
        plan = '\n'.join(read)
        assert 'event_text_1 ' in plan and 'event_text_other' in plan  # Member; Batch Job and Credit's parts
        assert 'event_text_10' not in plan  # AI Notebook, counted from the daily counts



def test_postgresql_walks_a_view_of_facets_in_the_order_index_alone(add_events, engine, monkeypatch):
    """PostgreSQL's indexes in target, action and description order carry the facets (schema step 20): a view of
    facets holding most events is walked in the index alone in those orders, and that walk gets longer before the
    matches are sorted than one that must read the events (a keyword's). A view of some pairs is read pair by pair
    in the indexes by pair (steps 25 and 26). SQLite walks its sort tables instead."""
    from store.read.planner import explain

    add_events(*[event(id=f'w{i}', scope=('Service', 'Billing')[i % 2], category=('AI Notebook', 'Plan')[i % 2],
                       target=f't-{i:03}', status=('SUCCESS', 'FAILED')[i % 3 % 2]) for i in range(40)])
    monkeypatch.setattr(planner_module, 'SORT_SECONDS_PER_MATCH', 1.0)  # every walk at its longest
    dense = EventFilter(status='SUCCESS')  # 27 of the 40 events: at least DENSE_SHARE
    for column in ('target', 'action', 'description'):
        plan = '\n'.join(explain(ORG, dense, Sort(column, False)))
        paired = '\n'.join(explain(ALPHA, EventFilter(scope='Billing', category='Plan', status='FAILED'),
                                    Sort(column, False)))
        searched = '\n'.join(explain(ALPHA, EventFilter(search='t-0', category='Plan'), Sort(column, False)))
        if engine == 'sqlite':
            assert 'the walk gets' not in plan
            continue
        assert 'the walk gets 150 ms' in plan and 'the walk gets 40 ms' in searched, (plan, searched)
        assert 'the view read pair by pair' in paired, paired
        database.execute_sql('VACUUM event')  # the index alone answers for the pages a vacuum marked all-visible
        with database.atomic():  # the test's few events: PostgreSQL would rather read and sort them all
            for kind in ('seqscan', 'bitmapscan', 'sort'):
                database.execute_sql(f'SET LOCAL enable_{kind} = off')
            walked = '\n'.join(row[0] for row in database.execute_sql(
                f"EXPLAIN SELECT e.seq FROM event e WHERE e.status = 'SUCCESS' "
                f"AND e.workspace_id IN (SELECT id FROM workspace WHERE name = 'alpha') "
                f'ORDER BY e.{column}, e.ts, e.seq LIMIT 5'))
        assert f'Index Only Scan using event_{column}_ts' in walked, walked


def test_terms_of_two_characters_counted_and_paged_through_their_character_pairs(add_events, engine, monkeypatch):
    """A term of two characters, which PostgreSQL's trigram index cannot narrow, is found there through the index
    of event_text's character pairs (schema step 21), with the events whose scope, category or user names hold
    it: the totals and every page equal the events holding the term, on both engines and for both roles."""
    from store.read import counts, keywords

    monkeypatch.setattr(keywords, 'TEXT_TABLE_FROM', -1.0)  # the rest from event_text, however narrow the view
    texts = ['zq in the middle', 'ends in zq', 'über alles', 'cost 10%_ more', 'path a\\b', 'ticket 1-2', 'plain']
    add_events(*[event(id=f'b{i}', timestamp=f'2026-10-{1 + i % 20:02}T08:00:{i % 60:02}Z',
                       user=('qzara@acme.io', 'bo@acme.io', 'cy@acme.io')[i % 3],
                       scope=('Billing', 'Service')[i % 2], category=('Voucher', 'AI Notebook')[i % 2],
                       description=texts[i % len(texts)], workspace=('alpha', None)[i % 4 // 3])
                 for i in range(84)])
    everything = list(iter_events(ORG, EventFilter()))
    read: list[str] = []
    execute = type(database.obj).execute_sql

    def recorded(self, sql, params=None, *args, **kwargs):
        if 'text_bigrams' in sql:
            read.append(sql)
        return execute(self, sql, params, *args, **kwargs)

    monkeypatch.setattr(type(database.obj), 'execute_sql', recorded)
    for term, walk in [(term, walk) for term in ('zq', 'ZQ', 'qz', 'vo', 'üb', '%_', 'a\\', '1-', 'zz')
                       for walk in (1.0, 0.0)]:  # PostgreSQL's pages from the candidates, then walking the view
        monkeypatch.setattr(planner_module, 'WALK_SECONDS_PER_EVENT', walk)
        for viewer in (ORG, ALPHA):
            for more in ({}, {'scope': 'Billing'}, {'status': 'SUCCESS', 'since': utc(2026, 10, 5)}):
                flt = EventFilter(search=term, **more)
                held = [e['seq'] for e in everything if term.lower() in '\x1f'.join(
                    e[k] for k in ('scope', 'category', 'user', 'action', 'target', 'description')).lower()
                        and (viewer is ORG or e['workspace'] == 'alpha')
                        and all(e[k] == v for k, v in more.items() if k != 'since')
                        and e['timestamp'] >= more.get('since', e['timestamp'])]
                counts._kept.clear()
                assert count_events(viewer, flt) == len(held), (term, viewer.name, more)
                pages = [find_events(viewer, flt, offset=offset, limit=7).events for offset in range(0, len(held), 7)]
                assert [e['seq'] for page in pages for e in page] == held, (term, viewer.name, more)
    if engine == 'sqlite':
        assert read == []
        return
    assert any('FROM event_text e' in sql for sql in read)  # the counts
    assert any('FROM event e' in sql and 'ANY(ARRAY(SELECT' in sql for sql in read)  # the pages
    # each part of event_text has the index, and PostgreSQL can answer the candidates from it
    assert database.execute_sql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'event_text_bigrams'::regclass"
                                ).fetchone() == (13,)
    with database.atomic():
        database.execute_sql('SET LOCAL enable_seqscan = off')
        plan = '\n'.join(row[0] for row in database.execute_sql(
            "EXPLAIN SELECT t.seq FROM event_text t WHERE text_bigrams(t.tail) @> ARRAY['zq']::text[]"))
    assert 'Bitmap Index Scan on event_text_' in plan and 'text_bigrams' in plan, plan


def test_a_term_in_most_users_names_counts_the_other_users_events(add_events, engine, monkeypatch):
    """A term that most users' names hold (the organization's mail domain) is counted as the view's events less
    those of the users whose names do not hold it, which the user index reads; the totals equal the events
    holding the term, on both engines, for both roles, over whole days and parts of days."""
    from store.read import counts, keywords

    users = ('ann@acme.io', 'bob@acme.io', 'cy@acme.io', 'dee@other.io')
    add_events(*[event(id=f'u{i}', timestamp=f'2026-10-{1 + i % 9:02}T{i % 24:02}:00:00Z', user=users[i % 4],
                       scope=('Organization', 'Service')[i % 2], category=('Member', 'AI Notebook')[i % 2],
                       status=('SUCCESS', 'FAILED')[i % 3 % 2], workspace=('alpha', None)[i % 5 // 4],
                       description=('sent to acme legal', 'time out', 'plain')[i % 3])
                 for i in range(120)])
    everything = list(iter_events(ORG, EventFilter()))
    complements: list[int] = []
    less = keywords._less

    def counted(counts_, fewer):
        complements.append(len(fewer))
        return less(counts_, fewer)

    monkeypatch.setattr(keywords, '_less', counted)
    ranges = ({}, {'since': utc(2026, 10, 3, 12)}, {'since': utc(2026, 10, 2), 'until': utc(2026, 10, 2, 18)})
    for term in ('acme', 'me', 'e@', '.io'):  # in 3, 3 and 1 of the 4 users' names, and in every one
        for viewer in (ORG, ALPHA):
            for more in ({}, {'scope': 'Service'}, {'status': 'FAILED'}, *ranges):
                flt = EventFilter(search=term, **more)
                held = [e for e in everything if term in '\x1f'.join(
                    e[k] for k in ('scope', 'category', 'user', 'action', 'target', 'description')).lower()
                        and (viewer is ORG or e['workspace'] == 'alpha')
                        and all(e[k] == v for k, v in more.items() if k in ('scope', 'status'))
                        and more.get('since', e['timestamp']) <= e['timestamp']
                        and ('until' not in more or e['timestamp'] < more['until'])]
                counts._kept.clear()
                assert count_events(viewer, flt) == len(held), (term, viewer.name, more)
    assert complements, 'the view less the other users was never counted'
    # some users' events outside some pairs, in a scope, are counted from the user index alone (schema step 22)
    sql = ("SELECT e.ts / 86400000, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) FROM event e "
           "WHERE e.scope = 'Service' AND e.actor IN ('dee@other.io') "
           "AND NOT (e.scope, e.category) IN (VALUES ('Organization', 'Member')) GROUP BY 1")
    with database.atomic() as transaction:
        if engine == 'postgresql':  # the test's few events: PostgreSQL would rather read them all, or by scope
            for kind in ('seqscan', 'bitmapscan'):
                database.execute_sql(f'SET LOCAL enable_{kind} = off')
            database.execute_sql('DROP INDEX event_scope_ts, event_category_scope_ts')  # rolled back below
        plan = ' '.join(str(row) for row in database.execute_sql(
            f"{'EXPLAIN QUERY PLAN' if engine == 'sqlite' else 'EXPLAIN'} {sql}"))
        transaction.rollback()
    assert ('COVERING INDEX event_actor_ts_facets' if engine == 'sqlite'
            else 'Index Only Scan using event_actor_ts_facets') in plan, plan
    if engine == 'postgresql':  # the other users' rows of event_text are found by its index of users (step 24)
        with database.atomic() as transaction:
            database.execute_sql('SET LOCAL enable_seqscan = off')
            plan = ' '.join(str(row) for row in database.execute_sql(
                "EXPLAIN SELECT count(*) FROM event_text e WHERE e.tail LIKE '%acme%' AND e.actor IN ('dee@other.io')"))
            transaction.rollback()
        assert '_actor_idx' in plan, plan
