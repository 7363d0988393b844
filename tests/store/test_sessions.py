"""Store-backed browser sessions: hand-off, lookup, idle expiry, touch, sign-out, account changes, purge."""

from pathlib import Path

from store.people import sessions
from store.people.accounts import set_password, update_account
from store.people.sessions import HANDOFF_SECONDS, TOUCH_EVERY_MS
from tests.conftest import ADMIN_A, OWNER, raw_sql

T0 = 1_800_000_000_000  # a fixed clock, in milliseconds
MINUTE = 60_000
IDLE = 60  # minutes


def signed_in(account, now: int = T0) -> str:
    handoff = sessions.create_session(account.id, now=now)
    session_id = sessions.redeem_handoff(handoff.token, now=now)
    assert session_id
    return session_id


def test_a_session_is_made_once_and_looked_up(accounts):
    handoff = sessions.create_session(accounts['owner'].id, now=T0)
    assert sessions.count_sessions() == 1
    session_id = sessions.redeem_handoff(handoff.token, now=T0 + 1000)
    assert session_id and len(session_id) >= 40 and session_id != handoff.token
    assert sessions.lookup(session_id, IDLE, now=T0 + 2000) == OWNER[0]
    assert sessions.redeem_handoff(handoff.token, now=T0 + 2000) is None  # one use only
    assert sessions.lookup(handoff.token, IDLE, now=T0 + 2000) is None  # the hand-off token is no session id


def test_unknown_expired_and_oversized_values_find_nothing(accounts):
    late = sessions.create_session(accounts['owner'].id, now=T0)
    assert sessions.redeem_handoff(late.token, now=T0 + HANDOFF_SECONDS * 1000) is None
    for value in ('', None, 'x' * 5000, 'not-a-session', "' OR 1=1 --"):
        assert sessions.lookup(value, IDLE, now=T0) is None
        assert sessions.end_session(value) is None
    assert sessions.redeem_handoff('x' * 5000, now=T0) is None


def test_only_hashes_are_stored(accounts, database_url):
    handoff = sessions.create_session(accounts['owner'].id, now=T0)
    session_id = sessions.redeem_handoff(handoff.token, now=T0)
    [(id_hash, handoff_hash)] = raw_sql('SELECT id_hash, handoff_hash FROM session')
    assert id_hash == sessions._hash(session_id) and handoff_hash is None
    assert session_id not in id_hash
    if not database_url.startswith('sqlite:///'):
        return  # PostgreSQL: the rows above are what it stores
    database_file = Path(database_url.removeprefix('sqlite:///'))
    for path in (database_file, database_file.with_name(database_file.name + '-wal')):
        if path.exists():
            data = path.read_bytes()
            assert session_id.encode() not in data and handoff.token.encode() not in data


def test_idle_sessions_expire_and_activity_keeps_them(accounts):
    session_id = signed_in(accounts['owner'])
    assert sessions.lookup(session_id, IDLE, now=T0 + 59 * MINUTE) == OWNER[0]  # touches: last_seen = +59 min
    assert sessions.lookup(session_id, IDLE, now=T0 + 118 * MINUTE) == OWNER[0]
    assert sessions.lookup(session_id, IDLE, now=T0 + 179 * MINUTE) is None  # idle for 61 minutes
    # an idle limit set lower takes effect on the next request
    other = signed_in(accounts['admin_a'])
    assert sessions.lookup(other, 5, now=T0 + 6 * MINUTE, touch=False) is None
    assert sessions.lookup(other, IDLE, now=T0 + 6 * MINUTE) == ADMIN_A[0]


def test_touch_writes_at_most_once_a_minute(accounts):
    session_id = signed_in(accounts['owner'])

    def last_seen() -> int:
        return raw_sql('SELECT last_seen FROM session')[0][0]

    for offset in (1000, 30_000, TOUCH_EVERY_MS - 1):
        assert sessions.touch(session_id, now=T0 + offset)
        sessions.lookup(session_id, IDLE, now=T0 + offset)
        assert last_seen() == T0
    assert sessions.touch(session_id, now=T0 + TOUCH_EVERY_MS)
    assert last_seen() == T0 + TOUCH_EVERY_MS
    sessions.lookup(session_id, IDLE, now=T0 + 2 * TOUCH_EVERY_MS + 5)
    assert last_seen() == T0 + 2 * TOUCH_EVERY_MS + 5
    assert not sessions.touch('no-such-session', now=T0)


def test_sign_out_ends_only_that_session(accounts):
    first, second = signed_in(accounts['owner']), signed_in(accounts['owner'])
    assert sessions.end_session(first) == OWNER[0]
    assert sessions.lookup(first, IDLE, now=T0) is None
    assert sessions.lookup(second, IDLE, now=T0) == OWNER[0]
    assert sessions.end_session(first) is None


def test_changing_or_disabling_an_account_ends_all_its_sessions(accounts):
    admin = [signed_in(accounts['admin_a']) for _ in range(3)]
    owner = signed_in(accounts['owner'])
    update_account(ADMIN_A[0], workspaces=['alpha'])  # no change: sessions stay
    assert sessions.count_sessions(accounts['admin_a'].id) == 3
    update_account(ADMIN_A[0], workspaces=['alpha', 'beta'])
    assert sessions.count_sessions(accounts['admin_a'].id) == 0
    assert all(sessions.lookup(s, IDLE, now=T0) is None for s in admin)
    assert sessions.lookup(owner, IDLE, now=T0) == OWNER[0]

    again = signed_in(accounts['admin_a'])
    update_account(ADMIN_A[0], role='owner')
    assert sessions.lookup(again, IDLE, now=T0) is None
    again = signed_in(accounts['admin_a'])
    update_account(ADMIN_A[0], disabled=True)
    assert sessions.lookup(again, IDLE, now=T0) is None
    assert sessions.end_account_sessions(accounts['owner'].id) == 1
    assert sessions.lookup(owner, IDLE, now=T0) is None


def test_a_disabled_account_is_refused_even_with_a_live_row(accounts):
    session_id = signed_in(accounts['admin_a'])
    raw_sql('UPDATE account SET disabled = 1 WHERE id = ?', (accounts['admin_a'].id,))  # bypassing update_account
    assert sessions.lookup(session_id, IDLE, now=T0) is None


def test_a_new_password_ends_the_sessions(accounts):
    session_id = signed_in(accounts['owner'])
    set_password(OWNER[0], 'a-brand-new-password')
    assert sessions.lookup(session_id, IDLE, now=T0) is None


def test_purge_removes_idle_sessions_and_stale_hand_offs(accounts):
    live = signed_in(accounts['owner'], now=T0 + 50 * MINUTE)
    signed_in(accounts['owner'], now=T0)  # idle for 61 minutes at the purge
    sessions.create_session(accounts['admin_a'].id, now=T0 + 60 * MINUTE)  # hand-off never redeemed, expired
    pending = sessions.create_session(accounts['admin_b'].id, now=T0 + 61 * MINUTE - 1000)  # still redeemable
    assert sessions.purge_expired(IDLE, now=T0 + 61 * MINUTE) == 2
    assert sessions.count_sessions() == 2
    assert sessions.lookup(live, IDLE, now=T0 + 61 * MINUTE) == OWNER[0]
    assert sessions.redeem_handoff(pending.token, now=T0 + 61 * MINUTE)
