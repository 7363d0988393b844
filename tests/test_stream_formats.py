"""What streams send: chat messages in Slack's documented shape, OCSF, CEF, JSON Lines files with daily rotation,
and `verify --copy` on a file stream's copy."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from main import main
from store.read.events import EventFilter, Viewer, events_after
from store.streams import delivery as stream_delivery
from store.streams import registry as streams
from store.streams.delivery import Deliverer
from store.streams.destinations import rotated_name
from store.streams.formats import cef, ocsf_class, ocsf_json, slack_digest, slack_event, syslog_message
from store.streams.verify import verify_copy
from tests.conftest import event
from tests.stream_receiver import running_receiver

SLACK_MESSAGE_KEYS = {'text', 'blocks', 'attachments', 'thread_ts', 'mrkdwn', 'username', 'icon_emoji', 'icon_url'}


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_delivery, 'SCAN_SECONDS', 0.1)
    monkeypatch.setattr(stream_delivery, 'IDLE_SECONDS', 0.05)


def stored(add_events, *raws: dict) -> list[dict]:
    add_events(*raws)
    return events_after(Viewer.organization(), EventFilter(), 0, 1000)


def wait_until(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


def assert_slack_shape(message: dict) -> None:
    """Slack's incoming webhook payload: a JSON object whose `text` is a non-empty string of mrkdwn, where &, < and
    > are escaped except in <url|label> links (docs.slack.dev, "Sending messages using incoming webhooks")."""
    assert set(message) <= SLACK_MESSAGE_KEYS and isinstance(message['text'], str) and message['text']
    without_links = re.sub(r'<(https?://|/)[^<>|]+\|[^<>]+>', '', message['text'])
    assert '<' not in without_links and '>' not in without_links
    assert not re.search(r'&(?!amp;|lt;|gt;)', message['text'])


def test_a_chat_alert_names_who_what_status_and_links_the_event(add_events, monkeypatch) -> None:
    monkeypatch.setenv('AUDIT_PUBLIC_URL', 'https://audit.example.com')
    with running_receiver() as receiver:
        _, secret = streams.create_stream('alerts', receiver.url, 'slack',
                                          EventFilter(scope='Billing', category='Payment', status='FAILED'),
                                          'owner@acme.io')
        receiver.secret = secret
        add_events(event(id='p1', scope='Billing', category='Payment', action='Charge Payment', target='inv-<1>',
                         status='FAILED', user='bob@acme.io', description='Card & bank declined'),
                   event(id='p2', scope='Billing', category='Payment', status='SUCCESS'))
        deliverer = Deliverer('t')
        deliverer.start()
        try:
            wait_until(lambda: len(receiver.bodies) >= 1 and streams.get_stream('alerts').delivered == 1)
        finally:
            deliverer.stop()
        assert len(receiver.bodies) == 1
        message = receiver.bodies[0]
        assert_slack_shape(message)
        text = message['text']
        assert '*FAILED*' in text and 'bob@acme.io' in text and 'Charge Payment inv-&lt;1&gt;' in text
        assert '<https://audit.example.com/audit-logs?event=p1|open>' in text and 'Card &amp; bank' in text


def test_a_digest_sends_one_message_with_the_count_and_the_first_events(add_events) -> None:
    with running_receiver() as receiver:
        _, secret = streams.create_stream('digest', receiver.url, 'slack', EventFilter(scope='Service'),
                                          'owner@acme.io', digest_minutes=10)
        receiver.secret = secret
        add_events(*[event(id=f'd{i}', target=f'nb-{i}') for i in range(12)])
        deliverer = Deliverer('t')
        deliverer.start()
        try:
            wait_until(lambda: len(receiver.bodies) >= 1)
            add_events(event(id='later'))
            time.sleep(0.5)  # within the 10 minutes: no second message
        finally:
            deliverer.stop()
        assert len(receiver.bodies) == 1
        text = receiver.bodies[0]['text']
        assert_slack_shape(receiver.bodies[0])
        assert text.startswith('12 events on stream digest in the last 10 min; the first 5:')
        assert text.count('\n•') == 5 and '/audit-logs?event=d0|open>' in text and 'event=d5|' not in text
        assert streams.get_stream('digest').last_sent is not None


def test_slack_messages_of_one_event_and_of_a_digest(add_events) -> None:
    rows = stored(add_events, event(id='e1', status='FAILED'))
    one = slack_event(rows[0], '')
    assert_slack_shape(one)
    assert '</audit-logs?event=e1|open>' in one['text']
    assert_slack_shape(slack_digest(rows, 1, 5, 'a & b', ''))


def test_ocsf_maps_each_scope_and_category_to_a_class_and_activity(add_events) -> None:
    assert ocsf_class('Organization', 'Member', 'Invite Member')[:2] == (3001, 1)
    assert ocsf_class('Organization', 'Policy', 'Detach Policy')[:2] == (3005, 2)
    assert ocsf_class('Billing', 'Payment', 'Charge Payment')[:2] == (3004, 99)
    assert ocsf_class('Service', 'AI Notebook', 'Stop Notebook')[:2] == (6003, 4)
    rows = stored(add_events, event(id='o1', status='FAILED'))
    ocsf = ocsf_json(rows[0], 7)
    assert ocsf['type_uid'] == 600301 and ocsf['status_id'] == 2 and ocsf['metadata']['version'].startswith('1.')
    assert ocsf['actor']['user']['email_addr'] == 'alice@acme.io'
    assert ocsf['unmapped']['hash'] == rows[0]['hash'] and ocsf['unmapped']['previous_position'] == 7


def test_cef_and_syslog_escape_their_special_characters(add_events) -> None:
    rows = stored(add_events, event(id='c1', action='Run | pipe', description='a=b \\ c\nnext', target='t"]x'))
    line = cef(rows[0], 0)
    assert line.startswith('CEF:0|Audit Logs|Audit Logs|1.0|Service/AI Notebook|Run \\| pipe|3|')
    assert 'msg=a\\=b \\\\ c\\nnext' in line and 'externalId=c1' in line
    message = syslog_message(rows[0], 0, 'json', 'host one').decode()
    assert message.startswith('<110>1 2026-10-01T08:00:00.000Z hostone audit-logs - Service/AI_Notebook [audit@32473 ')
    assert 'target="t\\"\\]x"' in message


def test_a_file_stream_appends_rotates_daily_and_its_copy_verifies(add_events, tmp_path: Path, capsys) -> None:
    path = tmp_path / 'copy' / 'audit.jsonl'
    streams.create_stream('file', f'file://{path}', None, EventFilter(workspace='alpha'), 'owner@acme.io')
    add_events(*[event(id=f'f{i}', workspace='alpha' if i % 3 else 'beta') for i in range(9)])
    path.parent.mkdir()
    path.write_text('{"from": "yesterday"}\n')
    yesterday = datetime.now(UTC).timestamp() - 86_400
    os.utime(path, (yesterday, yesterday))
    deliverer = Deliverer('t')
    deliverer.start()
    try:
        wait_until(lambda: streams.get_stream('file').delivered == 6)
    finally:
        deliverer.stop()
    rotated = rotated_name(path, datetime.fromtimestamp(yesterday, UTC).date().isoformat())
    assert rotated.read_text() == '{"from": "yesterday"}\n'
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line['id'] for line in lines] == ['f1', 'f2', 'f4', 'f5', 'f7', 'f8']
    assert lines[1]['previous_position'] == lines[0]['position']

    assert verify_copy(path, streams.get_stream('file')).ok
    assert main(['verify', '--copy', str(path), '--stream', 'file']) == 0
    assert 'OK: the copy matches the store' in capsys.readouterr().out

    tampered = [dict(line) for line in lines]
    tampered[2]['hash'] = '0' * 64  # an altered copy
    del tampered[4]  # a lost event: a gap
    tampered.append(lines[0])  # a batch received twice
    broken = tmp_path / 'broken.jsonl'
    broken.write_text(''.join(json.dumps(line) + '\n' for line in tampered))
    report = verify_copy(broken, streams.get_stream('file'))
    assert not report.ok and report.duplicates == 1 and len(report.altered) == 1 and 'f4' in report.altered[0]
    assert len(report.gaps) == 1 and len(report.missing) == 1 and 'f7' in report.missing[0]
    assert main(['verify', '--copy', str(broken)]) == 2
    out = capsys.readouterr().out
    assert '1 hash differs from the store: f4' in out and '1 gap' in out and 'FAILED' in out


def test_verify_copy_names_a_bad_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"id": "x"}\n')
    assert main(['verify', '--copy', str(bad)]) == 1
    assert 'bad.jsonl line 1' in capsys.readouterr().err
