"""A stream's progress kept apart from its row (store/streams/progress.py): a catch-up's positions leave the
events' file alone on SQLite, and a progress row that is not its stream's any more is ignored."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from store.engine.db import database
from store.read.events import EventFilter
from store.streams import delivery as stream_delivery
from store.streams import progress
from store.streams import registry as streams
from store.streams.delivery import release_lease, take_lease
from tests.conftest import event, raw_sql

OWNER = 'instance-a'


def file_stream(tmp_path: Path) -> tuple[streams.Stream, Path]:
    copy = tmp_path / 'copy.jsonl'
    stream, _ = streams.create_stream('copy', f'file://{copy}', None, EventFilter(scope='Service'), 'owner@acme.io')
    return stream, copy


def deliver_batches(stream_id: int, batches: int, take: bool = True) -> None:
    """Deliver `batches` batches as the delivering thread does, the lease taken first unless `take` is off."""
    assert not take or take_lease(stream_id, OWNER)
    loop = stream_delivery._StreamLoop(stream_id, OWNER, threading.Event())
    try:
        for _ in range(batches):
            stream = streams.get_stream_by_id(stream_id)
            assert stream is not None
            loop.step(stream)
    finally:
        loop._close()


def delivered_ids(copy: Path) -> list[str]:
    return [json.loads(line)['id'] for line in copy.read_text().splitlines()]


def own_row_position(stream_id: int) -> int:
    return raw_sql('SELECT position FROM stream WHERE id = ?', (stream_id,))[0][0]


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_delivery, 'BATCH', 10)


@pytest.mark.sqlite_only('the files SQLite keeps')
def test_a_catch_up_commits_its_positions_to_the_progress_file_not_the_events_file(
        add_events, small_batches, tmp_path: Path, database_url: str) -> None:
    stream, copy = file_stream(tmp_path)
    add_events(*[event(id=f'ev-{i:02d}') for i in range(30)])
    assert take_lease(stream.id, OWNER)
    path = database_url.removeprefix('sqlite:///')
    observer = sqlite3.connect(path)
    observer.execute('ATTACH DATABASE ? AS streams', (str(progress.path_for(path)),))
    def versions() -> tuple[int, int]:
        return (observer.execute('PRAGMA main.data_version').fetchone()[0],
                observer.execute('PRAGMA streams.data_version').fetchone()[0])
    before = versions()
    deliver_batches(stream.id, 3, take=False)
    after = versions()
    observer.close()
    assert delivered_ids(copy) == [f'ev-{i:02d}' for i in range(30)]
    assert after[0] == before[0], 'three acknowledged batches committed to the events\' file'
    assert after[1] != before[1], 'the positions were not committed to the progress file'
    assert streams.get_stream('copy').position == raw_sql("SELECT seq FROM event WHERE uid = 'ev-29'")[0][0]


def test_the_position_and_counts_come_from_the_progress_row_and_renewing_the_lease_keeps_them(
        add_events, small_batches, tmp_path: Path) -> None:
    stream, copy = file_stream(tmp_path)
    add_events(*[event(id=f'ev-{i:02d}') for i in range(30)])
    deliver_batches(stream.id, 3)
    last = raw_sql("SELECT seq FROM event WHERE uid = 'ev-29'")[0][0]
    now = streams.get_stream('copy')
    assert (now.position, now.delivered, now.state) == (last, 30, 'active') and now.last_success
    assert own_row_position(stream.id) == stream.position  # not written while delivering
    assert take_lease(stream.id, OWNER, now)  # a renewal
    assert own_row_position(stream.id) == last
    database.execute_sql(f'DELETE FROM {progress.table()}')  # the progress file lost
    assert streams.get_stream('copy').position == last


def test_pausing_and_resuming_resend_nothing(add_events, small_batches, tmp_path: Path) -> None:
    stream, copy = file_stream(tmp_path)
    add_events(*[event(id=f'ev-{i:02d}') for i in range(20)])
    deliver_batches(stream.id, 1)
    release_lease(stream.id, OWNER)
    streams.pause_stream('copy', 'owner@acme.io')
    streams.resume_stream('copy', 'owner@acme.io')  # a new generation: the row's own position counts again
    assert streams.get_stream('copy').position == raw_sql("SELECT seq FROM event WHERE uid = 'ev-09'")[0][0]
    deliver_batches(stream.id, 2)
    assert delivered_ids(copy) == [f'ev-{i:02d}' for i in range(20)]
    assert streams.get_stream('copy').delivered == 20


@pytest.mark.parametrize(('change', 'counts_kept'), [
    ('created_at = created_at + 1', False),  # another stream's row (a removed one's id given again)
    ('generation = generation + 1', True),  # a replay or change since
    ("hash = 'f00d'", True),  # other events at that position (a restored backup)
], ids=['another stream', 'another generation', 'another event'])
def test_a_progress_row_that_is_not_the_streams_now_leaves_the_streams_own_position(
        add_events, small_batches, tmp_path: Path, change: str, counts_kept: bool) -> None:
    stream, copy = file_stream(tmp_path)
    add_events(*[event(id=f'ev-{i:02d}') for i in range(20)])
    deliver_batches(stream.id, 2)
    database.execute_sql(f'UPDATE {progress.table()} SET {change}')
    now = streams.get_stream('copy')
    assert now.position == stream.position
    assert now.delivered == (20 if counts_kept else 0)
    deliver_batches(stream.id, 2)  # sent again from there: at least once, nothing skipped
    assert delivered_ids(copy) == [f'ev-{i:02d}' for i in range(20)] * 2


def test_removing_a_stream_removes_its_progress(add_events, small_batches, tmp_path: Path) -> None:
    stream, _ = file_stream(tmp_path)
    add_events(event(id='ev-00'))
    deliver_batches(stream.id, 1)
    assert raw_sql(f'SELECT count(*) FROM {progress.table()}') == [(1,)]
    streams.remove_stream('copy', 'owner@acme.io')
    assert raw_sql(f'SELECT count(*) FROM {progress.table()}') == [(0,)]
