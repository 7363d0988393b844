"""Audit Logs: the command line's entry point. Run `python main.py --help`.

The commands live in `cli/` (the parser in cli/arguments.py); this file dispatches to them and turns a
store's refusal into `error: ...` and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from cli import commands, streams
from cli.arguments import build_parser
from cli.serve import cmd_serve
from store.engine import settings
from store.engine.db import StoreError
from store.ledger import taxonomy
from store.lifecycle.opening import close_database

COMMANDS: dict[str, Callable[[argparse.Namespace, str], int]] = {
    'serve': cmd_serve, 'seed': commands.cmd_seed, 'create-user': commands.cmd_create_user,
    'create-token': commands.cmd_create_token, 'import': commands.cmd_import, 'export': commands.cmd_export,
    'explain': commands.cmd_explain,
    'verify': commands.cmd_verify, 'backup': commands.cmd_backup, 'migrate-db': commands.cmd_migrate_db,
    'stream': streams.cmd_stream,
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
