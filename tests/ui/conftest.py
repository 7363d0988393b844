"""Fixtures for the page-logic tests (NiceGUI's simulated user)."""

from collections.abc import AsyncIterator

import httpx
import pytest
from nicegui.functions.navigate import History

from ui.api.application import create_api


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    """A client of the JSON API's app, in process (the API tests)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(create_api()), base_url='http://test') as client:
        yield client


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
