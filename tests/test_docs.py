"""The README documents every setting and every command."""

from pathlib import Path

import main
from store import settings

README = (Path(__file__).resolve().parents[1] / 'README.md').read_text()


def test_every_setting_is_documented():
    for setting in settings.ALL:
        assert f'`{setting.env}`' in README, setting.env


def test_every_command_is_documented():
    for command in main.COMMANDS:
        assert f'`{command}' in README, command
