"""The prebuilt stylesheet (ui/shell/styles/tailwind.css, made by scripts/build-css) styles every class the pages
put in the browser exactly as far as NiceGUI's Tailwind browser build would: that build itself, run in Chromium
over the class names the pages hold, must make rules for no class the stylesheet lacks."""

from __future__ import annotations

import nicegui
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.browser.test_accessibility_browser import set_dark, signed_in_pages, some_events
from tests.conftest import OWNER
from ui.shell.theme import tailwind_url

CLASSES_IN_PAGE = "() => Array.from(document.querySelectorAll('[class]')).flatMap(e => Array.from(e.classList))"

# The class names that style rules of a stylesheet name, as Chromium writes them (escaped), nested rules included.
CLASSES_STYLED = r"""css => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  const found = new Set();
  const walk = rules => {
    for (const rule of rules) {
      for (const m of (rule.selectorText || '').matchAll(/\.((?:\\.|[\w-])+)/g)) found.add(m[1]);
      if (rule.cssRules) walk(rule.cssRules);
    }
  };
  walk(sheet.cssRules);
  return Array.from(found);
}"""

# The Tailwind browser build NiceGUI ships, run over the class names: the rules it writes into its <style>, once
# they include those of `w-full` (it builds once before it has seen the probe).
RUNTIME_CSS = """async classes => {
  const probe = document.createElement('div');
  probe.className = classes.join(' ');
  document.body.append(probe);
  for (let i = 0; i < 200; i++) {
    const style = Array.from(document.querySelectorAll('style')).find(s => s.textContent.includes('tailwindcss v'));
    if (style && style.textContent.includes('.w-full')) return style.textContent;
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  return '';
}"""


def classes_shown(page: Page, server) -> set[str]:
    """Every class name on the sign-in page and on each signed-in page in both modes, with a filter's chips, the
    detail panel and an open select menu."""
    page.goto(f'{server.url}/login')
    expect(page.get_by_role('heading', level=1)).to_have_text('Audit Logs')
    classes = set(page.evaluate(CLASSES_IN_PAGE))
    log_in(page, server, *OWNER)
    try:
        for dark in (False, True):
            set_dark(page, dark)
            for path in [*signed_in_pages('owner'), '/audit-logs?search=nb&status=FAILED', '/audit-logs?event=long']:
                page.goto(f'{server.url}{path}')
                expect(page.get_by_role('heading', level=1)).to_have_count(1)
                if path.startswith('/audit-logs'):
                    expect(page.locator('.q-table tbody tr').first).to_be_visible()
                classes |= set(page.evaluate(CLASSES_IN_PAGE))
            page.goto(f'{server.url}/audit-logs')
            page.get_by_role('combobox', name='Scope').click()
            expect(page.get_by_role('option', name='Billing', exact=True)).to_be_visible()
            classes |= set(page.evaluate(CLASSES_IN_PAGE))
            page.keyboard.press('Escape')
    finally:
        page.goto(f'{server.url}/audit-logs')
        set_dark(page, False)  # the choice outlives the test, in the server's storage
    return classes


def test_the_prebuilt_stylesheet_styles_every_class_tailwinds_browser_build_would(accounts, add_events, server,
                                                                                 page: Page) -> None:
    add_events(*some_events())
    classes = sorted(classes_shown(page, server))
    ours = page.request.get(server.url + tailwind_url())
    assert ours.ok and ours.headers['content-type'].startswith('text/css')
    styled = set(page.evaluate(CLASSES_STYLED, ours.text()))

    page.goto(f'{server.url}/login')  # a page of the server, whose static files include NiceGUI's Tailwind build
    page.evaluate("() => { document.head.innerHTML = ''; document.body.innerHTML = ''; }")
    page.add_script_tag(url=f'{server.url}/_nicegui/{nicegui.__version__}/static/tailwindcss.min.js')
    runtime = page.evaluate(RUNTIME_CSS, classes)
    assert runtime, "NiceGUI's Tailwind build wrote no stylesheet"
    escaped = set(page.evaluate('names => names.map(n => CSS.escape(n))', classes))
    wanted = set(page.evaluate(CLASSES_STYLED, runtime)) & escaped
    assert {'w-full', 'items-center', 'text-sm', r'dark\:text-slate-400'} <= wanted  # the probe saw the pages
    assert wanted - styled == set(), 'run scripts/build-css: the stylesheet lacks these classes'
