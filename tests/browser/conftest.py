"""A real server started as a user starts it, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str
    database_url: str
    process: subprocess.Popen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_server(database_url: str, log: Path, extra_env: dict[str, str] | None = None,
                 serve_args: tuple[str, ...] = (), wait: float = 30) -> Server:
    """`python main.py serve` on a free loopback port, as a user runs it; waits until it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST' and not k.startswith('NICEGUI_')}
    env.update({'AUDIT_SESSION_SECRET': 'browser-test-secret', **(extra_env or {})})
    handle = log.open('w')
    process = subprocess.Popen([sys.executable, 'main.py', '--db', database_url, 'serve', '--port', str(port),
                                *serve_args],
                               cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return Server(wait_until_listening(process, port, log, wait, 'server'), database_url, process)


def wait_until_listening(process: subprocess.Popen, port: int, log: Path, wait: float, what: str) -> str:
    """The process's loopback URL once it accepts connections; an exit or `wait` seconds of silence raise."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'the {what} exited with {process.returncode}:\n{log.read_text()}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return f'http://127.0.0.1:{port}'
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f'the {what} did not answer within {wait:.0f} s:\n{log.read_text()}')


def stop_server(server: Server) -> None:
    stop_process(server.process)


def parent_of(pid: int) -> int | None:
    """The parent of process `pid`; None once it is gone."""
    try:
        return int(Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None


def children_of(pid: int) -> list[int]:
    return [int(entry.name) for entry in Path('/proc').iterdir() if entry.name.isdigit()
            and parent_of(int(entry.name)) == pid]


def kill_app(server: Server) -> None:
    """SIGKILL the server and its stream delivery process (cli/delivery.py) at once, as the OOM killer or a
    service manager's kill of the whole service does: the batch in flight is neither finished nor acknowledged."""
    for child in children_of(server.process.pid):
        os.kill(child, signal.SIGKILL)
    server.process.kill()
    server.process.wait(10)


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, as a service manager stops it; SIGKILL if it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope='module')
def browser() -> Iterator:
    """Chromium for one test module: Playwright's sync API holds an event loop while it runs, which must
    end before the next module's async tests (NiceGUI's `user` fixture) start."""
    if not Path(CHROMIUM).exists():
        if os.environ.get('CI') == 'true':
            pytest.fail(f'{CHROMIUM} is missing: CI must run the browser tests (make test installs chromium)')
        pytest.skip(f'{CHROMIUM} is missing: install Debian\'s chromium package to run the browser tests')
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={'width': 1400, 'height': 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page, server: Server, email: str, password: str, path: str = '/audit-logs') -> None:
    page.goto(f'{server.url}{path}')
    page.get_by_label('Email').fill(email)
    page.get_by_label('Password').fill(password)
    page.get_by_role('button', name='Log in').click()
    page.wait_for_url(f'**{path.split("?")[0]}*')


def log_out(page) -> None:
    """Log out and wait for the login page: the button navigates over the websocket, so a `goto` right
    after the click could be overtaken by that navigation."""
    page.get_by_role('button', name='Log out').click()
    page.wait_for_url('**/login*')


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """The app serving this test's own database; request data fixtures before this one."""
    running = start_server(database_url, tmp_path / 'server.log')
    yield running
    stop_server(running)
