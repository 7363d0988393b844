"""A keyword's matches counted without reading every one: the events of the (scope, category) pairs and users
whose names hold the term come from the daily counts and the user index, and only the other candidates of the
search index are read and checked (SQLite: store/derived/search_index.py; PostgreSQL: `event_text`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from store.derived import event_days, search_file, search_index
from store.derived.event_days import Days, Within
from store.derived.search_index import ACTOR, PAIR
from store.engine.db import database, is_sqlite
from store.engine.dialect import substring_clause, substring_param
from store.ledger.buckets import DAY
from store.read.query import (
    MIN_INDEXED_TERM,
    WHOLE_STORE,
    EventFilter,
    Query,
    Span,
    Viewer,
    days_touched_where,
    exact_query,
    index_query,
    is_indexed,
    normalize_search,
    select_events,
    term_query,
    within,
)
from store.read.tallies import (
    Among,
    Clause,
    Counts,
    both,
    day_counts,
    in_parts,
    merge,
    none_of,
    one_of,
    positions,
    row_counts,
)


def searched_counts(viewer: Viewer, flt: EventFilter, width: int, spans: list[Span] | None = None,
                     days: Days | None = None) -> Counts:
    """A keyword found in scope or category names, or in user names (store/derived/search_index.py): the events of
    those pairs are counted as the filter without the keyword (from the daily counts at day width), those
    of those users by the user index, and only the index's other candidates, `term NOT markers`, are
    read and checked, in `spans` side by side. With the events' days (store/derived/event_days.py) at day width,
    only the positions of the matches are read back.

    A term the index cannot narrow (one character) is counted from the names alone when every user's name
    holds it, else only the events outside the names are tested on their rows: measured at 10M events, 'e'
    (in every user's mail domain) took 3,167 ms, every event tested."""
    term = normalize_search(flt.search)
    if flt.user:
        return _users_own_counts(viewer, flt, width, spans, days)
    if not is_sqlite():
        return _postgres_searched_counts(viewer, flt, width)
    names = search_file.names(term)
    indexed = is_indexed(term)
    if indexed and not names.named and not names.too_many and days is not None and width == DAY:
        return in_parts(lambda span: _matches_by_day(viewer, flt, span, days, names.upto), spans)
    if not names.named:  # too many names hold it: the rows are tested (select_events)
        return in_parts(lambda span: row_counts(viewer, flt, width, span=span), spans)
    actors = names.named.get(ACTOR, [])
    others = [row for row in names.every[ACTOR] if row not in actors] if actors else []
    counts, rest = _named_counts(viewer, flt, width, names.named.get(PAIR, []), actors, others)
    if rest is None:  # every user is named: no event is left to read
        return counts
    if not indexed:
        return merge(counts, in_parts(lambda span: row_counts(viewer, flt, width, extra=rest, span=span), spans))
    among = others if _by_others(width, actors, others) else None
    match = search_index.candidates_query(term, names.named,
                                          term_query(term) if len(term) < MIN_INDEXED_TERM else None, among)
    exact = term.isascii() and len(term) <= MIN_INDEXED_TERM  # the query is the term's trigrams
    return merge(counts, in_parts(lambda span: _candidate_counts(viewer, flt, width, match, rest, span, days,
                                                                 names.upto, exact), spans))


class NamedSplit(NamedTuple):
    """A keyword's matches in a view as the events of the pairs whose names hold it (each a filter without the
    keyword: a structured view) and the rest (a query of the view's other matches, each tested on its row)."""

    pairs: list[EventFilter]
    rest: Query


def named_split(viewer: Viewer, flt: EventFilter) -> NamedSplit | None:
    """The view's matches split by the (scope, category) pairs whose names hold its keyword (SQLite), or None
    when no pair's name holds it, a user's name does (or there is a user filter), or the index cannot narrow
    it. The rest are the index's candidates outside those pairs (`term NOT markers`), in the view."""
    term = normalize_search(flt.search)
    if not is_sqlite() or flt.user or not is_indexed(term):
        return None
    names = search_file.names(term)
    named = names.named.get(PAIR, [])
    if names.too_many or not named or ACTOR in names.named:
        return None
    pairs = [replace(flt, search='', scope=scope, category=category) for _, scope, category in named
             if flt.scope in (None, '', scope) and flt.category in (None, '', category)]
    match = search_index.candidates_query(term, {PAIR: named},
                                          term_query(term) if len(term) < MIN_INDEXED_TERM else None)
    match_sql, match_params = index_query('?', [match], viewer, flt)
    found, found_params = search_file.candidates(match_sql, match_params, None, names.upto)
    plain = select_events(viewer, flt, narrow_search=False)  # the term tested on each candidate's row
    outside = none_of(PAIR, named, 'e')
    return NamedSplit(pairs, Query(f'{plain.where} AND e.seq IN ({found}) AND {outside[0]}',
                                   [*plain.params, *found_params, *outside[1]]))


def _users_own_counts(viewer: Viewer, flt: EventFilter, width: int, spans: list[Span] | None,
                      days: Days | None) -> Counts:
    """A keyword among one user's events (a user filter). When the user's name holds the term, each of their
    events matches: the view without the keyword (the counts per user). Else the user's events of the pairs
    whose names hold it are counted so, and the others are the index's candidates of the term that carry the
    user's marker (store/derived/search_index.py), not every event the term or the user has. Measured at 10M
    events, first page and total for bob@acme.io: 'io' 3,862 ms, 'notebook' 1,575, 'nb-' 1,104, 'gpu' 1,075."""
    term = normalize_search(flt.search)
    plain = replace(flt, search='')
    if flt.user is not None and term in flt.user.lower():
        return day_counts(viewer, plain) if width == DAY else row_counts(viewer, plain, width)
    if not is_sqlite() or not is_indexed(term):
        return row_counts(viewer, flt, width)
    names = search_file.names(term)
    user = [row for row in names.every[ACTOR] if row[1] == flt.user]
    if names.too_many or not user:
        return row_counts(viewer, flt, width)
    pairs = names.named.get(PAIR, [])
    counts, rest = _named_counts(viewer, flt, width, pairs, [], [])
    if rest is None:  # never here: with no user named, the rest is the events outside the pairs
        return counts
    match = search_index.candidates_query(term, {PAIR: pairs} if pairs else {},
                                          term_query(term) if len(term) < MIN_INDEXED_TERM else None, user)
    exact = term.isascii() and len(term) <= MIN_INDEXED_TERM
    return merge(counts, in_parts(lambda span: _candidate_counts(viewer, flt, width, match, rest, span, days,
                                                                 names.upto, exact, user_in_match=True), spans))


def _named_counts(viewer: Viewer, flt: EventFilter, width: int, pairs: search_index.Named,
                  actors: search_index.Named, others: search_index.Named) -> tuple[Counts, Clause | None]:
    """The events of the named (scope, category) pairs, counted as the filter without its keyword (from the daily
    counts at day width), and those of the named users outside them (`_users_counts`; `others` are every other
    user); and the condition on `e` that leaves the other events, the ones still to be read and checked, None
    when none is left (every user named).

    When fewer users are not named, that condition names them rather than the named ones: measured on
    PostgreSQL at 1M events, the rest of 'io' (17,446 rows of `event_text`, of the one user not named) 145-177
    → 104-150 ms, of 'acme' 46-54 → 37-41 (three runs each, side by side)."""
    plain = replace(flt, search='')
    counts: Counts = {}
    if pairs:
        counts = day_counts(viewer, plain, Among(pairs=pairs)) if width == DAY else row_counts(
            viewer, plain, width, extra=one_of(PAIR, pairs, 'e'))
    if actors:
        merge(counts, _users_counts(viewer, plain, width, counts, pairs, actors, others))
    if not _by_others(width, actors, others):
        return counts, both(none_of(PAIR, pairs, 'e'), none_of(ACTOR, actors, 'e'))
    return counts, both(none_of(PAIR, pairs, 'e'), one_of(ACTOR, others, 'e')) if others else None


def _users_counts(viewer: Viewer, plain: EventFilter, width: int, paired: Counts, pairs: search_index.Named,
                  actors: search_index.Named, others: search_index.Named) -> Counts:
    """The events of the named users outside the named `pairs` (`paired` are the pairs' counts): at day width
    from the counts per user and day (store/derived/rollup.py), else read by the user index. When fewer users
    are not named (a term in the organization's mail domain, which every name holds), they are the view's
    events outside the pairs less those of the other users, and the search index's candidates are then those
    of the other users alone (`candidates_query`).

    Measured at 1M events (p50, two runs each, alternated), 'acme' (in 25 of 26 users' names): read by the user
    index, 335-347 ms on SQLite, 232-243 on PostgreSQL; as the view's less the other user's, 68 and 83-84;
    'io' 2,075-2,106 → 281 and 631-647 → 227-235."""
    if width != DAY:
        return row_counts(viewer, plain, width, extra=both(one_of(ACTOR, actors, 'e'), none_of(PAIR, pairs, 'e')))
    if not _by_others(width, actors, others):
        return day_counts(viewer, plain, Among(not_pairs=pairs, actors=actors))
    counts = _less(day_counts(viewer, plain), paired)
    if others:
        counts = _less(counts, day_counts(viewer, plain, Among(not_pairs=pairs, actors=others)))
    return counts


def _by_others(width: int, actors: search_index.Named, others: search_index.Named) -> bool:
    """Whether the named users' events are counted as the view's less the other users' (`_users_counts`)."""
    return width == DAY and len(others) < len(actors)


def _less(counts: Counts, fewer: Counts) -> Counts:
    """`counts` less `fewer` (some of the same events), bucket by bucket, without the buckets left empty."""
    left = merge(dict(counts), ((key, (-success, -failed)) for key, (success, failed) in fewer.items()))
    return {key: value for key, value in left.items() if value != (0, 0)}


# The users of the events, one index probe each (a loose scan of the user index), at most MAX_USERS_NAMED + 1.
MAX_USERS_NAMED = 10_000
_ACTORS = """WITH RECURSIVE a(actor) AS (
    SELECT min(actor) FROM event
    UNION ALL SELECT (SELECT min(e.actor) FROM event e WHERE e.actor > a.actor) FROM a WHERE a.actor IS NOT NULL)
SELECT actor FROM a WHERE actor IS NOT NULL LIMIT ?"""


class _Names(NamedTuple):
    """PostgreSQL: what of the events' names holds a term, as (0, *values) rows; every pair the events have."""

    pairs: search_index.Named
    actors: search_index.Named
    others: search_index.Named  # the users whose names do not hold it
    known: list[tuple[str, str]]


def _postgres_named(term: str) -> _Names | None:
    """PostgreSQL: the (scope, category) pairs (from the daily counts) and the users whose names hold `term`; None
    when more than MAX_NAMED of a kind do, or there are too many users to look at."""
    known = [(scope, category) for scope, category in database.execute_sql(
        'SELECT DISTINCT scope, category FROM event_count')]
    pairs = [(0, scope, category) for scope, category in known if term in scope.lower() or term in category.lower()]
    users = [actor for (actor,) in database.execute_sql(_ACTORS, (MAX_USERS_NAMED + 1,))]
    actors = [(0, actor) for actor in users if term in actor.lower()]
    if len(pairs) > search_index.MAX_NAMED or len(actors) > search_index.MAX_NAMED or len(users) > MAX_USERS_NAMED:
        return None
    return _Names(pairs, actors, [(0, actor) for actor in users if term not in actor.lower()], known)


def _parts_left_out(flt: EventFilter, known: list[tuple[str, str]], named: search_index.Named) -> Clause:
    """PostgreSQL: a condition on `event_text e` leaving out the partitions (one per category, store/lifecycle/
    schema.py step 19) of the categories whose every pair is named or outside the filter's scope and category:
    PostgreSQL then reads none of their rows or index. Only a pruning: each row is still tested by the caller."""
    skipped = {(scope, category) for _, scope, category in named}
    wanted = {category for scope, category in known if (scope, category) not in skipped
              and flt.scope in (None, scope) and flt.category in (None, category)}
    out = sorted({category for _, category in known} - wanted)
    return (f"e.category NOT IN ({', '.join('?' * len(out))})", out) if out else ('1 = 1', [])


# PostgreSQL: a view (without its keyword) holding at most this share of the events is counted from the event
# table, whose indexes of time and workspace narrow the read; `event_text` has only its trigram index. Measured
# at 1M events, 'failed' over the last 7 days: 42 ms from the events, 208 from event_text.
TEXT_TABLE_FROM = 0.25


def _share(viewer: Viewer, flt: EventFilter) -> float:
    """About the share of the events the view (visibility and filter, without keyword or user) holds: the daily
    counts of every day its range touches."""
    where = days_touched_where(viewer, flt)
    if where is None:
        return 0.0
    view, whole = database.execute_sql(f'SELECT coalesce(sum(CASE WHEN {where[0]} THEN c.n ELSE 0 END), 0), '
                                       'coalesce(sum(c.n), 0) FROM event_count c', where[1]).fetchone()
    return int(view) / int(whole) if whole else 0.0


def _postgres_searched_counts(viewer: Viewer, flt: EventFilter, width: int) -> Counts:
    """PostgreSQL: a keyword's matches counted as on SQLite, with the table `event_text` (store/lifecycle/schema.py) in
    place of the markers. The events of the pairs whose scope or category name holds the term are counted as
    the filter without it (the daily counts at day width), those of the users whose names hold it by the user
    index, and only the others are read: those whose action, target or description holds the term, found
    by the trigram index of that text alone in `event_text`, a third of the events' size. Measured at 1M
    events, a first page with its total, nothing kept (p50, a loaded machine): 'service' 590 → 9 ms, 'alice'
    210 → 36, 'failed' 326 → 156, 'nb-' 569 → 246.

    `event_text` is kept in a part per category, and the parts of the categories with no pair left to read
    are left out (`_parts_left_out`): at 1M events (shared_buffers 2GB, p50 of 10), 'notebook' 178-185 → 13
    ms, 'gpu' in scope Service 153-156 → 14, 'nb-' 147-153 → 83 (each part's trigram index is smaller)."""
    term = normalize_search(flt.search)
    plain = replace(flt, search='')
    named = _postgres_named(term)
    if named is None:  # `event_text` holds no names: every match is read from the events
        return row_counts(viewer, flt, width)
    pairs, actors, others, known = named
    counts, rest = _named_counts(viewer, flt, width, pairs, actors, others)
    if rest is None:
        return counts
    if len(term) != 2 and _share(viewer, plain) <= TEXT_TABLE_FROM:  # the event table's indexes narrow more
        return merge(counts, row_counts(viewer, flt, width, extra=rest))
    query = select_events(viewer, plain)
    parts = _parts_left_out(flt, known, pairs)
    held = _held('e', term)
    rows = database.execute_sql(
        f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) FROM event_text e "
        f"WHERE {query.where} AND {parts[0]} AND {held[0]} AND {rest[0]} GROUP BY 1",
        [width, *query.params, *parts[1], *held[1], *rest[1]])
    return merge(counts, ((key, (n - int(failed), int(failed))) for key, n, failed in rows))


def _held(alias: str, term: str) -> Clause:
    """PostgreSQL: `event_text alias`'s tail holds `term`; a term of two characters, which the trigram index
    cannot narrow, is also asked of the index of character pairs (store/lifecycle/schema.py step 21)."""
    clause, params = substring_clause(f'{alias}.tail'), [substring_param(term)]
    if len(term) == 2:
        return f'text_bigrams({alias}.tail) @> ARRAY[?]::text[] AND {clause}', [term, *params]
    return clause, params


def two_character_candidates(viewer: Viewer, flt: EventFilter) -> Clause | None:
    """PostgreSQL: a condition on `event e` that every event of the view `flt` holding its keyword of two
    characters meets, answered by indexes (the character pairs of `event_text`, the user index, the category
    index), for the pages of a rare such term: pg_trgm cannot narrow it, and PostgreSQL would test every event.
    Measured at 1M events, a page of 'ak' (291 matches) 405-465 → 10 ms. The candidates from event_text are
    the view's (its facets are there), in the parts left to read: a page of 'h1' in scope Workspace (5,974 of
    133,525 matches) 316 ms from every candidate, 35 from the view's. None for other terms, or when too many
    names hold the term."""
    term = normalize_search(flt.search)
    named = _postgres_named(term) if len(term) == 2 else None
    if named is None:
        return None
    pairs, actors, _, known = named
    view = select_events(viewer, replace(flt, search=''))
    parts = _parts_left_out(flt, known, pairs)
    held = _held('e', term)  # `e` within the subquery is event_text
    clause, params = (f'e.seq = ANY(ARRAY(SELECT e.seq FROM event_text e WHERE {view.where} AND {parts[0]} '
                      f'AND {held[0]}))', [*view.params, *parts[1], *held[1]])
    # each name a condition of its own, which an index answers, for PostgreSQL to join their rows (a BitmapOr)
    for _, scope, category in pairs:
        clause, params = f'{clause} OR (e.category = ? AND e.scope = ?)', [*params, category, scope]
    if actors:
        clause, params = f'{clause} OR e.actor = ANY(?)', [*params, [actor for _, actor in actors]]
    return f'({clause})', params


def _candidate_counts(viewer: Viewer, flt: EventFilter, width: int, match: str, rest: Clause,
                      span: Span | None, days: Days | None = None, upto: int | None = None,
                      exact: bool = False, user_in_match: bool = False) -> Counts:
    """The events the index query `match` finds (in `span`, up to `upto`; the later ones are all candidates)
    that match `flt` and the `rest` condition; with the events' days (store/derived/event_days.py) at day
    width, only their positions are read back.

    When `match` finds exactly the events holding the term and meeting `rest` (`exact`: a term of two or three
    ASCII characters, whose query is its trigrams, and a `rest` the markers in it express), and the view is one
    of pairs, workspaces and status (`within`; and a user, when `match` holds their marker: `user_in_match`),
    the index's positions in the whole store, kept to the view's
    (`_positions_in_view`), are the matches: no row is read but those after `upto` and those whose text has
    other characters. Measured at 10M events, the count of 'io' (the other user's 174,781 matches) 440-449 →
    287 ms, of 'gpu' 365-370 → 78-84 (p50 of 10, two runs each, alternated). Other terms' candidates in such a
    view are kept to the view's the same way before their rows are read and checked: 'notebook' in category
    Credit read the rows of all its 99,880 candidates outside AI Notebook."""
    query = select_events(viewer, flt, narrow_search=False, span=span)
    # a user filter's marker in `match` keeps the user's events: the view's other conditions are left
    view = replace(flt, user=None) if user_in_match else flt
    kept = within(viewer, view) if days is not None and width == DAY else None
    if kept is not None and days is not None and (exact or kept != Within()):
        check = (f'{query.where} AND {rest[0]}', [*query.params, *rest[1]])
        return event_days.split(days, _positions_in_view('?', [match], check, span, upto, days, kept, exact))
    match_sql, match_params = index_query('?', [match], viewer, flt)
    found, found_params = search_file.candidates(match_sql, match_params, span, upto)
    # the candidates drive the join: scope, time and other indexes would not
    joined = f'FROM ({found}) f CROSS JOIN event e ON e.seq = f.seq WHERE {query.where} AND {rest[0]}'
    params = [*found_params, *query.params, *rest[1]]
    if days is not None and width == DAY:
        return event_days.split(days, positions(f'SELECT group_concat(e.seq) {joined}', params))
    rows = database.execute_sql(
        f"SELECT e.ts / ?, count(*), sum(CASE WHEN e.status = 'FAILED' THEN 1 ELSE 0 END) {joined} GROUP BY 1",
        [width, *params])
    return {key: (n - int(failed), int(failed)) for key, n, failed in rows}


def _whole_store(viewer: Viewer, flt: EventFilter) -> bool:
    """Whether the view puts no condition on the events but its keyword (the viewer sees every event, no filter)."""
    return select_events(viewer, replace(flt, search='')).where == WHOLE_STORE


def _positions_in_view(match_sql: str, match_params: list, check: Clause, span: Span | None, upto: int | None,
                       days: Days, kept: Within, exact: bool = True) -> np.ndarray:
    """The positions (in `span`) of the events the exact index query `match_sql` finds, up to `upto` (or the
    indexed position), that the view `kept` holds; the events after it, and those whose text has a character
    beyond ASCII (the index folds ASCII letters only, as the search's lower-casing may not) or whose pair or
    workspace the entries do not hold, are tested by `check`, a condition on `event e` that holds the view and
    the term. One statement: both parts see the index as of the same moment. A query that is not `exact` finds
    candidates: those the view holds are all tested.

    The whole store's positions are kept to the view's by the entries in memory (store/derived/event_days.py
    `sieve`), not by reading rows: measured at 10M events, first page + total, p50 / p95 of 10, two runs each
    alternated, 'failed' as a Workspace Admin 291 / 305 and 287 / 297 → 118 / 121 and 127 / 136 ms, 'gpu' in
    scope Service 372 / 394 and 372 / 407 → 86 / 95 and 91 / 95; p50 of 5, 'failed' in scope Billing 339-348 →
    103-117, 'nb-' FAILED 849-880 → 230-281. The rows after the position are read by their positions alone (NOT
    INDEXED): by the view's index SQLite read every event of the scope (1,254 ms for 'gpu' in Service)."""
    indexed, indexed_params, tail, tail_params = search_file.split_candidates(match_sql, match_params, span, upto)
    listed = database.execute_sql(
        f'SELECT (SELECT group_concat(seq) FROM ({indexed})), (SELECT group_concat(e.seq) FROM event e NOT INDEXED '
        f'WHERE {tail} AND {check[0]})', [*indexed_params, *tail_params, *check[1]]).fetchone()
    found, later = event_days.positions(listed[0]), event_days.positions(listed[1])
    inside, unsure = event_days.sieve(days, found, kept)
    if not exact:
        unsure |= inside
    if not unsure.any():
        return np.concatenate([found[inside], later])
    checked = positions(f'SELECT group_concat(e.seq) FROM event e NOT INDEXED WHERE e.seq IN '
                        f'(SELECT value FROM json_each(?)) AND {check[0]}',
                        [json.dumps(found[unsure].tolist()), *check[1]])
    return np.concatenate([found[inside & ~unsure], checked, later])


def _matches_by_day(viewer: Viewer, flt: EventFilter, span: Span | None, days: Days, upto: int) -> Counts:
    """A keyword found in no scope, category or user name, counted per day from the matches' positions (in
    `span`). When the one query puts no condition on the view but the keyword (WHOLE_STORE: the viewer sees
    every event, no filter), an ASCII term is answered by the search index alone (`exact_query`): the index
    folds ASCII as the search text is lower-cased, and its positions place the term's trigrams side by side, so
    it finds exactly the events holding the term (those whose text has other characters are checked on their
    rows). The events after `upto` (the position the names were read with) are tested on their rows: the term
    is in no name up to there. A view of pairs, workspaces and status keeps those of the whole store's that it
    holds (`_positions_in_view`); with other conditions (a user, a time range), SQLite plans the read."""
    term = normalize_search(flt.search)
    whole_store = _whole_store(viewer, flt)
    kept = within(viewer, flt) if term.isascii() else None
    if kept is not None:
        query = select_events(viewer, flt, narrow_search=False)
        return event_days.split(days, _positions_in_view('?', [exact_query(term)], (query.where, query.params),
                                                         span, upto, days, kept))
    if whole_store:  # nothing else narrows the view: the candidates drive the read ('failed' at 1M, 47 → 43 ms)
        return _candidate_counts(viewer, flt, DAY, term_query(term), ('1 = 1', []), span, days, upto)
    query = select_events(viewer, flt, span=span)
    return event_days.split(days, positions(f'SELECT group_concat(e.seq) FROM event e WHERE {query.where}',
                                             query.params))
