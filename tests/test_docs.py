"""The README documents every setting and every command."""

from pathlib import Path

import main
from store.engine import settings
from store.ledger.validation import MAX_LENGTH, MAX_METADATA_BYTES

README = (Path(__file__).resolve().parents[1] / 'README.md').read_text()


def test_every_setting_is_documented():
    for setting in settings.ALL:
        assert f'`{setting.env}`' in README, setting.env


def test_every_command_is_documented():
    for command in main.COMMANDS:
        assert f'`{command}' in README, command


def test_the_event_table_lists_every_limit():
    rows = {line.split('|')[1].strip(' `'): line for line in README.split('## The event\n', 1)[1].splitlines()
            if line.startswith('| `')}
    for field, limit in MAX_LENGTH.items():
        if field not in ('timestamp', 'scope', 'category', 'status'):  # these are a format or a list of names
            assert f'at most {limit:,} characters' in rows[field], field
    assert f'{MAX_METADATA_BYTES:,} bytes' in rows['metadata']
