"""Audit Logs: configuration, wiring and the command line. Run `python main.py --help`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from store import oidc_config, settings, taxonomy
from store.db import StoreError, close_database, connection, open_database
from store.events import EventFilter, Sort, Viewer

DEMO_EVENTS = 20_000
DEMO_ACCOUNTS = (
    ('owner@acme.io', 'owner-demo-pass', 'owner', ()),
    ('research-admin@acme.io', 'admin-demo-pass', 'admin', ('research',)),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python main.py',
                                     description='Audit Logs: a self-hosted audit-log dashboard.')
    parser.add_argument('--db', default=None, help='database URL (default: $DATABASE_URL, else sqlite:///data/audit.db)')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')

    serve = commands.add_parser('serve', help='serve the web app and the API (the default command)')
    serve.add_argument('--host', default='127.0.0.1')
    serve.add_argument('--port', type=int, default=8080)
    serve.add_argument('--demo', action='store_true', help='seed demo events and demo accounts into an empty database')

    seed = commands.add_parser('seed', help='add realistic demo events')
    seed.add_argument('--events', type=int, required=True, metavar='N')
    seed.add_argument('--seed', type=int, default=None, metavar='S', help='random seed: the same seed, the same events')
    seed.add_argument('--end', default=None, metavar='T', help='newest possible timestamp (default: now)')

    user = commands.add_parser('create-user', help='create an account (password from stdin or a prompt)')
    user.add_argument('email')
    user.add_argument('--role', choices=('owner', 'admin'), required=True)
    user.add_argument('--workspace', action='append', default=[], metavar='NAME',
                      help='a workspace the admin administers (repeat for several)')

    token = commands.add_parser('create-token', help='print a new API token once')
    token.add_argument('name')
    token.add_argument('--workspace', default=None, metavar='NAME', help='limit the token to one workspace')

    importer = commands.add_parser('import', help='append events from a JSON Lines or CSV file, all or nothing')
    importer.add_argument('file')

    export = commands.add_parser('export', help='write the matching events to .xlsx or .csv')
    add_filter_arguments(export)
    export.add_argument('-o', '--output', required=True, metavar='FILE', help='a .xlsx or .csv file')
    export.add_argument('--as', dest='as_user', metavar='EMAIL',
                        help="export only what this account may see (default: the whole organization)")

    verify = commands.add_parser('verify', help='check the integrity chain of every stored event')
    verify.add_argument('--anchor', default=None, metavar='SEQ:HASH',
                        help='an anchor an earlier check printed, kept elsewhere: proves nothing before it changed')
    verify.add_argument('--copy', default=None, metavar='FILE.jsonl',
                        help="check a stream's copy held elsewhere against the store instead (see Streams)")
    verify.add_argument('--stream', default=None, metavar='NAME',
                        help='with --copy: also check that every event the stream delivered is in the copy')
    add_stream_commands(commands)

    backup = commands.add_parser('backup', help='copy an SQLite database to FILE while the app keeps running')
    backup.add_argument('file')

    migrate = commands.add_parser('migrate-db', help='copy this SQLite store into an empty database, then verify it')
    migrate.add_argument('--to', required=True, metavar='URL', help='the target, e.g. postgresql://user@host/audit')
    return parser


# ---- streams (store/streams.py) ----

def add_stream_commands(commands: argparse._SubParsersAction) -> None:
    stream = commands.add_parser('stream', help='deliver events to a webhook, chat, syslog or a file (see Streams)')
    actions = stream.add_subparsers(dest='stream_command', metavar='ACTION', required=True)
    add = actions.add_parser('add', help='create a stream; a webhook\'s signing secret is printed once')
    add.add_argument('name')
    add.add_argument('--to', required=True, metavar='URL',
                     help='https:// or http:// (loopback) webhook, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT, '
                          'file:///PATH.jsonl')
    add.add_argument('--format', choices=('json', 'ocsf', 'slack', 'cef'), default=None,
                     help='json (default), ocsf, slack (chat alert, webhooks), cef (syslog)')
    add.add_argument('--digest', type=int, default=0, metavar='MINUTES',
                     help='chat alerts: at most one message per MINUTES, with the count and the first events')
    add_filter_arguments(add)
    change = actions.add_parser('change', help="change a stream's destination, format, digest or filter; its "
                                               'position stays')
    change.add_argument('name')
    change.add_argument('--to', default=None, metavar='URL', help="a new destination, as add's --to (the format "
                                                                  "falls back to the new kind's default)")
    change.add_argument('--format', choices=('json', 'ocsf', 'slack', 'cef'), default=None)
    change.add_argument('--digest', type=int, default=None, metavar='MINUTES', help='0 turns the digest off')
    add_filter_arguments(change)
    change.add_argument('--every-event', action='store_true', help='drop the filter: the stream takes every event')
    actions.add_parser('list', help='one line per stream: name, state, destination, events delivered, lag')
    for action, text in (('pause', 'stop delivering until resumed'), ('resume', 'deliver again, from where it was'),
                         ('remove', "remove the stream (its history stays in the log)")):
        actions.add_parser(action, help=text).add_argument('name')
    replay = actions.add_parser('replay', help='resend the events from a time on')
    replay.add_argument('name')
    replay.add_argument('--since', required=True, metavar='T', help='ISO 8601 time, e.g. 2026-10-01')


def cmd_stream(args: argparse.Namespace, url: str) -> int:
    from store import streams

    by = 'command line'
    open_database(url)
    with connection():
        if args.stream_command == 'add':
            if args.until:
                raise StoreError('a stream follows new events: --until does not apply (--since starts it earlier)')
            flt = event_filter(args)
            stream, secret = streams.create_stream(args.name, args.to, args.format, flt, by,
                                                   digest_minutes=args.digest, since=flt.since)
            print(f'Created stream {stream.name} ({stream.format}) to {streams.shown_destination(stream)} '
                  f'for {stream.filter_text()}.')
            if secret:
                print(f'secret: {secret}')
        elif args.stream_command == 'change':
            change_stream(args, by)
        elif args.stream_command == 'list':
            for stream in streams.list_streams():
                lag = streams.lag(stream)
                print(f'{stream.name}\t{stream.state}\t{streams.shown_destination(stream)}\t'
                      f'{stream.delivered:,} delivered\tlag {lag}')
        elif args.stream_command == 'replay':
            since = parse_time(args.since, '--since')
            stream = streams.replay_stream(args.name, since, by)
            print(f'Stream {stream.name} resends its events from {args.since} (after position {stream.position}).')
        elif args.stream_command == 'remove':
            streams.remove_stream(args.name, by)
            print(f'Removed stream {args.name}.')
        else:
            change = streams.pause_stream if args.stream_command == 'pause' else streams.resume_stream
            stream = change(args.name, by)
            print(f'Stream {stream.name} is {stream.state}.')
    return 0


FILTER_OPTIONS = ('search', 'scope', 'category', 'status', 'user', 'workspace')


def change_stream(args: argparse.Namespace, by: str) -> None:
    """`stream change`: the filter options given replace the stream's whole filter (`--every-event` drops it); a
    webhook's signing secret is printed once when the change made one (a new webhook destination)."""
    from store import streams

    if args.since or args.until:
        raise StoreError('a change keeps the stream\'s position: --since and --until do not apply '
                         '(stream replay NAME --since T resends history)')
    filtering = any(getattr(args, name) for name in FILTER_OPTIONS)
    if filtering and args.every_event:
        raise StoreError('--every-event drops the filter: give it without filter options')
    if not (filtering or args.every_event or args.to or args.format or args.digest is not None):
        raise StoreError('nothing to change: give --to, --format, --digest, filter options or --every-event')
    before = streams.get_stream(args.name)
    flt = event_filter(args) if filtering else EventFilter() if args.every_event else None
    stream = streams.change_stream(args.name, by, to=args.to, fmt=args.format, flt=flt, digest_minutes=args.digest)
    print(f'Changed stream {stream.name} ({stream.format}) to {streams.shown_destination(stream)} '
          f'for {stream.filter_text()}.')
    if secret := streams.new_secret(before, stream):
        print(f'secret: {secret}')


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--search', default='')
    parser.add_argument('--scope', choices=taxonomy.SCOPES)
    parser.add_argument('--category')
    parser.add_argument('--status', choices=('SUCCESS', 'FAILED'))
    parser.add_argument('--user')
    parser.add_argument('--workspace')
    parser.add_argument('--since', metavar='T', help='ISO 8601 time, e.g. 2026-10-01 or 2026-10-01T08:00:00Z')
    parser.add_argument('--until', metavar='T')


def parse_time(value: str, option: str) -> datetime:
    from store.validation import ValidationError, parse_timestamp

    try:
        return parse_timestamp(value, option)
    except ValidationError as exc:
        raise StoreError(str(exc)) from None


def event_filter(args: argparse.Namespace) -> EventFilter:
    if args.category and args.scope and args.category not in taxonomy.categories(args.scope):
        raise StoreError(f'--category {args.category!r} is not a category of {args.scope}')
    since = parse_time(args.since, '--since') if args.since else None
    until = parse_time(args.until, '--until') if args.until else None
    return EventFilter(search=args.search or '', scope=args.scope, category=args.category, status=args.status,
                       user=args.user, since=since, until=until, workspace=args.workspace)


def read_password(email: str) -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip('\r\n')
    first = getpass.getpass(f'Password for {email}: ')
    if getpass.getpass('Repeat the password: ') != first:
        raise StoreError('the passwords do not match')
    return first


def cmd_serve(args: argparse.Namespace, url: str) -> int:
    from store import event_days, meta
    from store.accounts import count_accounts, create_account
    from store.db import is_sqlite
    from store.events import count_events
    from store.ingest import append_events
    from store.seed import demo_events
    from ui.app import serve
    from ui.config import AppConfig

    oidc = oidc_config.load()  # a mistake in the provider's settings stops the start before anything opens
    open_database(url, map_mib=whole_number(settings.SQLITE_MAP_MIB))
    if is_sqlite():
        event_days.read_ahead()
    with connection():
        if args.demo and count_events(Viewer.organization(), EventFilter()) == 0:
            append_events(demo_events(DEMO_EVENTS))
            print(f'Seeded {DEMO_EVENTS:,} demo events.')
        if args.demo and count_accounts() == 0:
            for email, password, role, workspaces in DEMO_ACCOUNTS:
                create_account(email, password, role, workspaces)
                print(f'Demo account: {email} / {password}')
        secret = settings.SESSION_SECRET.value() or meta.session_secret()
    from store.timefmt import zone
    app_config = AppConfig(
        database_url=url, timezone=zone(settings.DISPLAY_TIMEZONE.value()),
        organization=settings.ORGANIZATION_NAME.value(),
        session_idle_minutes=whole_number(settings.SESSION_IDLE_MINUTES, least=1),
        storage_secret=secret, oidc=oidc, password_login=oidc_config.password_mode())
    serve(app_config, host=args.host, port=args.port)
    return 0


def whole_number(setting: settings.Setting, least: int = 0) -> int:
    value = setting.value()
    if not value.isdigit() or int(value) < least:
        raise StoreError(f'{setting.env} must be a whole number of at least {least}, not {value!r}')
    return int(value)


def cmd_seed(args: argparse.Namespace, url: str) -> int:
    import time

    from store.bulk import load
    from store.ingest import prepare
    from store.seed import demo_events, prefetched
    from store.validation import ValidationError, parse_timestamp

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
    from store import self_audit
    from store.accounts import check_email, create_account

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
    from store.tokens import create_token

    open_database(url)
    with connection():
        token = create_token(args.name, args.workspace, created_by='command line')
    print(token)
    return 0


def cmd_import(args: argparse.Namespace, url: str) -> int:
    from store.importer import import_file

    open_database(url)
    with connection():
        result = import_file(args.file, progress=lambda n: print(f'  checked {n:,} events…', file=sys.stderr))
    print(f'Imported {result.stored:,} events from {args.file} ({result.duplicates:,} already stored).')
    return 0


def cmd_export(args: argparse.Namespace, url: str) -> int:
    from store.accounts import get_account
    from store.export import export_to_file

    flt = event_filter(args)
    open_database(url)
    with connection():
        viewer, exported_by = Viewer.organization('command line'), 'command line'
        if args.as_user:
            account = get_account(args.as_user)
            if account is None or account.disabled:
                raise StoreError(f'no active account {args.as_user}')
            viewer, exported_by = account.viewer(), account.email
        rows = export_to_file(Path(args.output), viewer, flt, Sort(), exported_by=exported_by)
    print(f'Wrote {rows:,} events to {args.output}.')
    return 0


def cmd_verify(args: argparse.Namespace, url: str) -> int:
    from store.chain import parse_anchor, verify

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
    from store.stream_verify import verify_copy
    from store.streams import get_stream

    open_database(url)
    with connection():
        report = verify_copy(Path(args.copy), get_stream(args.stream) if args.stream else None)
    print(report.summary())
    return 0 if report.ok else 2


def cmd_backup(args: argparse.Namespace, url: str) -> int:
    from store.backup import backup_sqlite

    open_database(url)
    events = backup_sqlite(url, Path(args.file))
    print(f'Backed up {events:,} events to {args.file}.')
    return 0


def cmd_migrate_db(args: argparse.Namespace, url: str) -> int:
    from store.db import redact
    from store.migrate import migrate

    def progress(table: str, copied: int) -> None:
        if table == 'event' and copied % 100_000 == 0:
            print(f'  {copied:,} events copied', file=sys.stderr)

    report = migrate(url, args.to, progress)
    copied = ', '.join(f'{table} {count:,}' for table, count in report.rows.items())
    print(f'Copied into {redact(args.to)}: {copied}.')
    print(f'verify on the copy: {report.chain.summary()}')
    return 0 if report.chain.ok else 2


COMMANDS: dict[str, Callable[[argparse.Namespace, str], int]] = {
    'serve': cmd_serve, 'seed': cmd_seed, 'create-user': cmd_create_user, 'create-token': cmd_create_token,
    'import': cmd_import, 'export': cmd_export, 'verify': cmd_verify, 'backup': cmd_backup,
    'migrate-db': cmd_migrate_db, 'stream': cmd_stream,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), 'serve'])
    url = args.db or settings.DATABASE_URL.value()
    try:
        taxonomy.load_extra_categories(settings.TAXONOMY_FILE.value())
        return COMMANDS[args.command](args, url)
    except StoreError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if args.command != 'serve':
            close_database()  # what the command stored is in the search index when it returns


if __name__ == '__main__':
    if os.environ.get('NICEGUI_USER_SIMULATION'):
        # NiceGUI's `user` test fixture runs this file; serve the configured database without parsing pytest's argv.
        main(['serve'])
    else:
        sys.exit(main())
