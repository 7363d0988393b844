"""The command line's parser, its shared options, and reading their values (times, filters, passwords)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from store.engine.db import StoreError
from store.ledger import taxonomy
from store.read.events import SORTABLE, EventFilter


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
    add_sort_arguments(export)

    explain = commands.add_parser('explain', help='print how the read planner reads a view, and what it costs')
    add_filter_arguments(explain)
    explain.add_argument('--as', dest='as_user', metavar='EMAIL',
                         help="the view this account sees (default: the whole organization)")
    add_sort_arguments(explain)
    explain.add_argument('--offset', type=int, default=0, metavar='N', help='the page starts after N events')
    explain.add_argument('--limit', type=int, default=50, metavar='N', help='events in the page (1-1000)')

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


def add_sort_arguments(parser: argparse.ArgumentParser) -> None:
    """The order of a view's events: newest first unless told otherwise."""
    parser.add_argument('--sort', default='timestamp', choices=SORTABLE, help='the column to sort by')
    parser.add_argument('--ascending', action='store_true', help='oldest or smallest first')


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
    deliver = actions.add_parser('deliver', help='deliver the streams in this process until stopped (the server '
                                                 'runs one itself unless AUDIT_STREAM_DELIVERY=off)')
    deliver.add_argument('--idle', action='store_true',
                         help='run only when no other process wants the CPU (SCHED_IDLE), as the server runs it')
    deliver.add_argument('--until-stdin-closes', action='store_true',
                         help='also stop when standard input ends (how the server ties the process to itself)')
    replay = actions.add_parser('replay', help='resend the events from a time on')
    replay.add_argument('name')
    replay.add_argument('--since', required=True, metavar='T', help='ISO 8601 time, e.g. 2026-10-01')


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
    from store.ledger.validation import ValidationError, parse_timestamp

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
