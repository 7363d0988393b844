"""Accessibility, laptop and phone fit, and the keyboard, in Debian's Chromium against `python main.py serve`.

axe-core (through axe-playwright-python, a tool no one here wrote) checks the login page and every signed-in
page, in light and dark mode, as an Organization Owner and as a Workspace Admin, against the WCAG 2.1 A/AA
and best-practice rules.
"""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in, log_out
from tests.conftest import ADMIN_A, OWNER, event
from ui.shell.frame import NAV

AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']
LONG_TARGET = 'notebooks/research/' + 'very-long-notebook-name-' * 8 + 'END'
LONG_DESCRIPTION = 'Changed the idle shutdown of every notebook in the workspace ' * 6 + 'THE END'
HEADERS = ['Timestamp', 'User', 'Scope', 'Category', 'Action', 'Target', 'Status', 'Description']


def some_events() -> list[dict]:
    return [event(id='long', target=LONG_TARGET, description=LONG_DESCRIPTION),
            event(id='failed', status='FAILED', action='Stop Notebook', target='nb-2'),
            event(id='billing', scope='Billing', category='Credit', action='Add Credit', target='credit-1',
                  workspace=None, description='Added credits for gpu hours'),
            *(event(id=f'n{i}', target=f'nb-{i}', timestamp=f'2026-10-02T08:{i:02d}:00Z') for i in range(30))]


def violations(page: Page) -> str:
    """axe's report of the page as it is now; empty when nothing is violated."""
    results = Axe().run(page, options={'runOnly': {'type': 'tag', 'values': AXE_TAGS}})
    return '' if results.violations_count == 0 else results.generate_report()


def mode_class(dark: bool) -> re.Pattern:
    return re.compile(rf'\bbody--{"dark" if dark else "light"}\b')


def set_dark(page: Page, dark: bool) -> None:
    """The header's moon, clicked when needed: the choice is kept per account on the server."""
    body = page.locator('body')
    if ('body--dark' in (body.get_attribute('class') or '')) != dark:
        page.get_by_role('button', name='Dark mode').click()
    expect(body).to_have_class(mode_class(dark))


def signed_in_pages(role: str) -> list[str]:
    return [path for _, path, _, only in NAV if only is None or only == role]


def test_axe_finds_nothing_on_any_page_in_either_mode_for_either_role(accounts, add_events, server,
                                                                       page: Page) -> None:
    add_events(*some_events())
    page.goto(f'{server.url}/login')
    expect(page.get_by_role('heading', level=1)).to_have_text('Audit Logs')
    found = {'/login': violations(page)}
    for (email, password), role in ((OWNER, 'owner'), (ADMIN_A, 'admin')):
        log_in(page, server, email, password)
        try:
            for dark in (False, True):
                set_dark(page, dark)
                for path in signed_in_pages(role):
                    page.goto(f'{server.url}{path}')
                    expect(page.get_by_role('heading', level=1)).to_have_count(1)
                    expect(page.locator('body')).to_have_class(mode_class(dark))
                    if path == '/audit-logs':
                        expect(page.locator('.q-table tbody tr').first).to_be_visible()
                    found[f'{role} {"dark" if dark else "light"} {path}'] = violations(page)
                page.goto(f'{server.url}/audit-logs?event=long')  # the detail panel, open
                expect(page.locator('.q-dialog').get_by_text('THE END')).to_be_visible()
                found[f'{role} {"dark" if dark else "light"} detail panel'] = violations(page)
                page.keyboard.press('Escape')
                expect(page.locator('.q-dialog')).to_have_count(0)
        finally:
            page.goto(f'{server.url}/audit-logs')
            set_dark(page, False)  # the choice outlives the test, in the server's storage
            log_out(page)
    assert len(found) == 1 + 2 * (len(signed_in_pages('owner')) + len(signed_in_pages('admin')) + 2)
    failed = {where: report for where, report in found.items() if report}
    assert not failed, '\n\n'.join(f'== {where}\n{report}' for where, report in failed.items())


def test_all_columns_fit_a_laptop_and_the_page_fits_a_phone(accounts, add_events, server, page: Page) -> None:
    add_events(*some_events())
    page.set_viewport_size({'width': 1280, 'height': 800})
    log_in(page, server, *OWNER)
    table = page.locator('.q-table__middle')
    expect(page.locator('.q-table tbody tr')).to_have_count(34)
    scroll_width, client_width = table.evaluate('e => [e.scrollWidth, e.clientWidth]')
    assert scroll_width == client_width, 'all eight columns are visible without scrolling sideways'
    # getBoundingClientRect through `evaluate`, which waits for the element: `bounding_box()` does not, and gave
    # None once in a fresh-clone run when the table was drawn again between the two calls
    rect = 'e => { const r = e.getBoundingClientRect(); return {x: r.left, width: r.width}; }'
    box = table.evaluate(rect)
    for header in HEADERS:
        th_box = page.get_by_role('columnheader', name=header).evaluate(rect)
        assert box['x'] <= th_box['x'] and th_box['x'] + th_box['width'] <= box['x'] + box['width'] + 1, header
    row = page.locator('.q-table tbody tr', has_text='very-long-notebook-name')
    for column, text in ((5, LONG_TARGET), (7, LONG_DESCRIPTION)):
        cell = row.locator('td').nth(column).locator('div')
        expect(cell).to_have_attribute('title', text.strip())
        assert cell.evaluate('e => e.scrollWidth > e.clientWidth'), 'a long text ends in an ellipsis'
        assert cell.evaluate('e => getComputedStyle(e).textOverflow') == 'ellipsis'
    for stamp in page.locator('.q-table tbody td:first-child').all()[:5]:
        assert stamp.evaluate('e => getComputedStyle(e).whiteSpace') == 'nowrap'
        assert stamp.evaluate('e => e.scrollWidth <= e.clientWidth'), 'a timestamp is shown whole'
    row.click()
    expect(page.locator('.q-dialog').get_by_text(LONG_TARGET, exact=False).first).to_be_visible()
    page.keyboard.press('Escape')
    expect(page.locator('.q-dialog')).to_have_count(0)

    page.set_viewport_size({'width': 390, 'height': 844})
    expect(page.get_by_role('link', name='Audit Logs')).to_be_hidden()  # the sidebar folds away
    assert page.evaluate('document.documentElement.scrollWidth') <= 390, 'the page does not scroll sideways'
    controls = page.locator('header .q-btn, .q-field, main .q-btn, .q-toggle, .q-chip')
    assert controls.count() > 10
    for control in controls.all():
        if not control.is_visible():
            continue
        left, right = control.evaluate('e => { const r = e.getBoundingClientRect(); return [r.left, r.right]; }')
        assert 0 <= left and right <= 390, f'{control.evaluate("e => e.outerHTML.slice(0, 120)")} is off-screen'


def tab_to(page: Page, test: str, limit: int = 80) -> None:
    """Press Tab until `test` (JavaScript over `el`, the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press('Tab')
        if page.evaluate(f'(() => {{ const el = document.activeElement; return !!el && ({test}); }})()'):
            return
    raise AssertionError(f'Tab never reached an element where {test}')


def test_the_main_flow_by_keyboard_only(accounts, add_events, server, page: Page) -> None:
    add_events(*some_events())
    log_in(page, server, *OWNER)
    footer = page.locator('.q-table__bottom')
    expect(footer).to_contain_text('1-34 of 34')

    tab_to(page, "el.closest('.audit-search') !== null")  # Search
    page.keyboard.type('notebook')
    expect(page.locator('.q-chip', has_text='Search: notebook')).to_be_visible()

    tab_to(page, "el.getAttribute('aria-label') === 'Status' || el.closest('label')?.innerText.trim() === 'Status'")
    page.keyboard.press('Enter')
    menu = page.get_by_role('listbox')
    expect(menu).to_be_visible()
    for _ in range(3):
        if menu.locator('.q-manual-focusable--focused', has_text='FAILED').count():
            break
        page.keyboard.press('ArrowDown')
    page.keyboard.press('Enter')
    expect(page.locator('.q-chip', has_text='Status: FAILED')).to_be_visible()
    expect(footer).to_contain_text('1-1 of 1')

    tab_to(page, "el.matches('.q-table tbody tr')")  # a row
    page.keyboard.press('Enter')
    detail = page.locator('.q-dialog')
    expect(detail.get_by_text('Stop Notebook · nb-2')).to_be_visible()
    page.keyboard.press('Escape')
    expect(detail).to_have_count(0)

    tab_to(page, "el.closest('label')?.innerText.includes('Time range')")  # the timeline's keyboard way
    page.keyboard.press('Enter')
    expect(page.get_by_role('listbox')).to_be_visible()
    page.keyboard.press('ArrowDown')
    page.keyboard.press('Enter')
    expect(page.locator('.q-chip', has_text='Time: last hour')).to_be_visible()
    expect(footer).to_contain_text('No')

    tab_to(page, "el.getAttribute('aria-label') === 'Remove' && el.closest('.q-chip').innerText.includes('Time')")
    page.keyboard.press('Enter')
    expect(page.locator('.q-chip', has_text='Time:')).to_have_count(0)
    expect(footer).to_contain_text('1-1 of 1')
    expect(page.locator('.q-chip', has_text='Status: FAILED')).to_be_visible()
