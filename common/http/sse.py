"""Server-sent events (text/event-stream) written and read in one place, for both services."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from pydantic import BaseModel

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # proxies must pass each event on at once


def event(data: BaseModel | object, name: str | None = None) -> bytes:
    """One event: `data` as JSON (a model as its JSON form), under `name` if given."""
    body = (
        data.model_dump_json(exclude_none=True) if isinstance(data, BaseModel) else json.dumps(data, ensure_ascii=False)
    )
    return (f"event: {name}\n" if name else "").encode() + f"data: {body}\n\n".encode()


async def data_of(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each event in a stream of lines (comments and other fields skipped; multi-line data joined)."""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield "\n".join(data)
