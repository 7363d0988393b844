"""`main.py stream ...`: add, change, list, pause, resume, replay and remove streams (store/streams/registry.py)."""

from __future__ import annotations

import argparse

from cli.arguments import event_filter, parse_time
from cli.delivery import cmd_deliver
from store.engine.db import StoreError, connection
from store.lifecycle.opening import open_database
from store.read.events import EventFilter
from store.streams import registry as streams


def cmd_stream(args: argparse.Namespace, url: str) -> int:
    if args.stream_command == 'deliver':
        return cmd_deliver(args, url)
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
