"""The app's own actions (sign-in, accounts, tokens, exports), recorded like any other event."""

from __future__ import annotations

from typing import Any

from store.ingest import append_events
from store.validation import validate_event


def record(user: str, action: str, target: str, description: str, *, scope: str = 'Organization',
           category: str = 'Member', status: str = 'SUCCESS', workspace: str | None = None,
           metadata: dict[str, Any] | None = None) -> None:
    """Append one event about what the dashboard itself did, through the one ingestion path."""
    raw = {'user': user[:320] or 'anonymous', 'scope': scope, 'category': category, 'action': action,
           'target': target[:500], 'status': status, 'description': description[:4000],
           'workspace': workspace, 'metadata': metadata}
    append_events([validate_event(raw)])
