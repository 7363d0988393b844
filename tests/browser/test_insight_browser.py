"""Time range, Status and User filters, the timeline, the detail panel, keyboard, live tail, the Workspaces and
Policies pages and dark mode, in Debian's Chromium against `python main.py serve` on the test's own database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, log_in, log_out, start_server, stop_server
from tests.browser.test_audit_logs_browser import cells, choose, footer, remove_chip, rows
from tests.conftest import ADMIN_A, OWNER, event

NOW = datetime.now(UTC).replace(microsecond=0)
SLOW = 20_000  # milliseconds for what waits on a live refresh (every 3 s) on a busy machine


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


def chip(page: Page, text: str):
    return page.locator('.q-chip', has_text=text)


def chart(page: Page):
    return page.locator('.nicegui-echart canvas').first


BAR_POINT = """index => {
  const chart = getElement(document.querySelector('.nicegui-echart').id.slice(1)).chart;
  const count = chart.getOption().xAxis[0].data.length;
  return chart.convertToPixel({gridIndex: 0}, [index < 0 ? count + index : index, 0]);
}"""


def bar_point(page: Page, index: int) -> tuple[float, float]:
    """Where on the screen the bottom of bar `index` is (negative: from the newest)."""
    box = chart(page).bounding_box()
    x, y = page.evaluate(BAR_POINT, index)
    return box['x'] + x, box['y'] + y - 3


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The app on this test's database, with NiceGUI's storage (the dark-mode choices) in the test's folder."""
    running = start_server(database_url, tmp_path / 'server.log', {'NICEGUI_STORAGE_PATH': str(tmp_path / 'storage')})
    yield running
    stop_server(running)


def timeline_events(add_events) -> None:
    add_events(
        event(timestamp=ago(minutes=20), user='carol@acme.io', status='FAILED', target='nb-20m', id='evt-20m',
              metadata={'ip': '10.0.0.7', 'request_id': 'req-1'}),
        event(timestamp=ago(hours=3), user='dave@acme.io', target='nb-3h', description='Started the gpu notebook'),
        event(timestamp=ago(days=3), user='carol@acme.io', target='nb-3d', workspace='beta'),
        event(timestamp=ago(days=20), user='dave@acme.io', status='FAILED', target='nb-20d'),
        event(timestamp=ago(days=60), user='carol@acme.io', scope='Workspace', category='GPU Quota',
              action='Change GPU Quota', target='alpha/H100', description='Raised the quota'),
    )


def test_time_status_user_filters_and_the_timeline(accounts, add_events, server, page: Page) -> None:
    timeline_events(add_events)
    log_in(page, server, *OWNER)
    expect(footer(page)).to_contain_text('1-6 of 6')
    expect(page.get_by_text('Events over time: 6 in view, one bar per day')).to_be_visible()
    expect(chart(page)).to_be_visible()

    choose(page, 'Time range', 'Last 7 days')
    expect(chip(page, 'Time: last 7 days')).to_be_visible()
    expect(footer(page)).to_contain_text('1-4 of 4')
    expect(page).to_have_url(re.compile(r'/audit-logs\?time=7d$'))
    choose(page, 'Status', 'FAILED')
    expect(chip(page, 'Status: FAILED')).to_be_visible()
    expect(cells(page, 6)).to_have_text(['nb-20m'])
    expect(page).to_have_url(re.compile(r'\?status=FAILED&time=7d$'))
    remove_chip(page, 'Status: FAILED')
    expect(footer(page)).to_contain_text('1-4 of 4')

    user = page.get_by_role('combobox', name='User')  # typed, then Enter
    user.click()
    expect(page.get_by_role('option', name='dave@acme.io', exact=True)).to_be_visible()  # the users in view
    user.press_sequentially('carol@acme.io')
    user.press('Enter')
    expect(chip(page, 'User: carol@acme.io')).to_be_visible()
    expect(cells(page, 6)).to_have_text(['nb-20m', 'nb-3d'])
    expect(page).to_have_url(re.compile(r'\?user=carol%40acme.io&time=7d$'))
    page.keyboard.press('Escape')
    remove_chip(page, 'User: carol@acme.io')
    expect(footer(page)).to_contain_text('1-4 of 4')

    choose(page, 'Time range', 'Last 24 hours')
    expect(page.get_by_text('Events over time: 3 in view, one bar per 15 minutes')).to_be_visible()
    page.mouse.click(*bar_point(page, -1))  # the newest bar: the sign-in, now
    expect(chip(page, re.compile(r'Time: \d{4}-\d\d-\d\d \d\d:\d\d'))).to_be_visible()
    expect(footer(page)).to_contain_text('1-1 of 1')
    expect(cells(page, 4)).to_have_text(['Member'])
    expect(page).to_have_url(re.compile(r'\?since=.*Z&until=.*Z$'))

    choose(page, 'Time range', 'Last 30 days')  # drag across the oldest 21 days
    expect(footer(page)).to_contain_text('1-5 of 5')
    expect(page.get_by_text('Events over time: 5 in view, one bar per day')).to_be_visible()
    page.mouse.move(*bar_point(page, 0))
    page.mouse.down()
    page.mouse.move(*bar_point(page, -11), steps=8)
    page.mouse.up()
    expect(footer(page)).to_contain_text('1-1 of 1')
    expect(cells(page, 6)).to_have_text(['nb-20d'])
    expect(chip(page, re.compile(r'Time: \d{4}-\d\d-\d\d'))).to_be_visible()

    page.get_by_role('button', name='Custom time range').click()
    dialog = page.locator('.q-dialog')
    start, end = NOW - timedelta(days=4), NOW - timedelta(hours=1)
    dialog.get_by_label('From').fill(start.strftime('%Y-%m-%dT%H:%M'))
    dialog.get_by_label('To').fill(end.strftime('%Y-%m-%dT%H:%M'))
    dialog.get_by_role('button', name='Apply').click()
    expect(chip(page, f'Time: {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}')).to_be_visible()
    expect(cells(page, 6)).to_have_text(['nb-3h', 'nb-3d'])

    page.goto(f'{server.url}/audit-logs?status=FAILED&time=2y')  # a copied link with a bad value
    expect(page.get_by_text('Ignored unknown time range "2y" from the link')).to_be_visible()
    expect(chip(page, 'Status: FAILED')).to_be_visible()
    expect(footer(page)).to_contain_text('1-2 of 2')
    expect(page.get_by_text('Events over time: 2 in view')).to_be_visible()


def test_detail_panel_link_keyboard_and_live_tail(accounts, add_events, server, page: Page) -> None:
    timeline_events(add_events)
    add_events(event(id='beta-secret', workspace='beta', target='nb-secret', timestamp=ago(days=70)))
    log_in(page, server, *OWNER)
    expect(footer(page)).to_contain_text('1-7 of 7')

    page.locator('body').press('/')  # `/` focuses the search
    expect(page.get_by_label('Search')).to_be_focused()
    page.keyboard.type('gpu')
    expect(chip(page, 'Search: gpu')).to_be_visible()
    expect(footer(page)).to_contain_text('1-2 of 2')
    remove_chip(page, 'Search: gpu')
    expect(footer(page)).to_contain_text('1-7 of 7')

    rows(page).filter(has_text='nb-20m').click()
    panel = page.locator('.q-dialog .q-card')
    expect(panel).to_be_visible()
    expect(panel).to_contain_text('evt-20m')
    expect(panel).to_contain_text('Chain hash')
    expect(panel.locator('.font-mono').filter(has_text='request_id')).to_have_text(
        '{\n  "ip": "10.0.0.7",\n  "request_id": "req-1"\n}')
    link = panel.get_by_role('link', name='/audit-logs?event=evt-20m')
    expect(link).to_be_visible()
    page.context.grant_permissions(['clipboard-read', 'clipboard-write'])
    panel.get_by_role('button', name='Copy link').click()
    expect(page.get_by_text('Link copied')).to_be_visible()
    assert page.evaluate('navigator.clipboard.readText()') == f'{server.url}/audit-logs?event=evt-20m'
    page.keyboard.press('Escape')  # Esc closes the detail
    expect(panel).to_have_count(0)

    page.goto(f'{server.url}/audit-logs?event=evt-20m')  # the copied link opens the event
    expect(page.locator('.q-dialog .q-card')).to_contain_text('evt-20m')
    page.keyboard.press('Escape')

    page.get_by_role('switch', name='Live').click()  # live tail: new rows appear, highlighted
    expect(page.get_by_text('Live', exact=True).last).to_be_visible()
    add_events(event(timestamp=datetime.now(UTC).isoformat(), target='nb-live', user='zed@acme.io'))
    expect(rows(page).first).to_contain_text('nb-live', timeout=SLOW)
    expect(rows(page).first).to_have_class(re.compile('row-fresh'))
    expect(rows(page).nth(1)).not_to_have_class(re.compile('row-fresh'))
    expect(footer(page)).to_contain_text('1-8 of 8')
    rows(page).first.click()  # reading a detail pauses the tail
    expect(page.get_by_text('Paused: reading an event')).to_be_visible(timeout=SLOW)
    page.keyboard.press('Escape')
    expect(page.get_by_text('Paused: reading an event')).to_have_count(0, timeout=SLOW)


def test_workspaces_policies_admin_view_and_dark_mode(accounts, add_events, server, page: Page) -> None:
    timeline_events(add_events)
    add_events(event(timestamp=ago(days=2), scope='Organization', category='Policy', action='Attach Policy',
                     target='AuditViewer', workspace=None, description='Attached policy AuditViewer to dave'),
               event(timestamp=ago(days=1), scope='Organization', category='Policy', action='Detach Policy',
                     target='AuditViewer', workspace=None, description='Detached policy AuditViewer from dave'))
    log_in(page, server, *OWNER)
    page.get_by_role('link', name='Workspaces').click()
    expect(page).to_have_url(re.compile(r'/workspaces$'))
    expect(page.get_by_role('link', name='alpha', exact=True)).to_be_visible()
    expect(page.get_by_role('link', name='beta', exact=True)).to_be_visible()
    page.get_by_role('link', name='Quota changes').first.click()  # alpha's
    expect(chip(page, 'Workspace: alpha')).to_be_visible()
    expect(chip(page, 'Category: GPU Quota')).to_be_visible()
    expect(cells(page, 6)).to_have_text(['alpha/H100'])

    page.get_by_role('link', name='Policies').click()
    expect(page.get_by_text('AuditViewer', exact=True)).to_be_visible()
    page.get_by_role('link', name='Attachment events').click()
    expect(chip(page, 'Search: AuditViewer')).to_be_visible()
    expect(footer(page)).to_contain_text('1-2 of 2')

    page.get_by_role('button', name='Dark mode').click()  # remembered for the account
    expect(page.locator('body')).to_have_class(re.compile('body--dark'))
    page.reload()
    expect(page.locator('body')).to_have_class(re.compile('body--dark'))
    log_out(page)
    log_in(page, server, *ADMIN_A, path='/workspaces')  # another account: its own choice
    expect(page.locator('body')).not_to_have_class(re.compile('body--dark'))
    expect(page.get_by_role('link', name='alpha', exact=True)).to_be_visible()
    expect(page.get_by_role('link', name='beta', exact=True)).to_have_count(0)
    page.get_by_role('link', name='Policies').click()
    expect(page.get_by_text('No policy events to show')).to_be_visible()
    page.goto(f'{server.url}/audit-logs?workspace=beta')
    expect(page.get_by_text('Ignored workspace "beta" from the link: it is not a workspace you can see.')) \
        .to_be_visible()
    expect(cells(page, 6)).to_have_text(['nb-20m', 'nb-3h', 'nb-20d', 'alpha/H100'])
    log_out(page)
    log_in(page, server, *OWNER)
    expect(page.locator('body')).to_have_class(re.compile('body--dark'))
