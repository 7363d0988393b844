"""The one ingestion path: validation names the field, ids make retries safe, workspaces appear on first use."""

import uuid
from datetime import UTC, datetime

import pytest

from store.ledger.chain import verify
from store.ledger.validation import ValidationError, validate_event
from store.read.events import EventFilter, Viewer, count_events, find_events, workspace_names
from store.write.ingest import append_events, time_ordered_id
from tests.conftest import event

ORG = Viewer.organization()


@pytest.mark.parametrize(('change', 'field', 'message'), [
    ({'user': None}, 'user', 'is required'),
    ({'action': '  '}, 'action', 'is required'),
    ({'scope': None}, 'scope', 'is required'),
    ({'scope': 'Galaxy'}, 'scope', 'is not one of'),
    ({'scope': 'Billing', 'category': 'Member'}, 'category', 'is not a category of Billing'),
    ({'status': 'OK'}, 'status', 'must be SUCCESS or FAILED'),
    ({'timestamp': 'yesterday'}, 'timestamp', 'is not an ISO 8601 timestamp'),
    ({'timestamp': 12345}, 'timestamp', 'ISO 8601'),
    ({'user': 42}, 'user', 'must be a string'),
    ({'description': 'x' * 4001}, 'description', 'longer than 4000'),
    ({'target': ['a']}, 'target', 'must be a string'),
    ({'metadata': [1, 2]}, 'metadata', 'must be a JSON object'),
    ({'metadata': '{bad json'}, 'metadata', 'not valid JSON'),
    ({'metadata': {'x': 'y' * 20000}}, 'metadata', 'larger than 16 KiB'),
    ({'colour': 'red'}, 'colour', 'is not a field'),
    ({'description': 'cut\x00here'}, 'description', 'control character U+0000'),
    ({'metadata': {'x': '\ud800'}}, 'metadata', 'unpaired surrogate'),
    ({'target': 'bell\x07'}, 'target', 'control character U+0007'),
    ({'target': '\x1fedge'}, 'target', 'control character U+001F'),  # as sent, before spaces are stripped
    ({'status': ''}, 'status', 'must be SUCCESS or FAILED'),
    ({'timestamp': ''}, 'timestamp', 'ISO 8601'),
    ({'timestamp': '9999-12-31T23:00:00-05:00'}, 'timestamp', 'after the year 9999'),
    ({'user': ' ' * 321}, 'user', 'longer than 320'),
    ({'user': 'a\x1fb@acme.io'}, 'user', 'control character U+001F'),
])
def test_validation_names_the_bad_field(change, field, message):
    with pytest.raises(ValidationError) as caught:
        validate_event(event(**change))
    assert caught.value.field == field
    assert message in caught.value.message


def test_tabs_and_newlines_are_kept():
    assert validate_event(event(description='line one\nline\ttwo\r\nthree')).description == \
        'line one\nline\ttwo\r\nthree'


def test_a_missing_field_is_reported_even_when_passed_as_null():
    raw = event()
    raw['user'] = None
    with pytest.raises(ValidationError, match='user: is required'):
        validate_event(raw)


def test_not_an_object():
    with pytest.raises(ValidationError, match='event: must be a JSON object'):
        validate_event(['user'])


def test_timestamps_without_a_zone_are_utc_and_offsets_are_converted():
    assert validate_event(event(timestamp='2026-10-01T08:00:00')).timestamp == datetime(2026, 10, 1, 8, tzinfo=UTC)
    assert validate_event(event(timestamp='2026-10-01T08:00:00+02:00')).timestamp == \
        datetime(2026, 10, 1, 6, tzinfo=UTC)
    assert validate_event(event(timestamp='2026-10-01 08:00:00Z')).timestamp == datetime(2026, 10, 1, 8, tzinfo=UTC)


def test_a_missing_timestamp_is_the_time_received():
    before = datetime.now(UTC).replace(microsecond=0)
    raw = event()
    del raw['timestamp']
    assert validate_event(raw).timestamp >= before


def test_defaults_and_extra_categories(tmp_path):
    from store.ledger import taxonomy

    raw = event()
    del raw['status']
    assert validate_event(raw).status == 'SUCCESS'
    path = tmp_path / 'taxonomy.json'
    path.write_text('{"Service": ["Batch Job"]}')
    taxonomy.load_extra_categories(str(path))
    try:
        assert validate_event(event(category='Batch Job')).category == 'Batch Job'
        assert taxonomy.categories('Service')[-1] == 'Batch Job'
    finally:
        taxonomy.load_extra_categories('')
    with pytest.raises(ValidationError):
        validate_event(event(category='Batch Job'))


def test_bad_taxonomy_files_are_clear_errors(tmp_path):
    from store.engine.db import StoreError
    from store.ledger import taxonomy

    path = tmp_path / 't.json'
    for text, message in (('{"Galaxy": ["x"]}', 'unknown scope'), ('[1]', 'expected an object'),
                          ('{"Service": "x"}', 'must list'), ('{', 'cannot read')):
        path.write_text(text)
        with pytest.raises(StoreError, match=message):
            taxonomy.load_extra_categories(str(path))
    taxonomy.load_extra_categories('')


def test_ids_make_retries_safe(add_events):
    first = add_events(event(id='a'), event(id='b'))
    again = add_events(event(id='a'), event(id='b'), event(id='c'), event(id='c'))
    assert (first.stored, first.duplicates) == (2, 0)
    assert (again.stored, again.duplicates) == (1, 3)
    assert again.ids == ['a', 'b', 'c', 'c']
    assert count_events(ORG, EventFilter()) == 3


def test_generated_ids_are_unique(add_events):
    result = add_events(event(), event())
    assert len(set(result.ids)) == 2
    assert [uuid.UUID(text).version for text in result.ids] == [7, 7]


def test_generated_ids_are_version_7_uuids_in_time_order():
    earlier = [time_ordered_id(1_790_000_000_000) for _ in range(200)]
    later = time_ordered_id(1_790_000_000_001)
    assert len(set(earlier)) == 200
    for text in (*earlier, later):
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert all(text[:8] + text[9:13] == format(1_790_000_000_000, '012x') for text in earlier)
    assert max(earlier) < later  # the milliseconds lead: a later id sorts after every earlier one


def test_workspaces_are_created_on_first_use(add_events):
    add_events(event(workspace='gamma'), event(workspace='gamma'), event(workspace=None))
    assert workspace_names() == ['gamma']


def test_a_failing_batch_stores_nothing(add_events):
    good = validate_event(event(id='good'))

    def events():
        yield good
        raise ValidationError('scope', 'boom', 1)

    with pytest.raises(ValidationError):
        append_events(events())
    assert count_events(ORG, EventFilter()) == 0
    assert verify().ok


def test_chain_is_valid_after_many_appends(add_events):
    for i in range(5):
        add_events(*[event(id=f'{i}-{j}') for j in range(30)])
    report = verify()
    assert report.ok and report.checked == 150
    assert len({e['hash'] for e in find_events(ORG, EventFilter(), limit=200).events}) == 150
