"""Regenerate docs/audit-logs-light.png and docs/audit-logs-dark.png.

Run from the repository root: `.venv/bin/python -m docs.make_screenshots`. It serves a fresh demo
database (`main.py serve --demo`) on a free loopback port, signs in as the demo owner in Debian's
Chromium at 1400x900, and saves the Audit Logs page in light and in dark mode.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, Server, start_server, stop_server

OWNER = ('owner@acme.io', 'owner-demo-pass')
OUT = ROOT / 'docs'


def start_demo(tmp: Path) -> Server:
    """A demo server on a fresh database; seeding the demo events comes first, so it may take a while."""
    return start_server(f'sqlite:///{tmp / "demo.db"}', tmp / 'server.log',
                        {'AUDIT_SESSION_SECRET': 'screenshot-secret', 'NICEGUI_STORAGE_PATH': str(tmp / 'storage')},
                        serve_args=('--demo',), wait=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--path', default='/audit-logs', help='the page to capture, with its filters')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='audit-screens-') as tmp:
        server = start_demo(Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={'width': 1400, 'height': 900})
                page.set_default_timeout(30_000)
                page.goto(f'{server.url}{args.path}')
                page.get_by_label('Email').fill(OWNER[0])
                page.get_by_label('Password').fill(OWNER[1])
                page.get_by_role('button', name='Log in').click()
                expect(page.locator('.q-table__bottom')).to_contain_text(' of ')
                expect(page.locator('.nicegui-echart canvas').first).to_be_visible()
                page.mouse.move(0, 0)
                page.wait_for_timeout(800)  # let the chart finish drawing; a picture, not a test
                page.screenshot(path=str(OUT / 'audit-logs-light.png'))
                page.get_by_role('button', name='Dark mode').click()
                expect(page.locator('body.body--dark')).to_have_count(1)
                page.mouse.move(0, 0)
                page.wait_for_timeout(800)
                page.screenshot(path=str(OUT / 'audit-logs-dark.png'))
                browser.close()
        finally:
            stop_server(server)
    print(f'wrote {OUT / "audit-logs-light.png"} and {OUT / "audit-logs-dark.png"}')


if __name__ == '__main__':
    main()
