"""Streams with real server processes: the browser flow in Chromium (stream this view, see it deliver, pause,
resume, edit), and a server killed with SIGKILL mid-batch then restarted (nothing lost, order kept)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from store.read.events import EventFilter, Viewer, events_after, find_events
from store.streams import registry as streams
from tests.browser.conftest import kill_app, log_in, start_server, stop_server
from tests.conftest import OWNER, event
from tests.stream_receiver import running_receiver

QUICK_LEASE = {'AUDIT_STREAM_LEASE_SECONDS': '2'}


def test_stream_this_view_delivers_pauses_resumes_and_edits(accounts, add_events, database_url: str, tmp_path: Path,
                                                      page: Page) -> None:
    with running_receiver() as receiver:
        server = start_server(database_url, tmp_path / 'server.log')
        try:
            log_in(page, server, *OWNER, path='/audit-logs?scope=Billing&status=FAILED')
            page.get_by_role('button', name='Stream this view').click()
            page.wait_for_url('**/streams?scope=Billing&status=FAILED')
            page.get_by_label('Stream name').fill('billing-failures')
            page.get_by_label('Destination URL').fill(receiver.url)
            page.get_by_role('button', name='Create stream').click()
            secret = page.get_by_label('Signing secret')
            expect(secret).to_be_visible()
            receiver.secret = secret.input_value()
            row = page.locator('.q-table tbody tr', has_text='billing-failures')
            expect(row).to_contain_text('scope: Billing, status: FAILED')

            add_events(event(id='b1', scope='Billing', category='Payment', status='FAILED'),
                       event(id='ok', scope='Billing', category='Payment', status='SUCCESS'),
                       event(id='b2', scope='Billing', category='Credit', status='FAILED'))
            assert receiver.wait_for(2) == ['b1', 'b2']
            expect(row.locator('td').nth(9)).to_have_text('2', timeout=15_000)  # Delivered
            expect(row).to_contain_text('up to date')

            page.get_by_role('button', name='Pause billing-failures').click()
            expect(row).to_contain_text('paused')
            add_events(event(id='b3', scope='Billing', category='Plan', status='FAILED'))
            expect(row).to_contain_text('1 event,', timeout=15_000)  # the lag while paused
            assert receiver.unique_ids() == ['b1', 'b2']
            page.get_by_role('button', name='Resume billing-failures').click()
            assert receiver.wait_for(3) == ['b1', 'b2', 'b3']
            expect(row.locator('td').nth(9)).to_have_text('3', timeout=15_000)

            page.get_by_role('button', name='Edit billing-failures').click()
            dialog = page.get_by_role('dialog')
            expect(dialog).to_contain_text('Edit stream "billing-failures"')
            dialog.get_by_label('Search').fill('declined')
            dialog.get_by_role('button', name='Save changes').click()
            expect(dialog).to_be_hidden()
            expect(row).to_contain_text('search: declined, scope: Billing, status: FAILED')
            add_events(event(id='b4', scope='Billing', category='Payment', status='FAILED', description='card ok'),
                       event(id='b5', scope='Billing', category='Payment', status='FAILED',
                             description='card declined'))
            assert receiver.wait_for(4) == ['b1', 'b2', 'b3', 'b5']  # the changed filter, from where it was
            change = find_events(Viewer.organization(), EventFilter(search='Changed stream billing-failures'))
            assert [(e['user'], e['action']) for e in change.events] == [(OWNER[0], 'Change Stream')]
            assert receiver.bad_signatures == 0
        finally:
            stop_server(server)


def test_a_server_killed_mid_batch_loses_nothing_after_a_restart(database_url: str, add_events,
                                                                 tmp_path: Path) -> None:
    with running_receiver() as receiver:
        _, receiver.secret = streams.create_stream('siem', receiver.url, None, EventFilter(scope='Service'),
                                                   OWNER[0])
        add_events(*[event(id=f'k{i:05d}', target=f'nb-{i}') for i in range(2_000)])
        receiver.answer_delay = 0.5  # each batch is received, then acknowledged half a second later
        first = start_server(database_url, tmp_path / 'first.log', extra_env=QUICK_LEASE)
        try:
            receiver.wait_for(500)  # a batch arrived and its acknowledgement is under way
            kill_app(first)
        finally:
            stop_server(first)
        received_before = len(receiver.events())
        receiver.answer_delay = 0.0
        add_events(*[event(id=f'k{i:05d}', target=f'nb-{i}') for i in range(2_000, 2_500)])  # while it is down
        second = start_server(database_url, tmp_path / 'second.log', extra_env=QUICK_LEASE)
        try:
            ids = receiver.wait_for(2_500, timeout=60)
        finally:
            stop_server(second)
    expected = [e['id'] for e in events_after(Viewer.organization(), EventFilter(scope='Service'), 0, 5_000)]
    duplicated, counts = receiver.tally(expected)
    print(f'\n{counts} ({received_before:,} received before the kill)')
    assert ids == expected  # nothing lost, in order after dedupe by id
    assert 1 <= duplicated <= 500  # the batch in flight at the kill, at most one batch
    positions = [e['position'] for e in receiver.events()]
    restart = next(i for i in range(1, len(positions)) if positions[i] <= positions[i - 1])
    assert positions[:restart] == sorted(positions[:restart]) and positions[restart:] == sorted(positions[restart:])
