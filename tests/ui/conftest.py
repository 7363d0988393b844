"""Fixtures for the page-logic tests (NiceGUI's simulated user)."""

import pytest
from nicegui.functions.navigate import History


@pytest.fixture
def url_changes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs the page put into the address bar with history.replaceState."""
    seen: list[str] = []
    original = History.replace

    def record(self: History, url: str) -> None:
        seen.append(url)
        original(self, url)
    monkeypatch.setattr(History, 'replace', record)
    return seen
