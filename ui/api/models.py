"""The API's documentation models: the handlers read and write plain JSON; these describe it in /docs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class EventOut(BaseModel):
    id: str
    timestamp: str = Field(description='ISO 8601 UTC with milliseconds and Z.')
    user: str
    scope: str
    category: str
    action: str
    target: str
    status: str
    description: str
    workspace: str | None
    metadata: dict[str, Any] | None
    hash: str = Field(description="SHA-256 over the event's content and the previous event's hash.")


class EventList(BaseModel):
    events: list[EventOut]
    total: int = Field(description='How many events match, on every page.')
    next_cursor: str | None = Field(description='Pass as `cursor` for the next (older) page; null on the last.')


class Appended(BaseModel):
    ids: list[str] = Field(description="Every event's id, in the order sent (generated where none was sent).")
    stored: int
    duplicates: int = Field(description='Events whose id was stored already (or repeated in the request).')


class Problem(BaseModel):
    detail: str
    field: str | None = Field(description='The field or parameter at fault.')
    index: int | None = Field(None, description="In a batch, the event's position (from 0).")


PROBLEMS: dict[int | str, dict[str, Any]] = {status: {'model': Problem, 'description': text} for status, text in (
    (400, 'Malformed JSON, a bad parameter, or more than 1,000 events'),
    (401, 'No token, or not a valid one'),
    (403, "The token's workspace does not cover this"),
    (413, 'The body is larger than 1 MiB'),
    (422, 'An event breaks a rule; `field` and `index` name it'),
)}
