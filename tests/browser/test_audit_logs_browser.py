"""The Audit Logs page in Debian's Chromium against `python main.py serve` on the test's own database."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.conftest import OWNER, event

HOSTILE_SCRIPT = '<script>window.__pwned = "script"</script>'
HOSTILE_IMG = '<img src=x onerror="window.__pwned = \'img\'">'
LONG = 'Changed the idle shutdown of every notebook in the workspace ' * 6 + 'THE END'
HEADERS = ['Timestamp', 'User', 'Scope', 'Category', 'Action', 'Target', 'Status', 'Description']
GREEN, RED = 'rgb(21, 128, 61)', 'rgb(185, 28, 28)'  # ui.theme's POSITIVE and NEGATIVE (AA with white text)


def footer(page: Page):
    return page.locator('.q-table__bottom')


def rows(page: Page):
    return page.locator('.q-table tbody tr')


def cells(page: Page, column: int):
    return page.locator(f'.q-table tbody tr td:nth-child({column})')


def select(page: Page, label: str):
    return page.locator('label.q-select', has_text=label)


def choose(page: Page, label: str, option: str | None) -> None:
    """Open a select and pick an option; None picks the blank one.

    The last select's menu must be gone first: while it fades out, an option could be picked from it."""
    expect(page.get_by_role('listbox')).to_have_count(0)
    page.get_by_role('combobox', name=label).click()
    menu = page.get_by_role('listbox')
    if option is None:
        menu.get_by_role('option').first.click()
    else:
        menu.get_by_role('option', name=option, exact=True).click()


def remove_chip(page: Page, text: str) -> None:
    page.locator('.q-chip', has_text=text).get_by_role('button', name='Remove').click()


def test_columns_formats_colours_and_hostile_text(accounts, add_events, server, page: Page) -> None:
    add_events(
        event(timestamp='2026-10-01T08:00:00Z', action=HOSTILE_SCRIPT, target=HOSTILE_IMG, description=HOSTILE_IMG),
        event(timestamp='2026-10-02T09:30:05Z', status='FAILED', action='Stop Notebook', description=LONG),
    )
    log_in(page, server, *OWNER)
    expect(rows(page)).to_have_count(3)  # the two events and the owner's sign-in
    headers = page.locator('.q-table thead th').evaluate_all(
        "ths => ths.map(th => th.innerText.replace(/arrow_(up|down)ward/, '').trim())")
    assert headers == HEADERS
    for text in cells(page, 1).all_inner_texts():
        assert re.fullmatch(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d', text), text
    expect(cells(page, 1).nth(1)).to_have_text('2026-10-02 09:30:05')
    page.get_by_role('columnheader', name='Timestamp').hover()
    expect(page.locator('.q-tooltip')).to_have_text('Shown in time zone UTC')

    failed = page.locator('.q-badge', has_text='FAILED')
    expect(failed).to_have_css('background-color', RED)
    expect(page.locator('.q-badge', has_text='SUCCESS').first).to_have_css('background-color', GREEN)

    hostile = rows(page).nth(2)
    expect(hostile.locator('td').nth(4)).to_have_text(HOSTILE_SCRIPT)
    expect(hostile.locator('td').nth(5)).to_have_text(HOSTILE_IMG)
    expect(hostile.locator('td').nth(7)).to_have_text(HOSTILE_IMG)
    assert page.locator('.q-table img, .q-table script').count() == 0
    assert page.evaluate('window.__pwned') is None

    long_cell = rows(page).nth(1).locator('td').nth(7).locator('div')
    expect(long_cell).to_have_attribute('title', LONG.strip())
    assert long_cell.evaluate('e => e.scrollWidth > e.clientWidth'), 'a long description is truncated'
    rows(page).nth(1).click()  # the row's detail has the full text
    expect(page.locator('.q-dialog').get_by_text('THE END')).to_be_visible()
    page.get_by_role('button', name='Close').click()

    sidebar_link = page.get_by_role('link', name='Audit Logs')
    expect(sidebar_link).to_be_visible()
    page.set_viewport_size({'width': 600, 'height': 900})
    expect(sidebar_link).to_be_hidden()  # the drawer collapses on a narrow screen
    page.get_by_role('button', name='Toggle sidebar').click()
    expect(sidebar_link).to_be_visible()


def test_filters_chips_search_url_and_deep_link(accounts, add_events, server, page: Page) -> None:
    add_events(
        event(user='carol@acme.io', scope='Billing', category='Credit', action='Add Credit', target='credit-1',
              description='Added credits for gpu hours', workspace=None),
        event(user='dave@acme.io', scope='Billing', category='Payment', action='Charge Card', target='inv-7',
              description='Card declined', status='FAILED', workspace=None),
        event(user='erin@acme.io', scope='Workspace', category='GPU Quota', action='Change Quota',
              target='alpha/H100', description='Raised the GPU quota'),
    )
    log_in(page, server, *OWNER)
    expect(footer(page)).to_contain_text('1-4 of 4')
    page.evaluate('window.__same_page = true')  # gone if anything below reloads the page

    expect(select(page, 'Category')).to_have_class(re.compile('q-field--disabled'))
    choose(page, 'Scope', 'Billing')
    expect(page.locator('.q-chip', has_text='Scope: Billing')).to_be_visible()
    expect(footer(page)).to_contain_text('1-2 of 2')
    expect(page).to_have_url(re.compile(r'/audit-logs\?scope=Billing$'))
    expect(select(page, 'Category')).not_to_have_class(re.compile('q-field--disabled'))
    page.get_by_role('combobox', name='Category').click()
    expect(page.get_by_role('option')).to_have_text(['', 'Credit', 'Payment', 'Plan', 'Voucher'])
    page.get_by_role('option', name='Payment', exact=True).click()
    expect(footer(page)).to_contain_text('1-1 of 1')
    expect(cells(page, 2)).to_have_text(['dave@acme.io'])
    expect(page).to_have_url(re.compile(r'\?scope=Billing&category=Payment$'))

    remove_chip(page, 'Category: Payment')  # the chip's x clears that filter only
    expect(page.locator('.q-chip', has_text='Category')).to_have_count(0)
    expect(footer(page)).to_contain_text('1-2 of 2')
    choose(page, 'Category', 'Credit')
    expect(footer(page)).to_contain_text('1-1 of 1')
    choose(page, 'Scope', None)  # the blank option clears Scope, and Scope takes Category along
    expect(page.locator('.q-chip')).to_have_count(0)
    expect(footer(page)).to_contain_text('1-4 of 4')
    expect(select(page, 'Category')).to_have_class(re.compile('q-field--disabled'))
    expect(page).to_have_url(re.compile(r'/audit-logs$'))

    page.get_by_label('Search').press_sequentially('gpu')  # key by key, as a person types; the input is debounced
    expect(page.locator('.q-chip', has_text='Search: gpu')).to_be_visible()
    expect(footer(page)).to_contain_text('1-2 of 2')  # description "gpu hours", description "GPU quota"
    expect(page).to_have_url(re.compile(r'\?search=gpu$'))
    choose(page, 'Scope', 'Billing')
    expect(cells(page, 6)).to_have_text(['credit-1'])
    remove_chip(page, 'Search: gpu')
    expect(page.get_by_label('Search')).to_have_value('')
    expect(footer(page)).to_contain_text('1-2 of 2')
    assert page.evaluate('window.__same_page') is True

    page.goto(f'{server.url}/audit-logs?scope=Billing&category=Credit&search=gpu')  # a copied link
    expect(footer(page)).to_contain_text('1-1 of 1')
    for text in ('Scope: Billing', 'Category: Credit', 'Search: gpu'):
        expect(page.locator('.q-chip', has_text=text)).to_be_visible()
    expect(select(page, 'Scope')).to_contain_text('Billing')
    expect(select(page, 'Category')).to_contain_text('Credit')
    expect(page.get_by_label('Search')).to_have_value('gpu')

    page.goto(f'{server.url}/audit-logs?scope=Billing&category=AI%20Notebook')  # a bad link: a notice, no error
    expect(page.get_by_text('Ignored category "AI Notebook" from the link: it is not a category of Billing.')) \
        .to_be_visible()
    expect(footer(page)).to_contain_text('1-2 of 2')
    expect(page).to_have_url(re.compile(r'\?scope=Billing$'))


def test_paging_sorting_exact_total_and_refresh(accounts, add_events, server, page: Page) -> None:
    add_events(*(event(timestamp=f'2026-10-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z',
                       user=f'u{i:04d}@acme.io', target=f'nb-{i}') for i in range(1234)))
    log_in(page, server, *OWNER)
    expect(footer(page)).to_contain_text('1-50 of 1,235')
    expect(rows(page)).to_have_count(50)
    page.get_by_role('button', name='Next page').click()
    expect(footer(page)).to_contain_text('51-100 of 1,235')
    expect(cells(page, 2).first).to_have_text('u1184@acme.io')  # newest first: the sign-in, u1233, u1232, ...

    page.get_by_role('columnheader', name='User').click()
    expect(cells(page, 2).first).to_have_text('owner@acme.io')  # ascending, back on page 1
    expect(footer(page)).to_contain_text('1-50 of 1,235')
    page.get_by_role('columnheader', name='User').click()
    expect(cells(page, 2).first).to_have_text('u1233@acme.io')  # descending

    page.locator('.q-table__bottom .q-select').click()
    page.get_by_role('option', name='100', exact=True).click()
    expect(footer(page)).to_contain_text('1-100 of 1,235')
    expect(rows(page)).to_have_count(100)

    add_events(event(user='zz-new@acme.io', target='arrived-later'))  # after the page loaded
    page.get_by_role('button', name='Refresh').click()
    expect(footer(page)).to_contain_text('1-100 of 1,236')
    expect(cells(page, 2).first).to_have_text('zz-new@acme.io')  # still sorted by User, descending
    expect(rows(page)).to_have_count(100)

    page.get_by_role('columnheader', name='Timestamp').click()
    expect(cells(page, 2).first).to_have_text('u0000@acme.io')  # oldest first
    expect(cells(page, 1).first).to_have_text('2026-10-01 00:00:00')


def test_searches_entered_one_after_another(accounts, add_events, server, page: Page) -> None:
    """Each keyword typed and entered (the first right after signing in, each next one as soon as the table shows
    the last) is the one the page ends on: the box, chip, URL and table all show it, none falls back to the
    search before it."""
    words = {'qamber': 1, 'qbirch': 2, 'qcedar': 3, 'qdelta': 4, 'qember': 5, 'qfjord': 6}
    add_events(*(event(target=f'{word}-{i}', description=f'Renamed to {word} {i}')
                 for word, n in words.items() for i in range(n)))
    log_in(page, server, *OWNER)
    box = page.get_by_label('Search')
    for word, n in [*words.items(), *words.items()]:
        box.fill(word)
        box.press('Enter')
        expect(footer(page)).to_contain_text(f'1-{n} of {n}')
        expect(page.locator('.q-chip', has_text='Search:')).to_have_text(re.compile(f'Search: {word}'))
        expect(page).to_have_url(re.compile(rf'\?search={word}$'))
    expect(box).to_have_value('qfjord')
    expect(cells(page, 6)).to_have_text([f'qfjord-{i}' for i in range(5, -1, -1)])
