"""Benchmark (not a test): filter change -> updated table on the Audit Logs page, with 1,000,000 events.

    .venv/bin/python -m tests.benchmarks.bench_page
    .venv/bin/python -m tests.benchmarks.bench_page --keywords [--rounds 5] [--catch-up]

Seeds `$AUDIT_PAGE_BENCH_DB` (default /tmp/audit-page-bench-1m.db) with
`python main.py --db sqlite:///PATH seed --events 1000000 --seed 1` unless the file exists, starts
`python main.py serve` on it, signs in with Debian's Chromium (Playwright) and, for each kind of
filter change, alternates between two values about 30 times. Each sample runs from the action that
changes the filter (the option's click event, or Search's input event) until the DOM of the table's
footer shows the new exact total, both taken in the page; for Search it includes the input's debounce.
It prints p50/p95 per kind, and the same queries timed in-process on the store for comparison.

With --keywords, each round starts a new server process (nothing counted yet: the first search of a session)
and types each of KEYWORDS into Search, then Enter; a sample runs from the Enter key until the footer shows
the keyword's exact total. The keywords take turns at being the round's first. With --catch-up, a stream of every
event is replayed from the start before each round, so the server's delivery process resends the whole store to
a loopback receiver while the keywords are searched (the receiver at a lower CPU priority, as bench_streams.py).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from store.engine.db import connection
from store.lifecycle.opening import close_database, open_database
from store.read.events import EventFilter, Sort, Viewer, count_events, find_events
from tests.benchmarks.common import open_as_server
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, start_server, stop_server

DB_PATH = Path(os.environ.get('AUDIT_PAGE_BENCH_DB', '/tmp/audit-page-bench-1m.db'))
EVENTS = 1_000_000
ITERATIONS = int(os.environ.get('AUDIT_PAGE_BENCH_ITERATIONS', '30'))
EMAIL, PASSWORD = 'bench-owner@acme.io', 'bench-owner-pass'
SEARCH_DEBOUNCE_MS = 300

# kind -> (the fixed part of the filter, the field that alternates, its two values)
KINDS: dict[str, tuple[dict[str, str], str, tuple[str, str]]] = {
    'scope': ({}, 'scope', ('Billing', 'Service')),
    'scope+category': ({'scope': 'Billing'}, 'category', ('Credit', 'Payment')),
    'search, rare term': ({}, 'search', ('inv-0001', 'credit-0002')),
    'search, common term': ({}, 'search', ('notebook', 'alice')),
}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'main.py', '--db', f'sqlite:///{DB_PATH}', *args], cwd=ROOT,
                          input=stdin, text=True, capture_output=True)


def prepare_database() -> None:
    if DB_PATH.exists():
        print(f'Reusing {DB_PATH} ({DB_PATH.stat().st_size / 2**20:,.0f} MiB).')
    else:
        print(f'Seeding {EVENTS:,} events into {DB_PATH} (about 70 s)...', flush=True)
        result = run('seed', '--events', str(EVENTS), '--seed', '1')
        if result.returncode:
            sys.exit(f'seeding failed: {result.stderr.strip()}')
        print(result.stdout.strip())
    result = run('create-user', EMAIL, '--role', 'owner', stdin=PASSWORD + '\n')
    if result.returncode and 'exists already' not in result.stderr:
        sys.exit(f'cannot create the benchmark account: {result.stderr.strip()}')


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method='inclusive')[p - 1]


def summary(samples: list[float]) -> str:
    return (f'n={len(samples):3d}  p50={statistics.median(samples):7.0f} ms  p95={percentile(samples, 95):7.0f} ms'
            f'  min={min(samples):6.0f}  max={max(samples):6.0f}')


def store_timings(filters: dict[str, EventFilter]) -> dict[str, float]:
    """The page's query (first page, newest first, with the exact total) timed in-process: the store's share."""
    open_as_server(f'sqlite:///{DB_PATH}')
    medians: dict[str, float] = {}
    with connection():
        for name, flt in filters.items():
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                find_events(Viewer.organization(), flt, Sort(), 0, 50)
                samples.append((time.perf_counter() - started) * 1000)
            medians[name] = statistics.median(samples)
    close_database()
    return medians


def exact_totals(filters: dict[str, EventFilter]) -> dict[str, int]:
    open_database(f'sqlite:///{DB_PATH}')
    with connection():
        totals = {name: count_events(Viewer.organization(), flt) for name, flt in filters.items()}
    close_database()
    return totals


def make_filter(fixed: dict[str, str], field: str, value: str) -> EventFilter:
    return EventFilter(**{**fixed, field: value})


# Times a change inside the page: from the first click or input event after arming until a DOM mutation
# makes the table's footer show the expected total. Playwright's own round trips are not counted.
ARM = """expected => {
  window.__t0 = null; window.__done = null;
  const start = () => { if (window.__t0 === null) window.__t0 = performance.now(); };
  document.addEventListener('click', start, {capture: true, once: true});
  document.addEventListener('input', start, {capture: true, once: true});
  const shows = () => (document.querySelector('.q-table__bottom')?.innerText || '').includes(expected);
  const observer = new MutationObserver(() => {
    if (window.__t0 !== null && shows()) { window.__done = performance.now(); observer.disconnect(); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


ARM_ENTER = """expected => {
  window.__t0 = null; window.__done = null;
  const start = e => { if (e.key === 'Enter' && window.__t0 === null) window.__t0 = performance.now(); };
  document.addEventListener('keydown', start, {capture: true});
  const shows = () => (document.querySelector('.q-table__bottom')?.innerText || '').includes(expected);
  const observer = new MutationObserver(() => {
    if (window.__t0 !== null && shows()) {
      window.__done = performance.now(); observer.disconnect();
      document.removeEventListener('keydown', start, {capture: true});
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
KEYWORDS = ('attach', 'policy', 'credit', 'failed', 'notebook', 'service', 'alice')


def sign_in(page, url: str) -> None:
    page.goto(f'{url}/audit-logs')
    page.get_by_label('Email').fill(EMAIL)
    page.get_by_label('Password').fill(PASSWORD)
    page.get_by_role('button', name='Log in').click()
    page.locator('.q-table tbody tr').first.wait_for()


CATCH_UP_STREAM = 'bench-catch-up'


def start_catch_up(folder: Path) -> subprocess.Popen:
    """A stream of every event to a receiver process (tests/benchmarks/bench_streams.py, at a lower CPU priority:
    it stands for a SIEM on another machine); `replay_catch_up` makes it resend the whole store."""
    from store.streams import registry as streams
    from tests.benchmarks.bench_streams import RECEIVER_NICE, start_receiver

    process, url, receiver = start_receiver(folder, record=False)
    os.setpriority(os.PRIO_PROCESS, process.pid, RECEIVER_NICE)
    open_database(f'sqlite:///{DB_PATH}')
    with connection():
        if any(stream.name == CATCH_UP_STREAM for stream in streams.list_streams()):  # left by a stopped run
            streams.remove_stream(CATCH_UP_STREAM, 'bench')
        _, secret = streams.create_stream(CATCH_UP_STREAM, url, None, EventFilter(), 'bench')
    close_database()
    (receiver / 'secret').write_text(secret)
    return process


def replay_catch_up() -> int:
    """Resend the whole store from the next server's start; the position now (what was delivered up to)."""
    from store.streams import registry as streams
    from tests.benchmarks.bench_streams import EVERYTHING

    open_database(f'sqlite:///{DB_PATH}')
    with connection():
        reached = streams.get_stream(CATCH_UP_STREAM).position
        streams.replay_stream(CATCH_UP_STREAM, EVERYTHING, 'bench')
    close_database()
    return reached


def end_catch_up(process: subprocess.Popen) -> None:
    from store.streams import registry as streams

    open_database(f'sqlite:///{DB_PATH}')
    with connection():
        streams.remove_stream(CATCH_UP_STREAM, 'bench')
    close_database()
    process.terminate()
    process.wait(30)


def keyword_rounds(rounds: int, catch_up: bool = False) -> None:
    """Keyword and Enter, from a fresh server each round (see the module); with `catch_up`, while the server's
    delivery process resends the whole store to a stream."""
    from playwright.sync_api import sync_playwright

    prepare_database()
    samples: dict[str, list[float]] = {k: [] for k in KEYWORDS}
    first: list[float] = []
    delivered: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        receiver = start_catch_up(Path(tmp) / 'receiver') if catch_up else None
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for round_ in range(rounds):
            if receiver is not None:
                replay_catch_up()
            totals = exact_totals({k: EventFilter(search=k) for k in KEYWORDS})  # a replay adds an event
            began = time.perf_counter()
            server = start_server(f'sqlite:///{DB_PATH}', Path(tmp) / f'server-{round_}.log')
            try:
                page = browser.new_page(viewport={'width': 1400, 'height': 900})
                page.set_default_timeout(60_000)
                sign_in(page, server.url)
                shift = round_ % len(KEYWORDS)
                for i, keyword in enumerate(KEYWORDS[shift:] + KEYWORDS[:shift]):
                    box = page.get_by_label('Search')
                    box.fill(keyword)
                    page.evaluate(ARM_ENTER, f' of {totals[keyword]:,}')
                    box.press('Enter')
                    try:
                        page.wait_for_function('() => window.__done !== null', polling=20, timeout=60_000)
                    except Exception:
                        footer = page.locator('.q-table__bottom').inner_text().replace('\n', ' ')
                        log = (Path(tmp) / f'server-{round_}.log').read_text()[-4000:]
                        sys.exit(f'{keyword!r}: the footer never showed {totals[keyword]:,}: {footer!r}\n{log}')
                    ms = page.evaluate('window.__done - window.__t0')
                    samples[keyword].append(ms)
                    if i == 0:
                        first.append(ms)
                page.close()
            finally:
                stop_server(server)
            if receiver is not None:
                delivered.append(replay_catch_up() / (time.perf_counter() - began))
        browser.close()
        if receiver is not None:
            end_catch_up(receiver)
    print(f'\nKeyword + Enter -> updated table and total in Chromium, {EVENTS:,} events, {rounds} fresh servers'
          + (', each delivering a stream that resends the whole store' if catch_up else '') + ':')
    if delivered:
        print(f'  delivered meanwhile: {statistics.median(delivered):,.0f} events/s (median of rounds, from each '
              'server\'s start to its stop)')
    for keyword, values in samples.items():
        print(f'  {keyword:10s} ({totals[keyword]:>9,} events)  ' + ', '.join(f'{v:.0f}' for v in values) + ' ms')
    every = [v for values in samples.values() for v in values]
    print(f'  every search:            {summary(every)}')
    if len(first) > 1:
        print(f'  first search of a server: {summary(first)}  (' + ', '.join(f'{v:.0f}' for v in first) + ' ms)')


def measure(page, change: Callable[[str, str], None], values: tuple[str, str], totals: tuple[int, int]) -> list[float]:
    samples = []
    for i in range(ITERATIONS):
        change(values[i % 2], f' of {totals[i % 2]:,}')
        page.wait_for_function('() => window.__done !== null', polling=50, timeout=60_000)
        samples.append(page.evaluate('window.__done - window.__t0'))
    return samples


def main() -> None:
    from playwright.sync_api import sync_playwright

    prepare_database()
    filters = {f'{kind}: {value}': make_filter(fixed, field, value)
               for kind, (fixed, field, values) in KINDS.items() for value in values}
    totals = exact_totals(filters)
    for kind, (_, _, values) in KINDS.items():
        a, b = (totals[f'{kind}: {v}'] for v in values)
        if a == b or not a or not b:
            sys.exit(f'{kind}: the values match {a:,} and {b:,} events; pick values with different, non-zero totals')
    print(f'Events stored: {exact_totals({"all": EventFilter()})["all"]:,}')

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(f'sqlite:///{DB_PATH}', Path(tmp) / 'server.log')
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={'width': 1400, 'height': 900})
                page.set_default_timeout(60_000)
                started = time.perf_counter()
                page.goto(f'{server.url}/audit-logs')
                page.get_by_label('Email').fill(EMAIL)
                page.get_by_label('Password').fill(PASSWORD)
                page.get_by_role('button', name='Log in').click()
                page.locator('.q-table tbody tr').first.wait_for()
                print(f'Sign-in to the first table: {(time.perf_counter() - started) * 1000:.0f} ms')
                results = {kind: run_kind(page, server.url, kind, totals) for kind in KINDS}
                browser.close()
        finally:
            stop_server(server)
    store = store_timings(filters)
    print(f'\nFilter change -> updated table in Chromium, {EVENTS:,} seeded events, {ITERATIONS} changes each:')
    for kind, samples in results.items():
        print(f'  {kind:22s} {summary(samples)}')
    print(f'  (Search samples include the input\'s {SEARCH_DEBOUNCE_MS} ms debounce.)')
    print('\nThe same query in-process (find_events: first 50 rows + exact total), median of 5:')
    for name, ms in store.items():
        print(f'  {name:36s} {ms:7.0f} ms  ({totals[name]:,} events)')


def run_kind(page, base_url: str, kind: str, totals: dict[str, int]) -> list[float]:
    fixed, field, values = KINDS[kind]
    query = '&'.join(f'{k}={v}' for k, v in fixed.items())
    page.goto(f'{base_url}/audit-logs' + (f'?{query}' if query else ''))
    page.locator('.q-table tbody tr').first.wait_for()
    expected = tuple(totals[f'{kind}: {v}'] for v in values)

    def choose(value: str, expected_footer: str) -> None:
        page.get_by_role('combobox', name=field.title()).click()
        option = page.get_by_role('option', name=value, exact=True)
        option.wait_for()
        page.evaluate(ARM, expected_footer)
        option.click()

    def search(value: str, expected_footer: str) -> None:
        page.evaluate(ARM, expected_footer)
        page.get_by_label('Search').fill(value)

    return measure(page, search if field == 'search' else choose, values, expected)


if __name__ == '__main__':
    if '--keywords' in sys.argv:
        rounds = int(sys.argv[sys.argv.index('--rounds') + 1]) if '--rounds' in sys.argv else 5
        keyword_rounds(rounds, catch_up='--catch-up' in sys.argv)
    else:
        main()
