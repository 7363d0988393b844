"""The API against its own OpenAPI schema, tested by Schemathesis (a tool no one here wrote).

A real server serves the app; Schemathesis reads /openapi.json and runs every phase (examples, coverage,
fuzzing, stateful) with every check, once with an organization token and once with a workspace token,
side by side, with a fixed seed and a time budget. Any failure fails the test with Schemathesis's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from store.people.tokens import create_token
from tests.browser.conftest import ROOT, start_server, stop_server
from tests.conftest import event

SECONDS_PER_TOKEN = 30
SEED = 20


def schemathesis(url: str, token: str, workspace: str | None, workdir: Path) -> subprocess.Popen:
    """`st run` on the served schema, every check and phase; its own files (reports) stay in `workdir`.

    With a workspace token, tests/schemathesis_hooks.py makes each valid event name that workspace.
    """
    workdir.mkdir()
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'SCHEMATHESIS_HOOKS': 'tests.schemathesis_hooks'}
    env.pop('CONTRACT_WORKSPACE', None)
    if workspace is not None:
        env['CONTRACT_WORKSPACE'] = workspace
    command = [sys.executable, '-m', 'schemathesis.cli', 'run', f'{url}/openapi.json',
               '--header', f'Authorization: Bearer {token}', '--checks', 'all',
               '--phases', 'examples,coverage,fuzzing,stateful', '--seed', str(SEED),
               '--max-time', str(SECONDS_PER_TOKEN), '--generation-database', 'none', '--no-color',
               '--wait-for-schema', '30']
    return subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_schemathesis_finds_nothing(add_events, database_url: str, tmp_path: Path) -> None:
    add_events(event(id='seen-1'), event(id='seen-2', workspace='research', status='FAILED'),
               event(id='seen-3', scope='Billing', category='Credit', action='Add Credit', workspace=None))
    tokens = {'organization': (create_token('contract-org', None, 'test'), None),
              'workspace': (create_token('contract-research', 'research', 'test'), 'research')}
    server = start_server(database_url, tmp_path / 'server.log')
    try:
        runs = {name: schemathesis(server.url, token, workspace, tmp_path / name)
                for name, (token, workspace) in tokens.items()}
        reports = {name: (run.communicate(timeout=SECONDS_PER_TOKEN * 10)[0], run.returncode)
                   for name, run in runs.items()}
    finally:
        for run in locals().get('runs', {}).values():
            if run.poll() is None:
                run.kill()
        stop_server(server)
    for name, (report, code) in reports.items():
        assert code == 0, f'Schemathesis with the {name} token:\n{report}'
        assert 'No issues found' in report and ' generated' in report, report
