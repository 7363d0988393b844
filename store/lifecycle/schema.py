"""The schema, created and upgraded at start-up, one numbered step at a time.

Each step runs once, in order, inside a transaction, and records the version it reached in
`meta`, so a later release opens an older file and keeps every event. Steps are plain SQL, frozen
when released: never edit one, add the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from store.derived import rollup, search_index, sort_index
from store.engine.db import StoreError, database, write_transaction
from store.engine.dialect import PostgresOnly, SqliteOnly, ddl
from store.streams import progress as stream_progress

V1_TABLES = [
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE workspace (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    )""",
    # seq is the storage (and hash-chain) order; uid is the event's public id.
    # ts is milliseconds since the epoch, UTC. search_text is the lower-cased searchable fields.
    """CREATE TABLE event (
        seq INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        actor TEXT NOT NULL,
        scope TEXT NOT NULL,
        category TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('SUCCESS', 'FAILED')),
        description TEXT NOT NULL,
        workspace_id INTEGER REFERENCES workspace(id),
        metadata TEXT,
        search_text TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    'CREATE INDEX event_ts ON event (ts, seq)',
    'CREATE INDEX event_scope_category_ts ON event (scope, category, ts, seq)',
    'CREATE INDEX event_workspace_ts ON event (workspace_id, ts, seq)',
    'CREATE INDEX event_status_ts ON event (status, ts, seq)',
    'CREATE INDEX event_actor_ts ON event (actor, ts, seq)',
    SqliteOnly("""CREATE TRIGGER event_no_update BEFORE UPDATE ON event
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END"""),
    SqliteOnly("""CREATE TRIGGER event_no_delete BEFORE DELETE ON event
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END"""),
    # REPLACE deletes the old row without firing delete triggers (unless recursive_triggers is on).
    SqliteOnly("""CREATE TRIGGER event_no_replace BEFORE INSERT ON event
        WHEN EXISTS (SELECT 1 FROM event WHERE seq = NEW.seq OR uid = NEW.uid)
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only: REPLACE refused'); END"""),
    """CREATE TABLE account (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'admin')),
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    )""",
    """CREATE TABLE account_workspace (
        account_id INTEGER NOT NULL REFERENCES account(id),
        workspace_id INTEGER NOT NULL REFERENCES workspace(id),
        PRIMARY KEY (account_id, workspace_id)
    )""",
    """CREATE TABLE api_token (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        workspace_id INTEGER REFERENCES workspace(id),
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        revoked_at INTEGER
    )""",
]

# PostgreSQL: seq is given by the appending writer (it holds the write lock), so no sequence;
# one function refuses UPDATE and DELETE row by row and TRUNCATE per statement.
V1_POSTGRES = [
    PostgresOnly('ALTER TABLE event ALTER COLUMN seq DROP DEFAULT'),
    PostgresOnly("""CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP; END $$"""),
    PostgresOnly("""CREATE TRIGGER event_no_update_delete BEFORE UPDATE OR DELETE ON event
        FOR EACH ROW EXECUTE FUNCTION event_append_only()"""),
    PostgresOnly("""CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event
        FOR EACH STATEMENT EXECUTE FUNCTION event_append_only()"""),
]

# A trigram index over search_text. Contentless with detail=none keeps it small; it only narrows
# the candidates, and the exact substring test runs on search_text. Ingestion indexes each
# transaction's new rows in one statement (six times faster than a per-row trigger). Step 12 moves it
# to a file of its own.
V2_SEARCH_INDEX = [
    SqliteOnly("""CREATE VIRTUAL TABLE event_search USING fts5(
        search_text, content='', detail='none', tokenize='trigram')"""),
    SqliteOnly('INSERT INTO event_search(rowid, search_text) SELECT seq, search_text FROM event'),
    # PostgreSQL: a trigram GIN index serves LIKE '%term%' directly, kept by every insert.
    PostgresOnly('CREATE EXTENSION IF NOT EXISTS pg_trgm'),
    PostgresOnly('CREATE INDEX event_search_trgm ON event USING gin (search_text gin_trgm_ops)'),
]


# The chain head (count:seq:hash of the newest event) kept in meta by every append from now on; a
# file that has events already gets the head its table shows.
V3_CHAIN_HEAD = [
    SqliteOnly("""INSERT OR IGNORE INTO meta (key, value)
        SELECT 'chain_head', (SELECT count(*) FROM event) || ':' || seq || ':' || hash
        FROM event ORDER BY seq DESC LIMIT 1"""),
    PostgresOnly("""INSERT INTO meta (key, value)
        SELECT 'chain_head', (SELECT count(*) FROM event) || ':' || seq || ':' || hash
        FROM event ORDER BY seq DESC LIMIT 1
        ON CONFLICT (key) DO NOTHING"""),
]


def _run(statements: Sequence[str]) -> Callable[[], None]:
    def step() -> None:
        for sql in statements:
            if (spelled := ddl(sql)) is not None:
                database.execute_sql(spelled)
    return step


# Daily counts per workspace, scope, category and status (store/derived/rollup.py), filled from the events,
# and indexes that serve a scope alone and sorting by category, action or target in time order.
V4_DAILY_COUNTS = [
    *rollup.CREATE,
    rollup.REBUILD_SQL,
    'CREATE INDEX event_scope_ts ON event (scope, ts, seq)',
    'CREATE INDEX event_category_ts ON event (category, ts, seq)',
    'CREATE INDEX event_action_ts ON event (action, ts, seq)',
    'CREATE INDEX event_target_ts ON event (target, ts, seq)',
]

# Browser sessions (store/people/sessions.py), shared by every app instance on this database. Only hashes
# are stored: id_hash (the cookie's session id) is NULL until the one-time hand-off is redeemed.
V5_SESSIONS = [
    """CREATE TABLE session (
        id INTEGER PRIMARY KEY,
        id_hash TEXT UNIQUE,
        handoff_hash TEXT UNIQUE,
        handoff_expires INTEGER,
        account_id INTEGER NOT NULL REFERENCES account(id),
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    )""",
    'CREATE INDEX session_account ON session (account_id)',
    'CREATE INDEX session_last_seen ON session (last_seen)',
]

# The user filter's index also carries the status, so the timeline of one user's events (SUCCESS and
# FAILED per bucket) is read from the index alone.
V6_ACTOR_STATUS = [
    'CREATE INDEX event_actor_ts_status ON event (actor, ts, seq, status)',
    'DROP INDEX event_actor_ts',
]

# One index (category, scope, ts) serves a scope + category filter and sorting by category, in place
# of two: every append maintains one index fewer.
V7_CATEGORY_SCOPE = [
    'CREATE INDEX event_category_scope_ts ON event (category, scope, ts, seq)',
    'DROP INDEX event_scope_category_ts',
    'DROP INDEX event_category_ts',
]

# The trigram index merges its segments eight at a time instead of four: each append rewrites less of
# it (measured at 300,000 events: 14.6 → 10.3 ms per 1,000 events indexed; a common term's count
# unchanged). The setting is kept in the index itself.
V8_SEARCH_MERGE = [
    SqliteOnly("INSERT INTO event_search(event_search, rank) VALUES ('automerge', 8)"),
]

# Each event's entry in the trigram index carries markers of its (scope, category) pair and of its
# user (store/derived/search_index.py): the index is filled again, about 10 s per million events.
V9_SEARCH_MARKERS = [SqliteOnly(sql) for sql in (*search_index.CREATE, *search_index.REINDEX_V9)]

# Sorting by target or description walks a table filled in large steps instead of an index kept by every
# append (store/derived/sort_index.py); the (target, ts) index goes. About 3 s per million events.
V10_SORT_TABLES = [SqliteOnly(sql) for sql in (*sort_index.CREATE_V10, 'DROP INDEX event_target_ts')]

# Each entry of the trigram index also carries a marker of the event's workspace, so a Workspace Admin's search
# reads only their workspaces' candidates (store/derived/search_index.py): the index is filled again, about 11 s per
# million events.
V11_WORKSPACE_MARKERS = [SqliteOnly(sql) for sql in search_index.REINDEX]

# The trigram index moves to a file of its own, kept beside the writers (store/derived/search_file.py), which
# `open_database` fills: about 15 s per million events.
V12_SEARCH_FILE = [SqliteOnly('DROP TABLE main.event_search')]

# The sort tables of targets and descriptions move to the search index's file too, filled beside the writers
# (store/derived/sort_index.py); `open_database` fills them: about 5 s per million events.
V13_SORT_TABLES_MOVED = [SqliteOnly(sql) for sql in ('DROP TABLE main.sort_target', 'DROP TABLE main.sort_description',
                                                     "DELETE FROM meta WHERE key = 'sorted_upto'")]

# ---- streams (store/streams/registry.py) ----
# A stream: a filter, a destination and a position (the seq of the last event its destination acknowledged).
# `generation` changes with every pause, resume, replay and change, so a delivery read before it cannot store
# its position after it; `lease_owner` and `lease_expires` make one app instance at a time deliver the stream.
V14_STREAMS = [
    """CREATE TABLE stream (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        destination TEXT NOT NULL,
        format TEXT NOT NULL,
        filter TEXT NOT NULL,
        digest_minutes INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'failing')),
        position INTEGER NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        secret TEXT,
        delivered INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        last_success INTEGER,
        last_error TEXT,
        last_error_at INTEGER,
        next_retry INTEGER,
        last_sent INTEGER,
        lease_owner TEXT,
        lease_expires INTEGER,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL
    )""",
]

# Sign-in through an OpenID Connect provider (store/people/oidc_accounts.py): the provider's issuer and subject on the
# account, the ID token on the session (for the provider's logout), and the state of sign-ins under way.
V15_OIDC = [
    'ALTER TABLE account ADD COLUMN oidc_issuer TEXT',
    'ALTER TABLE account ADD COLUMN oidc_subject TEXT',
    'CREATE UNIQUE INDEX account_oidc ON account (oidc_issuer, oidc_subject)',
    'ALTER TABLE session ADD COLUMN oidc_id_token TEXT',
    """CREATE TABLE oidc_login (
        state_hash TEXT PRIMARY KEY,
        nonce TEXT NOT NULL,
        code_verifier TEXT NOT NULL,
        target TEXT NOT NULL,
        expires INTEGER NOT NULL
    )""",
]

# PostgreSQL sorts by description through an index in that order, as it does by target (SQLite reads its sort
# table, store/derived/sort_index.py): measured at 1M events, the first page sorted by description 349 → 3.3 ms
# (p50), since every event was read and sorted before. About 3 s per million events.
V16_POSTGRES_DESCRIPTION = [
    PostgresOnly('CREATE INDEX IF NOT EXISTS event_description_ts ON event (description, ts, seq)'),
]

# PostgreSQL counts a keyword's matches in a narrow copy of each event's facets and of the text the names of
# its scope, category and user leave (action, target and description), kept by a trigger in the appending
# statement (store/read/counts.py `_postgres_searched_counts`): events of the pairs and users whose names hold the
# term are counted without reading their rows, and the others' text is a third of the event table's size.
# search_text is the fields joined by \x1f (store/write/ingest.py), which no field holds. About 35 s per million
# events, most of it the trigram index.
_TEXT_COLUMNS = 'seq, ts, actor, scope, category, status, workspace_id'
_TAIL = ' || chr(31) || '.join(f'split_part(search_text, chr(31), {part})' for part in (4, 5, 6))
V17_POSTGRES_EVENT_TEXT = [PostgresOnly(sql) for sql in (
    """CREATE TABLE event_text (
        seq BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        actor TEXT NOT NULL,
        scope TEXT NOT NULL,
        category TEXT NOT NULL,
        status TEXT NOT NULL,
        workspace_id BIGINT,
        tail TEXT NOT NULL
    )""",
    f"""CREATE FUNCTION event_text_add() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO event_text ({_TEXT_COLUMNS}, tail) SELECT {_TEXT_COLUMNS}, {_TAIL} FROM added;
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER event_text_kept AFTER INSERT ON event REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION event_text_add()""",
    f'INSERT INTO event_text ({_TEXT_COLUMNS}, tail) SELECT {_TEXT_COLUMNS}, {_TAIL} FROM event',
    'CREATE INDEX event_text_trgm ON event_text USING gin (tail gin_trgm_ops)',
    'ANALYZE event_text',  # the planner's estimates from the start, before autovacuum's
)]

# Where each stream has got to, apart from its row (store/streams/progress.py). SQLite keeps it in a file of its
# own, made when the file is attached.
V18_POSTGRES_STREAM_PROGRESS = [PostgresOnly(f'CREATE TABLE {stream_progress.DEFINITION.replace("INTEGER", "BIGINT")}')]

# PostgreSQL keeps `event_text` in one partition per category (and one for categories added later): the rest of a
# keyword found in a category's name ('notebook' in "AI Notebook") is then read from the other categories' parts
# alone, each with its own trigram index (store/read/keywords.py `_postgres_searched_counts`). Measured at 1M
# events, 'notebook' outside "AI Notebook": 316,215 rows read and 306,223 of them dropped before, in 172 ms. The
# categories are those of the release that added the step (store/ledger/taxonomy.py may list more later).
_PARTS = ('Member', 'Policy', 'Workspace', 'Credit', 'Payment', 'Plan', 'Voucher', 'Settings', 'GPU Quota',
          'AI Notebook', 'GPU Container', 'AI Inference')
V19_POSTGRES_EVENT_TEXT_PARTS = [PostgresOnly(sql) for sql in (
    'CREATE TABLE event_text_parts (LIKE event_text) PARTITION BY LIST (category)',  # the columns of step 17
    *[f"CREATE TABLE event_text_{n} PARTITION OF event_text_parts FOR VALUES IN ('{category}')"
      for n, category in enumerate(_PARTS, 1)],
    'CREATE TABLE event_text_other PARTITION OF event_text_parts DEFAULT',
    'INSERT INTO event_text_parts SELECT * FROM event_text',
    'DROP TABLE event_text',
    'ALTER TABLE event_text_parts RENAME TO event_text',
    # Each part's index gathers new rows in a pending list of its own, which every search reads through until
    # it is merged (at the limit, or by a vacuum); at PostgreSQL's default of 4 MB the parts' lists held 13,000-
    # 15,600 rows between vacuums. Measured at 1M events after 30,000 events appended, 4 MB against 256 kB
    # (two runs each, alternated; p50): 'failed' 134-151 → 81-98 ms, 'alice' 48-51 → 27-38, a rare term 21-22 →
    # 11-13; an append of 1,000 events 103-109 → 128-133 ms.
    "CREATE INDEX event_text_trgm ON event_text USING gin (tail gin_trgm_ops) WITH (gin_pending_list_limit = 256)",
    'ANALYZE event_text',
)]

# PostgreSQL's indexes in target, action and description order carry each event's facets: a page of a view of
# facets in one of those orders walks the index alone, testing scope, category, status and workspace on the
# entries, without reading the events (store/read/planner.py `_on_postgres`). Those values follow the category,
# so the walk may pass most entries before a page: measured at 1M events, target within Service / AI Notebook
# (522,195 entries passed) 728 ms reading the events, 59-96 ms from the index alone. The facets make the three
# indexes 90, 92 and 133 MB at 1M events, against 53, 55 and 100 built without them; an append of 1,000 events
# took 131-143 ms against 131-132 (p50 of 30, two runs each, alternated).
_COVERED = {'event_target_ts': 'target', 'event_action_ts': 'action', 'event_description_ts': 'description'}
V20_POSTGRES_COVERING_ORDERS = [PostgresOnly(sql) for name, column in _COVERED.items() for sql in (
    f'DROP INDEX IF EXISTS {name}',
    f'CREATE INDEX {name} ON event ({column}, ts, seq) INCLUDE (scope, category, status, workspace_id)',
)]

# PostgreSQL finds a term of two characters, which pg_trgm cannot narrow, through an index of each `event_text` row's
# pairs of characters (`text_bigrams`; GIN keeps each pair once per row): its keyword counts (store/read/keywords.py
# `_postgres_searched_counts`) and a rare term's pages (`two_character_candidates`) read the rows holding the pair
# rather than every row. Measured at 1M events: the count of 'h1' (133,525 matches) 236-300 → 100-160 ms, a page of
# 'ak' (291 matches) 405-465 → 35 ms. The index is about 76 MB per million events and is built in about 55 s; an
# append of 1,000 events took 213-257 ms against 159-185 without it (p50 of 20, three runs each, alternated).
V21_POSTGRES_TEXT_BIGRAMS = [PostgresOnly(sql) for sql in (
    """CREATE FUNCTION text_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT ARRAY(SELECT substr(t, i, 2) FROM generate_series(1, length(t) - 1) i) $$""",
    'CREATE INDEX event_text_bigrams ON event_text USING gin (text_bigrams(tail)) WITH (gin_pending_list_limit = 256)',
    'ANALYZE event_text',  # the statistics of the indexed expression, by which PostgreSQL chooses the index
)]

# The user index also carries each event's scope and category: the events of some users outside some (scope,
# category) pairs, which a keyword's count reads when both names hold it (store/read/keywords.py `_named_counts`),
# are then counted from the index alone. Measured at 1M events (p50, two runs each, alternated): 'me' in scope
# Organization (in 25 of 26 users' names and in "Member") 214-217 → 55 ms on SQLite, 52-56 → 39-42 on PostgreSQL;
# 'bob' in scope Organization 169-190 → 10-11 and 68-69 → 47-48; 'io' 279-285 → 137-145 and 214-223 → 140-146.
# The index is 58 MB at 1M events on SQLite against 38, and an append of 1,000 events took 67-73 ms against 63-67
# (p50 of 20, three runs each, alternated).
V22_ACTOR_FACETS = [
    'CREATE INDEX event_actor_ts_facets ON event (actor, ts, seq, status, scope, category)',
    'DROP INDEX event_actor_ts_status',
]

# Event counts per user and day (store/derived/rollup.py), filled from the events. Measured at 1M events: see
# store/read/keywords.py `_users_counts`.
V23_USER_COUNTS = [rollup.CREATE_BY_USER, rollup.REBUILD_BY_USER_SQL]

# PostgreSQL: an index of each part of `event_text` by user. When fewer users are not named by a keyword, the rest
# of its count is the other users' rows holding it (store/read/keywords.py `_named_counts`): PostgreSQL then joins
# this index's rows with the text index's (a BitmapAnd) instead of testing every row holding the term. Measured
# at 1M events, 'io' (the rest: 17,446 of about 230,000 rows holding "io"): the count 104-105 → 60-68 ms; the
# first page with its count (p50 of 3, two runs each, alternated) 117-140 → 83-84, 'acme' 57-83 → 13-14; an
# append of 1,000 events 272-273 → 275 ms (p50 of 20). Built in about 13 s per million events.
V24_POSTGRES_TEXT_ACTOR = [PostgresOnly(sql) for sql in (
    'CREATE INDEX event_text_actor ON event_text (actor)',
    'ANALYZE event_text',
)]

# The events of each (scope, category) pair in action order. A page of a view of some pairs by action
# walks each pair's events in this index and merges them (store/read/ways.py `in_pairs`); the action index alone
# passes the other pairs' events, and sorting the matches costs about 0.6 µs a match: measured at 1M events,
# Service / AI Notebook by action 198 ms, category Member descending 119, Organization / Policy 67-70. It costs
# appends (through the API onto 1M events, 20,000 events in batches of 1,000, two runs each, alternated): live
# events 13,812 and 14,764 → 13,359 and 13,004 events/s, history spread over 90 days 9,896 and 9,787 → 7,866
# and 8,198 (each back-filled event lands inside its pair and action's part).
V25_PAIR_ACTIONS = ['CREATE INDEX event_pair_action_ts ON event (category, scope, action, ts, seq)']

# PostgreSQL: the events of each pair in target and in description order (SQLite has its sort tables' indexes by
# pair, store/derived/sort_index.py), read pair by pair as by action (store/read/ways.py `by_pairs`). Measured at
# 1M events, p50 of 30: target within Service / AI Notebook 114.9 ms, Billing / Credit by description descending
# 71.0, walking the covering index of the column and then sorting the matches; pair by pair 5.8 and 5.1. An append
# of 1,000 events (history spread over 90 days, p50 of 20, two runs each, alternated) 304 and 301 → 329 and 343 ms.
V26_POSTGRES_PAIR_ORDERS = [
    PostgresOnly(f'CREATE INDEX event_pair_{column}_ts ON event (category, scope, {column}, ts, seq)')
    for column in ('target', 'description')]

# SQLite: the same index carrying each event's status and workspace, so a view of those (a workspace, a Workspace
# Admin's, FAILED) is walked pair by pair in the index alone rather than reading each event it passes. Measured at
# 1M events, offset 5,000: workspace research by action ascending 170 → 24 ms, FAILED descending 117 → 23, a
# Workspace Admin's 165 → 26.
V27_PAIR_ACTION_FACETS = [SqliteOnly('DROP INDEX event_pair_action_ts'), SqliteOnly(
    'CREATE INDEX event_pair_action_ts ON event (category, scope, action, ts, seq, status, workspace_id)')]

# Event counts per action and day (store/derived/rollup.py), filled from the events: where a deep page of a view in
# action order lies (store/read/ways.py `by_pairs`).
V28_ACTION_COUNTS = [rollup.CREATE_BY_ACTION, rollup.REBUILD_BY_ACTION_SQL]

# Event counts per user, action and day (store/derived/rollup.py): where a deep page of a user's view in action
# order lies.
V29_USER_ACTION_COUNTS = [rollup.CREATE_BY_USER_ACTION, rollup.REBUILD_BY_USER_ACTION_SQL]

STEPS: list[Callable[[], None]] = [_run([*V1_TABLES, *V1_POSTGRES]), _run(V2_SEARCH_INDEX), _run(V3_CHAIN_HEAD),
                                   _run(V4_DAILY_COUNTS), _run(V5_SESSIONS), _run(V6_ACTOR_STATUS),
                                   _run(V7_CATEGORY_SCOPE), _run(V8_SEARCH_MERGE), _run(V9_SEARCH_MARKERS),
                                   _run(V10_SORT_TABLES), _run(V11_WORKSPACE_MARKERS), _run(V12_SEARCH_FILE),
                                   _run(V13_SORT_TABLES_MOVED), _run(V14_STREAMS),
                                   _run(V15_OIDC), _run(V16_POSTGRES_DESCRIPTION),
                                   _run(V17_POSTGRES_EVENT_TEXT), _run(V18_POSTGRES_STREAM_PROGRESS),
                                   _run(V19_POSTGRES_EVENT_TEXT_PARTS), _run(V20_POSTGRES_COVERING_ORDERS),
                                   _run(V21_POSTGRES_TEXT_BIGRAMS), _run(V22_ACTOR_FACETS),
                                   _run(V23_USER_COUNTS), _run(V24_POSTGRES_TEXT_ACTOR), _run(V25_PAIR_ACTIONS),
                                   _run(V26_POSTGRES_PAIR_ORDERS), _run(V27_PAIR_ACTION_FACETS),
                                   _run(V28_ACTION_COUNTS), _run(V29_USER_ACTION_COUNTS)]
LATEST = len(STEPS)


def current_version() -> int:
    _create_meta()
    row = database.execute_sql("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def _create_meta() -> None:
    database.execute_sql('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')


def upgrade(target: int = LATEST) -> int:
    """Apply every step above the recorded version up to `target`; return the version reached."""
    _create_meta()  # a write transaction begins with a write to it (store/engine/db.py)
    with write_transaction():
        version = current_version()
        if version > LATEST:
            raise StoreError(f'the database has schema version {version}, newer than this release ({LATEST}): '
                             'upgrade the application')
        for number in range(version + 1, target + 1):
            STEPS[number - 1]()
            database.execute_sql(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                'ON CONFLICT (key) DO UPDATE SET value = excluded.value', (str(number),))
            version = number
    return version
