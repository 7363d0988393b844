"""The commands that work on the store: seed, create-user, create-token, import, export, explain, verify,
backup, migrate-db. Each opens the database, calls the store and prints one line of result (errors: StoreError)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.arguments import event_filter, read_password
from store.engine.db import StoreError, connection
from store.lifecycle.opening import open_database
from store.people.accounts import get_account
from store.read.events import Sort, Viewer
from store.read.planner import explain


def cmd_seed(args: argparse.Namespace, url: str) -> int:
    import time

    from store.ledger.validation import ValidationError, parse_timestamp
    from store.write.bulk import load
    from store.write.ingest import prepare
    from store.write.seed import demo_events, prefetched

    if args.events < 1:
        raise StoreError('--events must be at least 1')
    try:
        end = parse_timestamp(args.end, '--end') if args.end else None
    except ValidationError as exc:
        raise StoreError(str(exc)) from None
    open_database(url)
    started = time.perf_counter()
    with connection():
        stored, duplicates = load(prefetched(demo_events(args.events, seed=args.seed, end=end), transform=prepare),
                                  args.events)
    elapsed = time.perf_counter() - started
    print(f'Added {stored:,} events ({duplicates:,} already stored) in {elapsed:.1f} s.')
    return 0


def cmd_create_user(args: argparse.Namespace, url: str) -> int:
    from store.people.accounts import check_email, create_account
    from store.write import self_audit

    email = check_email(args.email)
    if args.role == 'admin' and not args.workspace:
        raise StoreError('--role admin needs --workspace NAME')
    if args.role == 'owner' and args.workspace:
        raise StoreError('an owner sees every workspace: leave out --workspace')
    password = read_password(email)
    open_database(url)
    with connection():
        account = create_account(email, password, args.role, args.workspace)
        self_audit.record('system', 'Create Account', account.email,
                          f'Created {account.role_label} account {account.email} from the command line')
    where = f' of {", ".join(account.workspaces)}' if account.workspaces else ''
    print(f'Created {account.role_label}{where}: {account.email}')
    return 0


def cmd_create_token(args: argparse.Namespace, url: str) -> int:
    from store.people.tokens import create_token

    open_database(url)
    with connection():
        token = create_token(args.name, args.workspace, created_by='command line')
    print(token)
    return 0


def cmd_import(args: argparse.Namespace, url: str) -> int:
    from store.write.importer import import_file

    open_database(url)
    with connection():
        result = import_file(args.file, progress=lambda n: print(f'  checked {n:,} events…', file=sys.stderr))
    print(f'Imported {result.stored:,} events from {args.file} ({result.duplicates:,} already stored).')
    return 0


def viewer_of(as_user: str | None) -> tuple[Viewer, str]:
    """The view of `--as EMAIL` (an active account's) or the whole organization's, and who reads it."""
    if not as_user:
        return Viewer.organization('command line'), 'command line'
    account = get_account(as_user)
    if account is None or account.disabled:
        raise StoreError(f'no active account {as_user}')
    return account.viewer(), account.email


def cmd_export(args: argparse.Namespace, url: str) -> int:
    from store.read.export import export_to_file

    flt = event_filter(args)
    open_database(url)
    with connection():
        viewer, exported_by = viewer_of(args.as_user)
        rows = export_to_file(Path(args.output), viewer, flt, Sort(args.sort, not args.ascending),
                              exported_by=exported_by)
    print(f'Wrote {rows:,} events to {args.output}.')
    return 0


def cmd_explain(args: argparse.Namespace, url: str) -> int:
    if args.offset < 0 or not 1 <= args.limit <= 1000:
        raise StoreError('--offset must be 0 or more and --limit between 1 and 1000')
    flt = event_filter(args)
    open_database(url)
    with connection():
        viewer, _ = viewer_of(args.as_user)
        print('\n'.join(explain(viewer, flt, Sort(args.sort, not args.ascending), args.offset, args.limit)))
    return 0


def cmd_verify(args: argparse.Namespace, url: str) -> int:
    from store.ledger.chain import parse_anchor, verify

    if args.copy:
        return verify_copy(args, url)
    if args.stream:
        raise StoreError('--stream goes with --copy FILE.jsonl')

    try:
        anchor = parse_anchor(args.anchor) if args.anchor else None
    except ValueError as exc:
        raise StoreError(f'--anchor: {exc}') from None
    open_database(url)
    with connection():
        report = verify(anchor=anchor)
    print(report.summary())
    return 0 if report.ok else 2


def verify_copy(args: argparse.Namespace, url: str) -> int:
    from store.streams.registry import get_stream
    from store.streams.verify import verify_copy

    open_database(url)
    with connection():
        report = verify_copy(Path(args.copy), get_stream(args.stream) if args.stream else None)
    print(report.summary())
    return 0 if report.ok else 2


def cmd_backup(args: argparse.Namespace, url: str) -> int:
    from store.engine.backup import backup_sqlite

    open_database(url)
    events = backup_sqlite(url, Path(args.file))
    print(f'Backed up {events:,} events to {args.file}.')
    return 0


def cmd_migrate_db(args: argparse.Namespace, url: str) -> int:
    from store.engine.db import redact
    from store.lifecycle.migrate import migrate

    def progress(table: str, copied: int) -> None:
        if table == 'event' and copied % 100_000 == 0:
            print(f'  {copied:,} events copied', file=sys.stderr)

    report = migrate(url, args.to, progress)
    copied = ', '.join(f'{table} {count:,}' for table, count in report.rows.items())
    print(f'Copied into {redact(args.to)}: {copied}.')
    if report.chain is None:  # migrate() verifies every copy it returns
        raise StoreError(f'the copy was not verified: run main.py --db {redact(args.to)} verify')
    print(f'verify on the copy: {report.chain.summary()}')
    return 0 if report.chain.ok else 2
