"""Scopes and their categories: four fixed scopes, each with a list a team may extend."""

from __future__ import annotations

import json
from pathlib import Path

from store.engine.db import StoreError

SCOPES: tuple[str, ...] = ('Organization', 'Billing', 'Workspace', 'Service')

BASE_CATEGORIES: dict[str, tuple[str, ...]] = {
    'Organization': ('Member', 'Policy', 'Workspace'),
    'Billing': ('Credit', 'Payment', 'Plan', 'Voucher'),
    'Workspace': ('Member', 'Settings', 'GPU Quota'),
    'Service': ('AI Notebook', 'GPU Container', 'AI Inference'),
}

_extra: dict[str, tuple[str, ...]] = {}


def categories(scope: str) -> tuple[str, ...]:
    """The categories of `scope` (empty for an unknown scope)."""
    return BASE_CATEGORIES.get(scope, ()) + _extra.get(scope, ())


def taxonomy() -> dict[str, list[str]]:
    return {scope: list(categories(scope)) for scope in SCOPES}


def all_categories() -> list[str]:
    seen: dict[str, None] = {}
    for scope in SCOPES:
        seen.update(dict.fromkeys(categories(scope)))
    return list(seen)


def load_extra_categories(path: str) -> None:
    """Add the categories of a JSON file {"Scope": ["Category", ...]} to the fixed lists."""
    _extra.clear()
    if not path:
        return
    try:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, ValueError) as exc:
        raise StoreError(f'cannot read taxonomy file {path}: {exc}') from exc
    if not isinstance(data, dict):
        raise StoreError(f'taxonomy file {path}: expected an object {{"Scope": ["Category", ...]}}')
    for scope, names in data.items():
        if scope not in SCOPES:
            raise StoreError(f'taxonomy file {path}: unknown scope {scope!r} (scopes are {", ".join(SCOPES)})')
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise StoreError(f'taxonomy file {path}: {scope} must list category names')
        _extra[scope] = tuple(n.strip() for n in names if n.strip() not in BASE_CATEGORIES[scope])
