"""`main.py stream ...`: add (the secret printed once), list, pause, resume, replay, remove; clear errors."""

from __future__ import annotations

import re

from main import main
from store.lifecycle.opening import open_database
from store.read.events import EventFilter, Viewer, find_events
from store.streams.formats import json_line, webhook_body
from store.streams.registry import get_stream, list_streams


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_stream_commands(capsys, database_url: str) -> None:
    code, out, _ = run(capsys, 'stream', 'add', 'siem', '--to', 'http://127.0.0.1:9/hook', '--scope', 'Billing',
                       '--category', 'Payment', '--status', 'FAILED', '--format', 'slack', '--digest', '15')
    assert code == 0 and 'Created stream siem (slack)' in out
    [secret] = re.findall(r'^secret: (\S+)$', out, re.MULTILINE)
    open_database(database_url)
    assert get_stream('siem').secret == secret and get_stream('siem').digest_minutes == 15
    code, out, _ = run(capsys, 'stream', 'add', 'copy', '--to', 'file:///tmp/audit-copy.jsonl')
    assert code == 0 and 'secret:' not in out
    code, out, _ = run(capsys, 'stream', 'list')
    # 'copy' takes every event: its own creation waits for it
    assert out.splitlines() == ['copy\tactive\tfile:///tmp/audit-copy.jsonl\t0 delivered\tlag 1 event, 0 s',
                                'siem\tactive\thttp://127.0.0.1:9/…\t0 delivered\tlag 0 events, 0 s']
    assert run(capsys, 'stream', 'pause', 'siem')[1] == 'Stream siem is paused.\n'
    assert run(capsys, 'stream', 'resume', 'siem')[1] == 'Stream siem is active.\n'
    code, out, _ = run(capsys, 'stream', 'replay', 'siem', '--since', '2026-01-01')
    assert code == 0 and 'resends its events from 2026-01-01' in out
    assert run(capsys, 'stream', 'remove', 'copy')[1] == 'Removed stream copy.\n'
    open_database(database_url)
    assert [s.name for s in list_streams()] == ['siem']


def test_stream_change_keeps_the_position_and_is_recorded(capsys, database_url: str) -> None:
    assert run(capsys, 'stream', 'add', 'siem', '--to', 'file:///tmp/audit-siem.jsonl', '--scope', 'Billing')[0] == 0
    open_database(database_url)
    position = get_stream('siem').position
    code, out, _ = run(capsys, 'stream', 'change', 'siem', '--status', 'FAILED', '--category', 'Payment',
                       '--format', 'ocsf')
    assert code == 0 and out == 'Changed stream siem (ocsf) to file:///tmp/audit-siem.jsonl for ' \
                                'category: Payment, status: FAILED.\n'  # the filter given replaces the old one
    code, out, _ = run(capsys, 'stream', 'change', 'siem', '--to', 'http://127.0.0.1:9/hook')
    [secret] = re.findall(r'^secret: (\S+)$', out, re.MULTILINE)  # a new webhook: its secret, once
    assert code == 0 and 'Changed stream siem (json) to http://127.0.0.1:9/…' in out
    code, out, _ = run(capsys, 'stream', 'change', 'siem', '--every-event', '--format', 'slack', '--digest', '5')
    assert code == 0 and out == 'Changed stream siem (slack) to http://127.0.0.1:9/… for every event.\n'
    open_database(database_url)
    stream = get_stream('siem')
    assert (stream.position, stream.secret, stream.digest_minutes) == (position, secret, 5)
    assert stream.filter == EventFilter()
    found = find_events(Viewer.organization(), EventFilter(search='Changed stream siem')).events
    assert [e['action'] for e in found] == ['Change Stream'] * 3 and all(e['user'] == 'system' for e in found)


def test_stream_command_errors_are_one_line(capsys) -> None:
    for argv, message in ((('stream', 'pause', 'nope'), "no stream named 'nope'"),
                          (('stream', 'add', 'x', '--to', 'file:///tmp/x.jsonl', '--until', '2026-01-01'),
                           '--until does not apply'),
                          (('stream', 'replay', 'x', '--since', 'yesterday'), '--since'),
                          (('verify', '--stream', 'x'), '--stream goes with --copy'),
                          (('stream', 'change', 'nope', '--scope', 'Billing'), "no stream named 'nope'"),
                          (('stream', 'change', 'x'), 'nothing to change'),
                          (('stream', 'change', 'x', '--since', '2026-01-01'), 'stream replay NAME --since T'),
                          (('stream', 'change', 'x', '--every-event', '--scope', 'Billing'),
                           'without filter options')):
        code, _, err = run(capsys, *argv)
        assert code == 1 and err.startswith('error: ') and message in err and err.count('\n') == 1


def test_bodies_keep_integers_beyond_64_bits() -> None:
    assert webhook_body([{'n': 2 ** 70}]) == b'{"events":[{"n":1180591620717411303424}]}'
    assert json_line({'n': 2 ** 70, 'text': 'é'}) == '{"n":1180591620717411303424,"text":"é"}\n'.encode()
