"""Schemathesis hooks for tests/test_api_contract.py (loaded through SCHEMATHESIS_HOOKS).

A workspace token writes only its own workspace's events and is refused (403) any other, a rule of the
token that the one schema cannot state. With such a token (CONTRACT_WORKSPACE), each schema-valid event
Schemathesis sends names the token's workspace, so the API's acceptance of valid events is tested with
it too; schema-invalid (negative) requests are sent as generated.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

WORKSPACE = os.environ.get('CONTRACT_WORKSPACE')


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict[str, Any]) -> None:
    if WORKSPACE is None or case.method != 'POST' or not isinstance(case.body, dict):
        return
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    events = case.body.get('events') if 'events' in case.body else [case.body]
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict):
            event['workspace'] = WORKSPACE
