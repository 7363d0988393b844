"""API tokens: shown once, stored as a hash, scoped, revocable, and every change recorded."""

import subprocess
import sys
from pathlib import Path

import pytest

from store.engine.db import StoreError
from store.people.tokens import authenticate_token, create_token, hash_token, list_tokens, revoke_token
from store.read.events import EventFilter, Viewer, find_events
from tests.conftest import raw_sql

ROOT = Path(__file__).resolve().parents[2]


def policy_events() -> list[dict]:
    return find_events(Viewer.organization(), EventFilter(scope='Organization', category='Policy')).events


def test_a_token_is_shown_once_and_only_its_hash_is_stored(database_url):
    token = create_token('ci', None, 'owner@acme.io')
    assert token.startswith('al_') and len(token) > 40
    assert raw_sql('SELECT token_hash FROM api_token') == [(hash_token(token),)]
    database_file = Path(database_url.removeprefix('sqlite:///'))
    for path in (database_file, database_file.with_name(database_file.name + '-wal')):
        if path.exists():
            assert token.encode() not in path.read_bytes()
    found = authenticate_token(token)
    assert (found.name, found.workspace, found.created_by, found.active) == ('ci', None, 'owner@acme.io', True)
    assert found.viewer().is_organization


def test_a_workspace_token_sees_only_its_workspace():
    token = authenticate_token(create_token('alpha feed', 'alpha', 'owner@acme.io'))
    assert token.workspace == 'alpha' and token.reach == 'Workspace alpha'
    assert token.viewer().workspaces == frozenset({'alpha'})


@pytest.mark.parametrize('value', [None, '', 'al_not-a-token', 'x' * 10_000])
def test_unknown_values_are_not_tokens(value):
    create_token('ci', None, 'owner@acme.io')
    assert authenticate_token(value) is None


def test_revoked_tokens_stop_working_and_both_changes_are_recorded():
    token = create_token('deploy bot', 'alpha', 'owner@acme.io')
    [listed] = list_tokens()
    revoked = revoke_token(listed.id, 'owner@acme.io')
    assert not revoked.active and authenticate_token(token) is None
    with pytest.raises(StoreError, match='revoked already'):
        revoke_token(listed.id, 'owner@acme.io')
    with pytest.raises(StoreError, match='no API token'):
        revoke_token(999, 'owner@acme.io')
    revoke, create = policy_events()
    assert (create['action'], create['user'], create['target']) == ('Create API Token', 'owner@acme.io', 'deploy bot')
    assert (revoke['action'], revoke['user'], revoke['target']) == ('Revoke API Token', 'owner@acme.io', 'deploy bot')
    assert 'workspace alpha' in create['description'] and create['metadata']['workspace'] == 'alpha'
    assert token not in str(create) + str(revoke)


def test_active_tokens_are_listed_first():
    create_token('old', None, 'owner@acme.io')
    create_token('new', None, 'owner@acme.io')
    revoke_token(list_tokens()[0].id, 'owner@acme.io')  # the newest
    assert [(t.name, t.active) for t in list_tokens()] == [('old', True), ('new', False)]


@pytest.mark.parametrize(('name', 'workspace', 'message'), [
    ('', None, 'needs a name'), ('   ', None, 'needs a name'), ('x' * 101, None, 'at most 100'),
    ('ok', 'w' * 101, 'at most 100'),
])
def test_bad_names_are_refused(name, workspace, message):
    with pytest.raises(StoreError, match=message):
        create_token(name, workspace, 'owner@acme.io')
    assert list_tokens() == [] and policy_events() == []


def test_create_token_on_the_command_line_prints_it_once(tmp_path):
    url = f'sqlite:///{tmp_path / "cli.db"}'
    result = subprocess.run([sys.executable, 'main.py', '--db', url, 'create-token', 'ingest', '--workspace', 'ml'],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [token] = result.stdout.split()
    assert token.startswith('al_')
    check = subprocess.run([sys.executable, '-c', (
        'import sys; from store.lifecycle.opening import open_database; from store.engine.db import connection\n'
        'from store.people.tokens import authenticate_token\n'
        f'open_database({url!r})\n'
        'with connection(): t = authenticate_token(sys.argv[1]); print(t.name, t.workspace, t.created_by)'), token],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == 'ingest ml command line'
    refused = subprocess.run([sys.executable, 'main.py', '--db', url, 'create-token', ' '],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and refused.stderr.strip() == 'error: a token needs a name'
