"""Demo data is realistic and deterministic; imports are all or nothing and name the line and field."""

import json
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from store.ledger import taxonomy
from store.read.events import EventFilter, Viewer, count_events
from store.write.importer import ImportError_, import_file
from store.write.seed import demo_events

ORG = Viewer.organization()
END = datetime(2026, 11, 1, tzinfo=UTC)


def test_same_seed_same_events_and_different_seed_different_events():
    first = list(demo_events(500, seed=3, end=END))
    assert first == list(demo_events(500, seed=3, end=END))
    assert first != list(demo_events(500, seed=4, end=END))


def test_demo_ids_are_time_ordered_so_a_large_seed_appends_to_the_id_index():
    events = list(demo_events(400, seed=3, end=END))
    ids = [uuid.UUID(e.id) for e in events]
    assert {i.version for i in ids} == {7}
    assert [i.int >> 80 for i in ids] == [int(e.timestamp.timestamp() * 1000) for e in events]
    assert len(set(ids)) == len(ids)


def test_demo_events_are_realistic():
    events = list(demo_events(5000, seed=1, end=END))
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert all((END - e.timestamp).days < 90 and e.timestamp <= END for e in events)
    failed = sum(e.status == 'FAILED' for e in events) / len(events)
    assert 0.05 <= failed <= 0.10
    assert all(' failed: ' in e.description for e in events if e.status == 'FAILED')
    assert 3 <= len({e.workspace for e in events if e.workspace}) <= 6
    users = {e.user for e in events}
    assert 'system' in users and len(users) >= 21
    assert {e.scope for e in events} == set(taxonomy.SCOPES)
    assert all(e.category in taxonomy.categories(e.scope) for e in events)
    actions = Counter(e.action for e in events)
    for expected in ('Invite Member', 'Remove Member', 'Change Member Role', 'Create Policy', 'Attach Policy',
                     'Detach Policy', 'Add Credit', 'Charge Payment', 'Change Plan', 'Redeem Voucher',
                     'Create Workspace', 'Rename Workspace', 'Update Settings', 'Change GPU Quota', 'Start Notebook',
                     'Stop Notebook', 'Create Container', 'Stop Container', 'Deploy Endpoint', 'Scale Endpoint'):
        assert actions[expected] > 0, expected
    assert len({e.id for e in events}) == len(events)


def test_seed_command_is_deterministic(tmp_path):
    import main

    def seeded(name: str) -> list:
        url = f'sqlite:///{tmp_path / name}'
        assert main.main(['--db', url, 'seed', '--events', '300', '--seed', '9', '--end', '2026-11-01T00:00:00Z']) == 0
        import sqlite3
        con = sqlite3.connect(tmp_path / name)
        rows = con.execute('SELECT uid, ts, actor, scope, category, action, target, status, description, hash '
                           'FROM event ORDER BY seq').fetchall()
        con.close()
        return rows

    first, second = seeded('a.db'), seeded('b.db')
    assert len(first) == 300 and first == second


def write_jsonl(path, rows):
    path.write_text('\n'.join(json.dumps(r) for r in rows) + '\n', encoding='utf-8')


def good(i: int) -> dict:
    return {'id': f'imp-{i}', 'timestamp': '2026-10-01T08:00:00Z', 'user': 'alice@acme.io', 'scope': 'Billing',
            'category': 'Credit', 'action': 'Add Credit', 'target': f'credit-{i}', 'description': 'Added credits'}


def test_jsonl_import(tmp_path):
    path = tmp_path / 'events.jsonl'
    write_jsonl(path, [good(i) for i in range(1200)])
    result = import_file(path)
    assert (result.stored, result.duplicates) == (1200, 0)
    assert import_file(path).duplicates == 1200
    assert count_events(ORG, EventFilter()) == 1200


def test_csv_import_with_bom_and_metadata(tmp_path):
    path = tmp_path / 'events.csv'
    path.write_text('\ufeffid,timestamp,user,scope,category,action,target,status,description,workspace,metadata\n'
                    'c1,2026-10-01 08:00:00,zoë@acme.io,Service,AI Notebook,Start Notebook,nb-1,FAILED,'
                    '"Started, then failed",alpha,"{""ip"": ""192.0.2.1""}"\n'
                    'c2,2026-10-01T09:00:00+02:00,system,Billing,Payment,Charge Payment,inv-1,,,,\n',
                    encoding='utf-8')
    assert import_file(path).stored == 2
    assert count_events(ORG, EventFilter(search='zoë')) == 1
    assert count_events(ORG, EventFilter(workspace='alpha', status='FAILED')) == 1


@pytest.mark.parametrize(('content', 'message'), [
    ('GOOD\nGOOD\n{"user": "a@b", "scope": "Billing", "category": "Member", "action": "x"}\n',
     'line 3: category: '),
    ('GOOD\n{not json\n', 'line 2: not valid JSON'),
    ('GOOD\n[1, 2]\n', 'line 2: event: must be a JSON object'),
    ('GOOD\n\n{"user": "a@b", "scope": "Billing", "category": "Credit", "action": "x", "timestamp": "soon"}\n',
     'line 3: timestamp: '),
])
def test_jsonl_errors_name_the_line_and_field_and_store_nothing(tmp_path, content, message):
    path = tmp_path / 'bad.jsonl'
    path.write_text(content.replace('GOOD', json.dumps(good(1)), 1).replace('GOOD', json.dumps(good(2))))
    with pytest.raises(ImportError_, match=message):
        import_file(path)
    assert count_events(ORG, EventFilter()) == 0


def test_an_error_late_in_a_large_file_stores_nothing(tmp_path):
    path = tmp_path / 'big.jsonl'
    write_jsonl(path, [good(i) for i in range(2500)] + [{**good(9999), 'status': 'MAYBE'}])
    with pytest.raises(ImportError_, match='line 2501: status'):
        import_file(path)
    assert count_events(ORG, EventFilter()) == 0


@pytest.mark.parametrize(('name', 'content', 'message'), [
    ('bad.csv', 'user,scope,colour\n', "line 1: column 'colour' is not a field"),
    ('bad.csv', 'user,scope,category,action\na@b,Billing,Credit,x,EXTRA\n', 'line 2: more cells than columns'),
    ('bad.csv', 'user,scope,category,action\na@b,Billing,Nope,x\n', 'line 2: category'),
    ('bad.txt', 'x', 'expected a .jsonl'),
])
def test_csv_and_file_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ImportError_, match=message):
        import_file(path)
    assert count_events(ORG, EventFilter()) == 0


def test_not_utf8_and_missing_files(tmp_path):
    path = tmp_path / 'latin1.jsonl'
    path.write_bytes(b'{"user": "\xe9"}\n')
    with pytest.raises(ImportError_, match='not UTF-8'):
        import_file(path)
    with pytest.raises(ImportError_, match='no such file'):
        import_file(tmp_path / 'missing.jsonl')
