"""How a stream renders events: the API's event JSON, OCSF 1.1, CEF, RFC 5424 syslog and Slack-style chat text.

Every delivered event carries its `position` (storage order), its chain `hash` and `previous_position`, the
position of the event delivered before it on the same stream, so a receiver sees a gap even in a filtered stream.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC
from typing import Any

import orjson

from store.engine.timefmt import to_millis
from store.read.events import event_json

PRODUCT, VENDOR, VERSION = 'Audit Logs', 'Audit Logs', '1.0'
OCSF_VERSION = '1.1.0'
SD_ID = 'audit@32473'  # 32473: the private enterprise number RFC 5612 reserves for documentation and examples
FACILITY_LOG_AUDIT = 13
SEVERITY = {'SUCCESS': 6, 'FAILED': 4}  # syslog: informational, warning
DIGEST_LISTED = 5  # events listed by name in a digest message


def delivered_json(event: dict[str, Any], previous: int) -> dict[str, Any]:
    """The API's event JSON plus its `position` and the `previous_position` delivered on the stream."""
    return {**event_json(event), 'position': event['seq'], 'previous_position': previous}


# ---- OCSF 1.1 ----
# Each scope/category is one OCSF class; the action's first word picks the activity (README, "OCSF mapping").
ACCOUNT_CHANGE, ENTITY_MANAGEMENT, USER_ACCESS, API_ACTIVITY = 3001, 3004, 3005, 6003
OCSF_CLASSES = {
    ACCOUNT_CHANGE: ('Account Change', 3, 'Identity & Access Management'),
    ENTITY_MANAGEMENT: ('Entity Management', 3, 'Identity & Access Management'),
    USER_ACCESS: ('User Access Management', 3, 'Identity & Access Management'),
    API_ACTIVITY: ('API Activity', 6, 'Application Activity'),
}
OCSF_CLASS_OF = {
    ('Organization', 'Member'): ACCOUNT_CHANGE, ('Workspace', 'Member'): ACCOUNT_CHANGE,
    ('Organization', 'Policy'): USER_ACCESS,
    ('Organization', 'Workspace'): ENTITY_MANAGEMENT, ('Workspace', 'Settings'): ENTITY_MANAGEMENT,
    ('Workspace', 'GPU Quota'): ENTITY_MANAGEMENT, ('Billing', 'Credit'): ENTITY_MANAGEMENT,
    ('Billing', 'Payment'): ENTITY_MANAGEMENT, ('Billing', 'Plan'): ENTITY_MANAGEMENT,
    ('Billing', 'Voucher'): ENTITY_MANAGEMENT,
    ('Service', 'AI Notebook'): API_ACTIVITY, ('Service', 'GPU Container'): API_ACTIVITY,
    ('Service', 'AI Inference'): API_ACTIVITY,
}
# Activity ids by the action's first word, per class (99: Other). Any other category is Entity Management.
OCSF_ACTIVITIES = {
    ACCOUNT_CHANGE: {'create': (1, 'Create'), 'add': (1, 'Create'), 'invite': (1, 'Create'),
                     'enable': (2, 'Enable'), 'reset': (4, 'Password Reset'), 'disable': (5, 'Disable'),
                     'delete': (6, 'Delete'), 'remove': (6, 'Delete')},
    USER_ACCESS: {'attach': (1, 'Assign Privileges'), 'assign': (1, 'Assign Privileges'),
                  'grant': (1, 'Assign Privileges'), 'detach': (2, 'Revoke Privileges'),
                  'revoke': (2, 'Revoke Privileges')},
    ENTITY_MANAGEMENT: {'create': (1, 'Create'), 'add': (1, 'Create'), 'read': (2, 'Read'), 'view': (2, 'Read'),
                        'update': (3, 'Update'), 'change': (3, 'Update'), 'set': (3, 'Update'),
                        'edit': (3, 'Update'), 'delete': (4, 'Delete'), 'remove': (4, 'Delete')},
    API_ACTIVITY: {'create': (1, 'Create'), 'start': (1, 'Create'), 'launch': (1, 'Create'),
                   'deploy': (1, 'Create'), 'read': (2, 'Read'), 'update': (3, 'Update'), 'scale': (3, 'Update'),
                   'restart': (3, 'Update'), 'stop': (4, 'Delete'), 'delete': (4, 'Delete'),
                   'terminate': (4, 'Delete')},
}


def ocsf_class(scope: str, category: str, action: str) -> tuple[int, int, str]:
    """The OCSF class uid, activity id and activity name of an event."""
    class_uid = OCSF_CLASS_OF.get((scope, category), ENTITY_MANAGEMENT)
    first = action.split(' ', 1)[0].lower() if action else ''
    activity_id, activity = OCSF_ACTIVITIES[class_uid].get(first, (99, 'Other'))
    return class_uid, activity_id, activity


def ocsf_json(event: dict[str, Any], previous: int) -> dict[str, Any]:
    """An OCSF 1.1 event of the class the scope/category maps to."""
    class_uid, activity_id, activity = ocsf_class(event['scope'], event['category'], event['action'])
    class_name, category_uid, category_name = OCSF_CLASSES[class_uid]
    failed = event['status'] == 'FAILED'
    user = event['user']
    return {
        'class_uid': class_uid, 'class_name': class_name, 'category_uid': category_uid,
        'category_name': category_name, 'activity_id': activity_id, 'activity_name': activity,
        'type_uid': class_uid * 100 + activity_id, 'type_name': f'{class_name}: {activity}',
        'time': to_millis(event['timestamp']), 'severity_id': 3 if failed else 1,
        'severity': 'Medium' if failed else 'Informational',
        'status_id': 2 if failed else 1, 'status': 'Failure' if failed else 'Success',
        'message': event['description'],
        'metadata': {'version': OCSF_VERSION, 'uid': event['id'], 'sequence': event['seq'],
                     'product': {'name': PRODUCT, 'vendor_name': VENDOR, 'version': VERSION},
                     'log_name': f'{event["scope"]}/{event["category"]}'},
        'actor': {'user': {'name': user, **({'email_addr': user} if '@' in user else {}), 'type': (
            'System' if user == 'system' else 'User')}},
        'api': {'operation': event['action']},
        'resources': [{'name': event['target'], 'type': event['category'],
                       **({'group': {'name': event['workspace']}} if event['workspace'] else {})}],
        'unmapped': {'id': event['id'], 'scope': event['scope'], 'category': event['category'],
                     'workspace': event['workspace'], 'metadata': event['metadata'], 'hash': event['hash'],
                     'position': event['seq'], 'previous_position': previous},
    }


def render_json(event: dict[str, Any], previous: int, fmt: str) -> dict[str, Any]:
    """The event as a JSON object in a webhook's, a file's or a syslog message's format (json or ocsf)."""
    return ocsf_json(event, previous) if fmt == 'ocsf' else delivered_json(event, previous)


def webhook_body(events: list[dict[str, Any]]) -> bytes:
    """Compact UTF-8 JSON; orjson encodes it about five times faster than the standard library (measured: 500
    events in 1.3 ms against 6.6 ms), the larger part of a batch's cost."""
    try:
        return orjson.dumps({'events': events})
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits in an event's metadata
        return json.dumps({'events': events}, ensure_ascii=False, separators=(',', ':')).encode()


def signature(secret: str, body: bytes) -> str:
    """The `X-Audit-Signature` header's value: HMAC-SHA256 of the raw body under the stream's secret."""
    return 'sha256=' + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def json_line(obj: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits in an event's metadata
        return json.dumps(obj, ensure_ascii=False, separators=(',', ':')).encode() + b'\n'


# ---- CEF (ArcSight Common Event Format) ----

def _cef_header(text: str) -> str:
    return str(text).replace('\\', '\\\\').replace('|', '\\|').replace('\r', ' ').replace('\n', ' ')


def _cef_value(text: Any) -> str:
    return (str(text).replace('\\', '\\\\').replace('=', '\\=').replace('\r', '\\r').replace('\n', '\\n'))


def cef(event: dict[str, Any], previous: int) -> str:
    """`CEF:0|Vendor|Product|Version|Scope/Category|Action|Severity|key=value ...`"""
    severity = 7 if event['status'] == 'FAILED' else 3
    extension = {
        'rt': to_millis(event['timestamp']), 'suser': event['user'], 'act': event['action'],
        'outcome': event['status'], 'msg': event['description'], 'cs1Label': 'target', 'cs1': event['target'],
        'cs2Label': 'workspace', 'cs2': event['workspace'] or '', 'cs3Label': 'hash', 'cs3': event['hash'],
        'cn1Label': 'position', 'cn1': event['seq'], 'cn2Label': 'previous_position', 'cn2': previous,
        'externalId': event['id'], 'cat': f'{event["scope"]}/{event["category"]}',
    }
    header = '|'.join(_cef_header(part) for part in (
        VENDOR, PRODUCT, VERSION, f'{event["scope"]}/{event["category"]}', event['action'], str(severity)))
    return f'CEF:0|{header}|' + ' '.join(f'{key}={_cef_value(value)}' for key, value in extension.items())


# ---- syslog (RFC 5424, octet-counted framing of RFC 6587) ----

def _sd_value(text: Any) -> str:
    return str(text).replace('\\', '\\\\').replace('"', '\\"').replace(']', '\\]')


def _header_field(text: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, or the nil value."""
    cleaned = ''.join(ch for ch in text if '!' <= ch <= '~')[:limit]
    return cleaned or '-'


def syslog_message(event: dict[str, Any], previous: int, fmt: str, hostname: str) -> bytes:
    """One RFC 5424 message: the fields as structured data, the event (JSON, OCSF or CEF) as its MSG."""
    pri = FACILITY_LOG_AUDIT * 8 + SEVERITY.get(event['status'], 6)
    moment = event['timestamp'].astimezone(UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')
    fields = {'id': event['id'], 'position': event['seq'], 'previous_position': previous, 'hash': event['hash'],
              'user': event['user'], 'scope': event['scope'], 'category': event['category'],
              'action': event['action'], 'target': event['target'], 'status': event['status'],
              'workspace': event['workspace'] or ''}
    data = '[' + SD_ID + ''.join(f' {key}="{_sd_value(value)}"' for key, value in fields.items()) + ']'
    if fmt == 'cef':
        body = cef(event, previous).encode()
    else:
        body = b'\xef\xbb\xbf' + json.dumps(render_json(event, previous, fmt), ensure_ascii=False,
                                            separators=(',', ':')).encode()
    msgid = _header_field(f'{event["scope"]}/{event["category"]}'.replace(' ', '_'), 32)
    head = f'<{pri}>1 {moment} {_header_field(hostname, 255)} audit-logs - {msgid} {data} '
    return head.encode() + body


def octet_counted(message: bytes) -> bytes:
    return str(len(message)).encode() + b' ' + message


# ---- chat alerts (Slack-compatible incoming webhook: {"text": ...}) ----

def _mrkdwn(text: str) -> str:
    """Slack's required escapes in message text: &, < and >."""
    return str(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def event_link(event_id: str, base: str) -> str:
    return f'{base.rstrip("/")}/audit-logs?event={event_id}'


def _line(event: dict[str, Any], base: str) -> str:
    status = '*FAILED*' if event['status'] == 'FAILED' else 'SUCCESS'
    who = _mrkdwn(event['user'])
    what = _mrkdwn(f'{event["action"]} {event["target"]}'.strip())
    where = f' in {_mrkdwn(event["workspace"])}' if event['workspace'] else ''
    return (f'{status} {_mrkdwn(event["scope"])} / {_mrkdwn(event["category"])}: {who} {what}{where} '
            f'<{event_link(event["id"], base)}|open>')


def slack_event(event: dict[str, Any], base: str) -> dict[str, str]:
    """One message for one event: who, what, status and a link to the event's page."""
    return {'text': f'{_line(event, base)}\n{_mrkdwn(event["description"])}'}


def slack_digest(events: list[dict[str, Any]], count: int, minutes: int, stream: str, base: str) -> dict[str, str]:
    """One message for every event of a digest period: the count and the first events."""
    noun = 'event' if count == 1 else 'events'
    lines = [f'{count:,} {noun} on stream {_mrkdwn(stream)} in the last {minutes} min'
             f'{"; the first " + str(len(events)) if count > len(events) else ""}:']
    lines += [f'• {_line(event, base)}' for event in events]
    return {'text': '\n'.join(lines)}
