"""Streams: a filter of the page, a destination and a position, managed by Organization Owners.

A stream delivers, in storage order, every event its filter matches with Organization visibility (its
workspace filter honoured) to a webhook, a chat channel, a syslog server or a JSON Lines file
(store/streams/delivery.py does the delivering). Its position is the `seq` of the last event the destination
acknowledged, kept while delivering in a progress row of its own (store/streams/progress.py). Creating,
changing, pausing, resuming, replaying and removing a stream are recorded in the log itself (scope
Organization, category Policy, as API tokens are).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from store.engine.db import StoreError, database, found, insert_id, write_transaction
from store.engine.timefmt import now_millis, to_millis
from store.ledger import chain, taxonomy
from store.read.events import EventFilter, Viewer, count_after, events_after, first_position
from store.streams import progress
from store.write import self_audit

MAX_NAME = 100
MAX_DIGEST_MINUTES = 24 * 60
AUDIT_SCOPE, AUDIT_CATEGORY = 'Organization', 'Policy'
FILTER_FIELDS = ('search', 'scope', 'category', 'status', 'user', 'workspace')
# The formats each kind of destination takes; the first is its default.
FORMATS = {'webhook': ('json', 'ocsf', 'slack'), 'syslog': ('json', 'ocsf', 'cef'), 'file': ('json', 'ocsf')}
STATES = ('active', 'paused', 'failing')


@dataclass(frozen=True)
class Destination:
    """Where a stream delivers: `kind` is webhook, syslog or file; `tls` for syslog+tls."""

    url: str
    kind: str
    host: str = ''
    port: int = 0
    tls: bool = False
    path: str = ''


def parse_destination(url: str) -> Destination:
    """The destination a URL names, or a StoreError saying what is wrong with it."""
    url = (url or '').strip()
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ('https', 'http'):
        if not parsed.hostname:
            raise StoreError(f'--to {url!r}: a webhook URL needs a host, e.g. https://siem.example.com/hook')
        if scheme == 'http' and not _is_loopback(parsed.hostname):
            raise StoreError(f'--to {url!r}: plain http:// is accepted for loopback only (127.0.0.1, localhost); '
                             'use https://')
        return Destination(url, 'webhook', parsed.hostname, parsed.port or (443 if scheme == 'https' else 80))
    if scheme in ('syslog+tcp', 'syslog+tls'):
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not parsed.hostname or not port:
            raise StoreError(f'--to {url!r}: a syslog destination is {scheme}://HOST:PORT')
        return Destination(url, 'syslog', parsed.hostname, port, tls=scheme == 'syslog+tls')
    if scheme == 'file':
        if parsed.netloc or not parsed.path.startswith('/') or not parsed.path.endswith('.jsonl'):
            raise StoreError(f'--to {url!r}: a file destination is file:///ABSOLUTE/PATH.jsonl')
        return Destination(url, 'file', path=parsed.path)
    raise StoreError(f'--to {url!r}: the destination must start with https://, http:// (loopback), '
                     'syslog+tcp://, syslog+tls:// or file:///')


def _is_loopback(host: str) -> bool:
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Stream:
    id: int
    name: str
    destination: str
    format: str
    filter: EventFilter
    digest_minutes: int
    state: str
    position: int
    generation: int
    secret: str | None
    delivered: int
    failures: int
    last_success: int | None
    last_error: str | None
    last_error_at: int | None
    next_retry: int | None
    last_sent: int | None
    lease_owner: str | None
    lease_expires: int | None
    created_at: int
    created_by: str

    @property
    def target(self) -> Destination:
        return parse_destination(self.destination)

    def viewer(self) -> Viewer:
        """Organization visibility: only Organization Owners manage streams; the filter's workspace narrows it."""
        return Viewer.organization(f'stream:{self.name}')

    def filter_text(self) -> str:
        active = self.filter.active()
        return ', '.join(f'{k}: {v}' for k, v in active.items()) or 'every event'


_COLUMNS = """s.id, s.name, s.destination, s.format, s.filter, s.digest_minutes, s.state, s.position, s.generation,
              s.secret, s.delivered, s.failures, s.last_success, s.last_error, s.last_error_at, s.next_retry,
              s.last_sent, s.lease_owner, s.lease_expires, s.created_at, s.created_by"""
_COUNT = _COLUMNS.count(',') + 1


def _select(where: str) -> str:
    """The streams with their progress (store/streams/progress.py), as `_stream` reads them."""
    return f'SELECT {_COLUMNS}, {progress.columns()} FROM stream s {progress.joined()} {where}'


def _stream(row: tuple) -> Stream:
    """A stream as it is now: its own row, with the position and counts its progress row adds."""
    values = list(row[:_COUNT])
    values[4] = filter_from_json(values[4])
    stream = Stream(*values)
    kept = progress.from_row(row[_COUNT:])
    if not kept.counts_for(stream.created_at):
        return stream
    position = kept.position_for(stream.created_at, stream.generation)
    return replace(stream, position=stream.position if position is None else max(position, stream.position),
                   delivered=stream.delivered + kept.delivered,
                   last_success=_latest(stream.last_success, kept.last_success),
                   last_sent=_latest(stream.last_sent, kept.last_sent))


def _latest(a: int | None, b: int | None) -> int | None:
    return max(a, b) if a is not None and b is not None else (a if b is None else b)


def filter_to_json(flt: EventFilter) -> str:
    return json.dumps({name: getattr(flt, name) for name in FILTER_FIELDS if getattr(flt, name)}, sort_keys=True)


def filter_from_json(text: str) -> EventFilter:
    stored = json.loads(text or '{}')
    return EventFilter(**{name: stored[name] for name in FILTER_FIELDS if stored.get(name)})


def check_filter(flt: EventFilter) -> EventFilter:
    """The page's filter without a time range (a stream has none: it follows new events); checked like export's."""
    if flt.scope and flt.scope not in taxonomy.SCOPES:
        raise StoreError(f'scope {flt.scope!r} is not one of {", ".join(taxonomy.SCOPES)}')
    if flt.category:
        known = taxonomy.categories(flt.scope) if flt.scope else taxonomy.all_categories()
        if flt.category not in known:
            raise StoreError(f'category {flt.category!r} is not a category of {flt.scope or "any scope"}')
    if flt.status and flt.status not in ('SUCCESS', 'FAILED'):
        raise StoreError(f'status {flt.status!r} must be SUCCESS or FAILED')
    return replace(flt, search=(flt.search or '').strip(), since=None, until=None)


def check_name(name: str) -> str:
    name = (name or '').strip()
    if not name:
        raise StoreError('a stream needs a name')
    if len(name) > MAX_NAME or any(ch < ' ' for ch in name):
        raise StoreError(f'a stream name is at most {MAX_NAME} printable characters')
    return name


def check_format(destination: Destination, fmt: str | None, digest_minutes: int) -> str:
    allowed = FORMATS[destination.kind]
    fmt = fmt or allowed[0]
    if fmt not in allowed:
        raise StoreError(f'--format {fmt}: a {destination.kind} destination takes {", ".join(allowed)}')
    if digest_minutes and fmt != 'slack':
        raise StoreError('--digest is for chat alerts (--format slack) only')
    if not 0 <= digest_minutes <= MAX_DIGEST_MINUTES:
        raise StoreError(f'--digest is 1 to {MAX_DIGEST_MINUTES} minutes')
    return fmt


def start_position(flt: EventFilter, since: datetime | None) -> int:
    """Where a new or replayed stream starts: before the first matching event at or after `since`; without a
    time, after the newest stored event (the stream delivers what arrives from now on)."""
    head = chain.head()[0]
    if since is None:
        return head
    first = first_position(Viewer.organization('stream'), replace(flt, since=since))
    return head if first is None else first - 1


def create_stream(name: str, to: str, fmt: str | None, flt: EventFilter, created_by: str, *,
                  digest_minutes: int = 0, since: datetime | None = None) -> tuple[Stream, str | None]:
    """Create a stream; returns it and the webhook's signing secret (shown once), None for other destinations."""
    name = check_name(name)
    destination = parse_destination(to)
    fmt = check_format(destination, fmt, digest_minutes)
    flt = check_filter(flt)
    secret = secrets.token_urlsafe(32) if destination.kind == 'webhook' else None
    with write_transaction():
        if database.execute_sql('SELECT 1 FROM stream WHERE name = ?', (name,)).fetchone():
            raise StoreError(f'a stream named {name!r} exists already')
        stream_id = insert_id(
            'INSERT INTO stream (name, destination, format, filter, digest_minutes, state, position, secret, '
            'created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            (name, destination.url, fmt, filter_to_json(flt), digest_minutes, 'active', start_position(flt, since),
             secret, now_millis(), created_by))
        _record(created_by, 'Create Stream', name,
                f'Created stream {name} to {_shown(destination)} ({fmt}) for {_filter_words(flt)}',
                {'destination': _shown(destination), 'format': fmt, 'filter': flt.active(),
                 'digest_minutes': digest_minutes, 'since': since.isoformat() if since else None})
    return found(get_stream_by_id(stream_id), f'stream {name}'), secret


def list_streams() -> list[Stream]:
    return [_stream(row) for row in database.execute_sql(_select('ORDER BY s.name'))]


def get_stream(name: str) -> Stream:
    row = database.execute_sql(_select('WHERE s.name = ?'), (name,)).fetchone()
    if row is None:
        raise StoreError(f'no stream named {name!r}')
    return _stream(row)


def get_stream_by_id(stream_id: int) -> Stream | None:
    row = database.execute_sql(_select('WHERE s.id = ?'), (stream_id,)).fetchone()
    return _stream(row) if row else None


def pause_stream(name: str, by: str) -> Stream:
    return _set_state(name, 'paused', by, 'Pause Stream', 'Paused')


def resume_stream(name: str, by: str) -> Stream:
    return _set_state(name, 'active', by, 'Resume Stream', 'Resumed')


def _set_state(name: str, state: str, by: str, action: str, verb: str) -> Stream:
    """Pause or resume; like a change, it starts a new generation from the position delivered so far, which the
    stream's own row takes over from its progress row (store/streams/progress.py)."""
    with write_transaction():
        stream = get_stream(name)
        database.execute_sql(
            'UPDATE stream SET state = ?, generation = generation + 1, failures = 0, next_retry = NULL, position = ? '
            'WHERE id = ?', (state, stream.position, stream.id))
        _record(by, action, name, f'{verb} stream {name}')
    return get_stream(name)


def replay_stream(name: str, since: datetime, by: str) -> Stream:
    """Resend the stream's events from `since` on (for a new SIEM): its position moves back."""
    with write_transaction():
        stream = get_stream(name)
        position = start_position(stream.filter, since)
        database.execute_sql('UPDATE stream SET position = ?, generation = generation + 1, next_retry = NULL '
                             'WHERE id = ?', (position, stream.id))
        _record(by, 'Replay Stream', name, f'Replayed stream {name} from {since.isoformat()}',
                {'since': since.isoformat(), 'position': position, 'previous_position': stream.position})
    return get_stream(name)


def change_stream(name: str, by: str, *, to: str | None = None, fmt: str | None = None,
                  flt: EventFilter | None = None, digest_minutes: int | None = None) -> Stream:
    """Change a stream's destination, format, filter or digest; its position stays."""
    with write_transaction():
        stream = get_stream(name)
        destination = parse_destination(to) if to is not None else stream.target
        digest = stream.digest_minutes if digest_minutes is None else digest_minutes
        new_fmt = check_format(destination, fmt or (stream.format if to is None else None), digest)
        new_flt = check_filter(flt) if flt is not None else stream.filter
        secret = (stream.secret or secrets.token_urlsafe(32)) if destination.kind == 'webhook' else None
        database.execute_sql(
            'UPDATE stream SET destination = ?, format = ?, filter = ?, digest_minutes = ?, secret = ?, '
            'generation = generation + 1, position = ? WHERE id = ?',
            (destination.url, new_fmt, filter_to_json(new_flt), digest, secret, stream.position, stream.id))
        _record(by, 'Change Stream', name,
                f'Changed stream {name}: to {_shown(destination)} ({new_fmt}) for {_filter_words(new_flt)}',
                {'destination': _shown(destination), 'format': new_fmt, 'filter': new_flt.active(),
                 'digest_minutes': digest})
    return get_stream(name)


def new_secret(before: Stream, after: Stream) -> str | None:
    """The signing secret a change made (a new webhook destination), to be shown once; None when it kept its own."""
    return after.secret if after.secret and after.secret != before.secret else None


def remove_stream(name: str, by: str) -> None:
    """Remove a stream; the events recording its history stay in the log."""
    with write_transaction():
        stream = get_stream(name)
        database.execute_sql('DELETE FROM stream WHERE id = ?', (stream.id,))
        progress.forget(stream.id)
        _record(by, 'Remove Stream', name, f'Removed stream {name} (to {_shown(stream.target)})',
                {'delivered': stream.delivered, 'position': stream.position})


@dataclass(frozen=True)
class Lag:
    events: int  # matching events stored after the stream's position
    seconds: float  # age of the oldest of them (0 when none)

    def __str__(self) -> str:
        return f'{self.events:,} {"event" if self.events == 1 else "events"}, {self.seconds:,.0f} s'


def lag(stream: Stream) -> Lag:
    head = chain.head()[0]
    waiting = count_after(stream.viewer(), stream.filter, stream.position, head)
    if not waiting:
        return Lag(0, 0.0)
    oldest = events_after(stream.viewer(), stream.filter, stream.position, 1, head)
    seconds = (now_millis() - to_millis(oldest[0]['timestamp'])) / 1000 if oldest else 0.0
    return Lag(waiting, max(0.0, seconds))


def _shown(destination: Destination) -> str:
    """The destination as recorded in the log and listed: a URL without its query, user or password (they may
    hold a token, as a chat webhook's path does: only its host is shown for those)."""
    parsed = urlparse(destination.url)
    if destination.kind == 'file':
        return destination.url
    if destination.kind == 'webhook':
        return f'{parsed.scheme}://{parsed.hostname}{f":{parsed.port}" if parsed.port else ""}/…'
    return f'{parsed.scheme}://{parsed.hostname}:{parsed.port}'


def shown_destination(stream: Stream) -> str:
    return _shown(stream.target)


def _filter_words(flt: EventFilter) -> str:
    active = flt.active()
    return ', '.join(f'{k} {v}' for k, v in active.items()) if active else 'every event'


def _record(by: str, action: str, name: str, description: str, metadata: dict[str, Any] | None = None) -> None:
    self_audit.record(by if '@' in by else 'system', action, name, description, scope=AUDIT_SCOPE,
                      category=AUDIT_CATEGORY, metadata=metadata)
