"""The app's own actions (sign-in, accounts, tokens, exports), recorded like any other event."""

from __future__ import annotations

from typing import Any

from store.engine import signals
from store.ledger.validation import ALLOWED_CONTROL, MAX_LENGTH, validate_event
from store.write.ingest import append_events


def printable(text: str, field: str) -> str:
    """Text typed by anyone (a login form's email) made storable: control characters become U+FFFD, cut to size."""
    cleaned = ''.join('\ufffd' if (ch < ' ' and ch not in ALLOWED_CONTROL) or ch == '\x7f' else ch for ch in text)
    return cleaned.strip()[:MAX_LENGTH[field]]


def record(user: str, action: str, target: str, description: str, *, scope: str = 'Organization',
           category: str = 'Member', status: str = 'SUCCESS', workspace: str | None = None,
           metadata: dict[str, Any] | None = None) -> None:
    """Append one event about what the dashboard itself did, through the one ingestion path."""
    raw = {'user': printable(user, 'user') or 'anonymous', 'scope': scope, 'category': category, 'action': action,
           'target': printable(target, 'target'), 'status': status,
           'description': printable(description, 'description'), 'workspace': workspace, 'metadata': metadata}
    append_events([validate_event(raw)])
    signals.self_audit_recorded.send(action=action, status=status, metadata=metadata or {})
