"""The API's limits and the parts of its OpenAPI description that state them.

Every rule the server applies to a request is stated in /openapi.json, built here from the same
constants the checks use (store.validation for events, the taxonomy, the API's bounds below), so a
client generated from the schema sends only requests the server accepts, and the schema cannot drift
from the rules. The taxonomy is read when the schema is built: an installation's extra categories
(AUDIT_TAXONOMY_FILE) are in it.
"""

from __future__ import annotations

import re
from typing import Any

from store.ledger import taxonomy
from store.ledger.validation import CONTROL_CLASS, MAX_LENGTH, MAX_METADATA_BYTES, REQUIRED, STATUSES, TIMESTAMP_PATTERN

MAX_BODY = 1024 * 1024
MAX_BATCH = 1000
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_SEARCH = 200
CURSOR_PATTERN = '^[0-9a-f]{24}$'  # see ui.api.parsing.encode_cursor

# Texts: no control character but tab, line feed and carriage return; a required one holds more than spaces.
TEXT_PATTERN = f'^[^{CONTROL_CLASS}]*$'
FILLED_TEXT_PATTERN = f'^[^{CONTROL_CLASS}]*[^\\s{CONTROL_CLASS}][^{CONTROL_CLASS}]*$'
NUMBER = re.compile('[0-9]+')  # ASCII digits only: str.isdigit() also takes '²', which int() refuses

JSON = dict[str, Any]
NULL: JSON = {'type': 'null'}

_FIELD_TEXT = {
    'id': 'Your unique id: a retry with the same id is not stored twice. Default: a generated UUID version 7.',
    'user': "The actor's email, or `system`.",
    'action': 'What was done, e.g. `Stop Notebook`.',
    'target': "The affected resource's name or id.",
    'description': 'A human-readable summary.',
    'workspace': 'The workspace it belongs to; empty or null for organization-wide events. A workspace token '
                 'must name its own workspace.',
}


def timestamp_schema(description: str) -> JSON:
    return {'type': 'string', 'format': 'date-time', 'pattern': TIMESTAMP_PATTERN,
            'examples': ['2026-10-01T08:00:00Z'], 'description': description}


def text_schema(field: str) -> JSON:
    """An event's text field: its length limit and the characters it may hold."""
    required = field in REQUIRED
    schema = {'type': 'string', 'maxLength': MAX_LENGTH[field],
              'pattern': FILLED_TEXT_PATTERN if required else TEXT_PATTERN,
              'description': f'{_FIELD_TEXT[field]} At most {MAX_LENGTH[field]:,} characters'
                             f'{", not only spaces" if required else ""}; no control characters but tab and '
                             'line breaks.'}
    return schema if required else {'anyOf': [schema, NULL]}


def event_schema() -> JSON:
    """One event to append, as validate_event checks it; the category depends on the scope."""
    scopes = taxonomy.taxonomy()
    properties: JSON = {
        'id': text_schema('id'),
        'timestamp': {'anyOf': [timestamp_schema('When it happened; default: when it is received. Refused '
                                                 'before 1970-01-01T00:00:00Z.'), NULL]},
        'user': text_schema('user'),
        'scope': {'type': 'string', 'enum': list(scopes)},
        'category': {'type': 'string', 'enum': taxonomy.all_categories(),
                     'description': "One of the scope's categories (GET /api/v1/taxonomy)."},
        'action': text_schema('action'),
        'target': text_schema('target'),
        'status': {'anyOf': [{'type': 'string', 'enum': list(STATUSES)}, NULL],
                   'description': 'Default: SUCCESS.'},
        'description': text_schema('description'),
        'workspace': text_schema('workspace'),
        'metadata': {'anyOf': [{'type': 'object', 'x-max-bytes': MAX_METADATA_BYTES}, NULL],
                     'description': f'Any JSON object of at most {MAX_METADATA_BYTES // 1024} KiB '
                                    f'({MAX_METADATA_BYTES:,} bytes as UTF-8 JSON).'},
    }
    return {
        'type': 'object', 'title': 'Event', 'description': 'One event to append. Unknown fields are refused.',
        'required': list(REQUIRED), 'additionalProperties': False, 'properties': properties,
        'oneOf': [{'title': f'{scope} event', 'properties': {
            'scope': {'const': scope}, 'category': {'enum': list(categories)}}}
            for scope, categories in scopes.items()],
    }


def body_schema() -> JSON:
    event = event_schema()
    return {'oneOf': [event, {
        'type': 'object', 'title': 'Batch', 'required': ['events'], 'additionalProperties': False,
        'properties': {'events': {'type': 'array', 'items': event, 'minItems': 1, 'maxItems': MAX_BATCH}},
    }], 'description': f'One event, or `{{"events": [...]}}` with 1 to {MAX_BATCH:,}; the body is at most '
                       f'{MAX_BODY:,} bytes (1 MiB).'}


def _query(name: str, schema: JSON, description: str) -> JSON:
    return {'name': name, 'in': 'query', 'required': False, 'schema': schema, 'description': description}


def event_parameters() -> list[JSON]:
    """The filters of GET /api/v1/events, each with the rule build_filter and read_page apply."""
    text = {'type': 'string', 'pattern': TEXT_PATTERN}
    return [
        _query('search', {**text, 'maxLength': MAX_SEARCH},
               f'Words in user, action, target, description, scope or category (case-insensitive substring); '
               f'at most {MAX_SEARCH} characters.'),
        _query('scope', {'type': 'string', 'enum': list(taxonomy.SCOPES)}, 'One scope.'),
        _query('category', {'type': 'string', 'enum': taxonomy.all_categories()},
               "One category; with a scope, a category of another scope matches nothing."),
        _query('status', {'type': 'string', 'enum': list(STATUSES)}, 'SUCCESS or FAILED.'),
        _query('user', text, "The actor's email, exactly."),
        _query('workspace', text, "One workspace; a workspace token may name only its own."),
        _query('since', timestamp_schema('Events at or after it.'), 'Events at or after it.'),
        _query('until', timestamp_schema('Events before it.'), 'Events before it.'),
        _query('cursor', {'type': 'string', 'pattern': CURSOR_PATTERN},
               'Opaque: `next_cursor` of the previous page, passed back unchanged.'),
        _query('limit', {'type': 'integer', 'minimum': 1, 'maximum': MAX_LIMIT, 'default': DEFAULT_LIMIT},
               f'Events per page, 1 to {MAX_LIMIT:,} (default {DEFAULT_LIMIT}).'),
    ]


def document(openapi: JSON, events_path: str) -> JSON:
    """Put the rules into FastAPI's generated description of `events_path` (its GET and POST)."""
    operations = openapi['paths'][events_path]
    operations['get']['parameters'] = event_parameters()
    operations['post']['requestBody'] = {'required': True, 'content': {'application/json': {
        'schema': body_schema()}}}
    return openapi
