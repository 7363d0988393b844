"""Fixtures shared by the store's tests."""

import pytest


@pytest.fixture(params=[1, 3], ids=['one pass', 'three parts'])
def parts(request, monkeypatch) -> int:
    """Cold counts in one pass, or split into three spans counted side by side (store/read/counts.py)."""
    from store.read import counts

    monkeypatch.setattr(counts, 'PARTS', request.param)
    monkeypatch.setattr(counts, 'SPLIT_FROM', 0)
    return request.param
