"""Tamper evidence: the hash chain names the first event edited, deleted, inserted or reordered.

The tampering happens as an attacker with the file would do it: raw sqlite3, triggers dropped.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from store.engine.db import connection
from store.ledger import chain
from store.ledger.chain import verify
from store.ledger.validation import validate_event
from store.lifecycle import schema
from store.read.events import EventFilter, Viewer, count_events
from store.write.ingest import append_events
from tests.conftest import event, raw_sql

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = 'uid, ts, actor, scope, category, action, target, status, description, workspace_id, metadata, ' \
          'search_text, hash'

pytestmark = pytest.mark.sqlite_only  # tampers with the file through raw sqlite3


@pytest.fixture
def twenty(add_events) -> None:
    """Events #1..#20 with ids e01..e20."""
    add_events(*[event(id=f'e{i:02}', target=f'nb-{i}') for i in range(1, 21)])


def tamper(database_url: str, *statements: str) -> None:
    raw = sqlite3.connect(database_url.removeprefix('sqlite:///'))
    for trigger in ('event_no_update', 'event_no_delete', 'event_no_replace'):
        raw.execute(f'DROP TRIGGER IF EXISTS {trigger}')
    for sql in statements:
        raw.execute(sql)
    raw.commit()
    raw.close()


def cli_verify(database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'main.py', '--db', database_url, 'verify', *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def forged_row(previous_hash: str, uid: str, seq: int) -> str:
    """An INSERT of a well-formed event whose hash correctly extends `previous_hash`."""
    content = chain.canonical(uid, 1_790_000_000_000, 'mallory@acme.io', 'Billing', 'Credit', 'Add Credit', 'x',
                              'SUCCESS', 'forged', None, None)
    digest = chain.link(previous_hash, content)
    return (f"INSERT INTO event (seq, {COLUMNS}) VALUES ({seq}, '{uid}', 1790000000000, 'mallory@acme.io', "
            f"'Billing', 'Credit', 'Add Credit', 'x', 'SUCCESS', 'forged', NULL, NULL, 'forged', '{digest}')")


def test_an_untouched_chain_is_intact_and_the_cli_exits_0(twenty, database_url):
    report = verify()
    assert report.ok and report.checked == 20
    assert report.anchor == '20:' + raw_sql('SELECT hash FROM event WHERE seq = 20')[0][0]
    result = cli_verify(database_url)
    assert result.returncode == 0
    assert result.stdout.strip() == f'OK: 20 events, the chain is intact; anchor {report.anchor}'
    assert cli_verify(database_url, '--anchor', report.anchor).returncode == 0


def test_an_empty_store_is_intact():
    assert verify().ok and verify().checked == 0


def test_an_edited_event_is_named(twenty, database_url):
    tamper(database_url, "UPDATE event SET description = 'nothing happened' WHERE seq = 7")
    report = verify()
    assert (report.ok, report.bad_seq, report.bad_id, report.checked) == (False, 7, 'e07', 6)
    result = cli_verify(database_url)
    assert result.returncode == 2
    assert result.stdout.startswith('TAMPERED: event #7 (id e07): its content or position does not match')
    assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('column, value', [
    ('ts', '0'), ('actor', "'someone@else.io'"), ('status', "'FAILED'"), ('workspace_id', 'NULL'),
    ('metadata', """'{"ip": "1.2.3.4"}'"""), ('uid', "'renamed'"),
])
def test_every_stored_field_is_covered(twenty, database_url, column, value):
    tamper(database_url, f'UPDATE event SET {column} = {value} WHERE seq = 12')
    assert verify().bad_seq == 12


def test_a_deleted_event_is_named_by_the_one_after_it(twenty, database_url):
    tamper(database_url, 'DELETE FROM event WHERE seq = 7')
    report = verify()
    assert (report.bad_seq, report.bad_id) == (8, 'e08')
    assert 'the event #7 before it is missing (deleted)' in report.reason
    tamper(database_url, 'DELETE FROM event WHERE seq IN (8, 9, 10)')
    assert 'the events #7 to #10 before it are missing' in verify().reason


def test_deleting_the_first_events_is_named(twenty, database_url):
    tamper(database_url, 'DELETE FROM event WHERE seq <= 2')
    report = verify()
    assert (report.bad_seq, report.bad_id) == (3, 'e03') and 'from #1' in report.reason


def test_reordered_events_are_named(twenty, database_url):
    tamper(database_url, 'UPDATE event SET seq = -5 WHERE seq = 5', 'UPDATE event SET seq = 5 WHERE seq = 6',
           'UPDATE event SET seq = 6 WHERE seq = -5')
    report = verify()
    assert (report.bad_seq, report.bad_id) == (5, 'e06')


def test_an_inserted_event_is_named(twenty, database_url):
    tamper(database_url, 'UPDATE event SET seq = seq + 100 WHERE seq > 10',
           forged_row('0' * 64, 'intruder', 11))  # squeezed in after #10, with a hash that does not fit
    report = verify()
    assert (report.bad_seq, report.bad_id) == (11, 'intruder')


def test_an_event_appended_behind_the_apps_back_is_named_even_with_a_fitting_hash(twenty, database_url):
    last_hash = raw_sql('SELECT hash FROM event WHERE seq = 20')[0][0]
    tamper(database_url, forged_row(last_hash, 'intruder', 21))
    report = verify()
    assert (report.ok, report.bad_seq, report.bad_id) == (False, 21, 'intruder')
    assert "added behind the application's back" in report.reason


def test_a_truncated_tail_is_named(twenty, database_url):
    tamper(database_url, 'DELETE FROM event WHERE seq > 17')
    report = verify()
    assert (report.ok, report.bad_seq) == (False, 18)
    assert 'the newest 3 event(s), #18 to #20, are missing' in report.reason
    result = cli_verify(database_url)
    assert result.returncode == 2 and result.stdout.startswith('TAMPERED: event #18: the newest 3 event(s)')


def test_a_truncated_tail_still_shows_after_the_app_appends_again(twenty, database_url, add_events):
    tamper(database_url, 'DELETE FROM event WHERE seq > 17')
    add_events(event(id='later'))  # links to the recorded head (#20), which is gone
    report = verify()
    assert (report.ok, report.bad_seq, report.bad_id) == (False, 18, 'later')


def test_a_recomputed_chain_differs_from_the_recorded_head(twenty, database_url):
    rows = raw_sql(f'SELECT seq, {COLUMNS} FROM event ORDER BY seq')
    previous, statements = chain.GENESIS, []
    for row in rows:
        seq, uid, ts, actor, scope, category, action, target, status, description = row[:10]
        description = 'nothing happened' if seq == 9 else description
        previous = chain.link(previous, chain.canonical(uid, ts, actor, scope, category, action, target, status,
                                                        description, 'alpha', row[11]))
        statements.append(f"UPDATE event SET description = '{description}', hash = '{previous}' WHERE seq = {seq}")
    anchor = chain.parse_anchor(verify().anchor)
    early_anchor = (12, raw_sql('SELECT hash FROM event WHERE seq = 12')[0][0])
    tamper(database_url, *statements)
    report = verify()
    assert not report.ok and report.checked == 20 and 'recomputed' in report.reason
    tamper(database_url, f"UPDATE meta SET value = '20:20:{previous}' WHERE key = 'chain_head'")
    assert verify().ok  # the head record rewritten too: only a copy of an anchor kept elsewhere shows it
    report = verify(anchor=anchor)
    assert (report.ok, report.bad_seq, report.bad_id) == (False, 20, 'e20') and 'rewritten' in report.reason
    assert verify(anchor=early_anchor).bad_seq == 12
    result = cli_verify(database_url, '--anchor', f'{anchor[0]}:{anchor[1]}')
    assert result.returncode == 2 and result.stdout.startswith('TAMPERED: event #20 (id e20): the anchor')


def test_an_anchor_that_was_deleted_or_is_malformed(twenty, database_url):
    anchor = chain.parse_anchor(verify().anchor)
    tamper(database_url, 'DELETE FROM event WHERE seq = 20',
           "UPDATE meta SET value = '19:19:' || (SELECT hash FROM event WHERE seq = 19) WHERE key = 'chain_head'")
    assert verify().ok
    report = verify(anchor=anchor)
    assert (report.ok, report.bad_seq) == (False, 20) and 'missing' in report.reason
    result = cli_verify(database_url, '--anchor', 'latest')
    assert result.returncode == 1 and result.stderr.startswith("error: --anchor: 'latest' is not an anchor")


def test_a_removed_head_record_is_named(twenty, database_url):
    tamper(database_url, "DELETE FROM meta WHERE key = 'chain_head'")
    report = verify()
    assert not report.ok and 'record of the chain head is missing' in report.reason


def test_the_upgrade_step_records_the_head_of_an_older_file(twenty, database_url):
    expected = chain.recorded_head()
    tamper(database_url, "DELETE FROM meta WHERE key = 'chain_head'")
    schema.STEPS[2]()  # V3_CHAIN_HEAD, as an upgrade from version 2 runs it
    assert chain.recorded_head() == expected == chain.Head(20, 20, verify().head)
    assert verify().ok


def test_concurrent_writers_make_one_valid_chain(database_url):
    errors: list[BaseException] = []
    reports: list[chain.ChainReport] = []

    def writer(n: int) -> None:
        try:
            with connection():
                for b in range(10):
                    append_events([validate_event(event(id=f'w{n}-{b}-{i}')) for i in range(50)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def checker() -> None:
        with connection():
            for _ in range(5):
                reports.append(verify())

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)] + [threading.Thread(target=checker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count_events(Viewer.organization(), EventFilter()) == 4000
    report = verify()
    assert report.ok and report.checked == 4000
    assert all(r.ok for r in reports)  # a check while writers append sees one consistent snapshot
