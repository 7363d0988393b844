"""`main.py stream ...`: add, list, pause, resume, replay and remove streams (store/streams/registry.py)."""

from __future__ import annotations

import argparse

from cli.arguments import event_filter, parse_time
from store.engine.db import StoreError, connection
from store.lifecycle.opening import open_database


def cmd_stream(args: argparse.Namespace, url: str) -> int:
    from store.streams import registry as streams

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
