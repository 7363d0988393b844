"""Finished exports, served by URL (not through the websocket) once, to the session that made them.

A file waits at most `KEEP_SECONDS` for its download, and is deleted once sent or expired.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from nicegui import app
from starlette.background import BackgroundTask

from ui.shell import session

PATH = '/export/download'
KEEP_SECONDS = 15 * 60


@dataclass(frozen=True)
class Offer:
    path: Path
    file_name: str
    media_type: str
    email: str
    expires: float


_offers: dict[str, Offer] = {}
_folder: Path | None = None


def new_file(file_name: str) -> Path:
    """A path named `file_name` in a fresh folder inside this process's private export folder (mode 0700)."""
    global _folder
    if _folder is None or not _folder.is_dir():
        _folder = Path(tempfile.mkdtemp(prefix='audit-exports-'))
    return Path(tempfile.mkdtemp(dir=_folder)) / file_name


def offer(path: Path, file_name: str, media_type: str, email: str) -> str:
    """Make `path` downloadable by `email`'s session; returns the relative URL."""
    _expire()
    token = secrets.token_urlsafe(32)
    _offers[token] = Offer(path, file_name, media_type, email, time.monotonic() + KEEP_SECONDS)
    try:
        asyncio.get_running_loop().call_later(KEEP_SECONDS + 1, _expire)
    except RuntimeError:
        pass  # no loop here: the next offer expires it
    return f'{PATH}/{token}'


def discard(path: Path) -> None:
    """Remove an export's file and the folder `new_file` made for it."""
    shutil.rmtree(path.parent, ignore_errors=True)


def _expire() -> None:
    now = time.monotonic()
    for token, waiting in list(_offers.items()):
        if waiting.expires <= now:
            del _offers[token]
            discard(waiting.path)


def _remove_folder() -> None:
    global _folder
    _offers.clear()
    if _folder is not None:
        shutil.rmtree(_folder, ignore_errors=True)
        _folder = None


def register() -> None:
    app.on_shutdown(_remove_folder)

    @app.get(f'{PATH}/{{token}}', include_in_schema=False)
    async def download(token: str, request: Request) -> Response:
        """The file, once. The session must be the one that exported it (the middleware has checked it is
        signed in); anyone else, and any expired or used link, gets the same 404."""
        _expire()
        waiting = _offers.get(token)
        if waiting is None or waiting.email != await session.signed_in_email(request):
            return PlainTextResponse('This export is no longer available: export again from the Audit Logs page.',
                                     status_code=404)
        del _offers[token]
        return FileResponse(waiting.path, media_type=waiting.media_type, filename=waiting.file_name,
                            headers={'Cache-Control': 'no-store'}, background=BackgroundTask(discard, waiting.path))
