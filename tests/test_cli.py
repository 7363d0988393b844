"""The command line as a user runs it: one clear line and a non-zero exit on errors, never a traceback."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, stdin: str = '') -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'main.py', *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def db(tmp_path) -> str:
    return f'sqlite:///{tmp_path / "cli.db"}'


def test_seed_import_verify(db, tmp_path):
    assert 'Added 200 events' in run('--db', db, 'seed', '--events', '200', '--seed', '1').stdout
    path = tmp_path / 'e.jsonl'
    path.write_text('{"user": "a@acme.io", "scope": "Billing", "category": "Credit", "action": "Add Credit"}\n')
    assert 'Imported 1 events' in run('--db', db, 'import', str(path)).stdout
    index = sqlite3.connect(f'{db.removeprefix("sqlite:///")}.search')  # the import left its event indexed
    assert index.execute('SELECT max(seq) FROM search_progress').fetchone() == (201,)
    index.close()
    result = run('--db', db, 'verify')
    assert result.returncode == 0 and 'OK: 201 events' in result.stdout


@pytest.mark.parametrize(('args', 'stdin', 'message'), [
    (('seed', '--events', '0'), '', 'error: --events must be at least 1'),
    (('seed', '--events', '5', '--end', 'tomorrow'), '', 'error: --end: '),
    (('import', 'missing.jsonl'), '', 'error: missing.jsonl: no such file'),
    (('create-user', 'not-an-email', '--role', 'owner'), 'password123\n', 'is not an email address'),
    (('create-user', 'a@acme.io', '--role', 'admin'), 'password123\n', 'needs --workspace'),
    (('create-user', 'a@acme.io', '--role', 'owner'), 'short\n', 'at least 8 characters'),
])
def test_errors_are_one_line_without_traceback(db, args, stdin, message):
    result = run('--db', db, *args, stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert 'Traceback' not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(('variable', 'value', 'least'), [
    ('AUDIT_SQLITE_MAP_MIB', '2 GiB', 0), ('AUDIT_SQLITE_MAP_MIB', '-1', 0), ('AUDIT_SESSION_IDLE_MINUTES', '0', 1),
])
def test_a_bad_setting_stops_the_server_with_one_line(db, variable, value, least):
    result = subprocess.run([sys.executable, 'main.py', '--db', db, 'serve'], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, variable: value})
    assert result.returncode == 1
    assert result.stderr.strip() == f'error: {variable} must be a whole number of at least {least}, not {value!r}'


def test_bad_import_line_is_named(db, tmp_path):
    path = tmp_path / 'bad.jsonl'
    path.write_text('{"user": "a@acme.io", "scope": "Billing", "category": "Member", "action": "x"}\n')
    result = run('--db', db, 'import', str(path))
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: line 1: category: 'Member' is not a category of Billing "
                                     '(Credit, Payment, Plan, Voucher)')


def test_create_user_reads_the_password_from_stdin(db):
    result = run('--db', db, 'create-user', 'Admin@Acme.io', '--role', 'admin', '--workspace', 'research',
                 stdin='a-long-password\n')
    assert result.returncode == 0, result.stderr
    assert 'Created Workspace Admin of research: admin@acme.io' in result.stdout
    again = run('--db', db, 'create-user', 'admin@acme.io', '--role', 'owner', stdin='a-long-password\n')
    assert again.returncode == 1 and 'exists already' in again.stderr


def test_bad_database_url_and_timezone(tmp_path):
    assert 'error: cannot use database URL' in run('--db', 'nosuch://x', 'seed', '--events', '1').stderr
    result = subprocess.run([sys.executable, 'main.py', '--db', f'sqlite:///{tmp_path / "x.db"}', 'serve'],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={'PATH': '/usr/bin:/bin', 'AUDIT_TIMEZONE': 'Mars/Olympus'})
    assert result.returncode == 1 and "unknown time zone 'Mars/Olympus'" in result.stderr


def test_export_as_a_workspace_admin_sees_only_their_workspace(db, tmp_path):
    import csv

    run('--db', db, 'seed', '--events', '400', '--seed', '3')
    assert run('--db', db, 'create-user', 'r@acme.io', '--role', 'admin', '--workspace', 'research',
               stdin='a-long-password\n').returncode == 0
    everything, mine = tmp_path / 'all.csv', tmp_path / 'mine.csv'
    assert run('--db', db, 'export', '-o', str(everything)).returncode == 0
    result = run('--db', db, 'export', '--as', 'r@acme.io', '-o', str(mine))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(mine.open(encoding='utf-8-sig')))
    assert rows and {r['Workspace'] for r in rows} == {'research'}
    assert len(rows) < len(list(csv.DictReader(everything.open(encoding='utf-8-sig'))))
    missing = run('--db', db, 'export', '--as', 'ghost@acme.io', '-o', str(mine))
    assert missing.returncode == 1 and 'no active account ghost@acme.io' in missing.stderr
    by_user = tmp_path / 'by-user.csv'
    assert run('--db', db, 'export', '--sort', 'user', '--ascending', '-o', str(by_user)).returncode == 0
    users = [r['User'] for r in csv.DictReader(by_user.open(encoding='utf-8-sig'))]
    assert len(users) > 1 and users == sorted(users)


def test_explain_prints_the_plan_of_a_view_as_an_account_sees_it(db):
    run('--db', db, 'seed', '--events', '300', '--seed', '5')
    assert run('--db', db, 'create-user', 'r@acme.io', '--role', 'admin', '--workspace', 'research',
               stdin='a-long-password\n').returncode == 0
    result = run('--db', db, 'explain', '--search', 'notebook', '--as', 'r@acme.io', '--sort', 'target',
                 '--ascending', '--limit', '5')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('total: ') and ' events, summed from the view' in lines[0]
    assert 'ordered by target ascending' in lines[1]
    assert lines[2] == 'view read: search notebook (workspaces research)'
    assert any(line.startswith('way: ') for line in lines) and lines[-1].startswith('page: ')
    for args, message in ((('--limit', '0'), '--limit between 1 and 1000'),
                          (('--as', 'ghost@acme.io'), 'no active account ghost@acme.io')):
        refused = run('--db', db, 'explain', *args)
        assert refused.returncode == 1 and message in refused.stderr and 'Traceback' not in refused.stderr
