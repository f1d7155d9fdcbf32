"""Server-sent events read as a client does (name and JSON data of each), for the tests that follow a stream's."""

from __future__ import annotations

import json

import httpx

ServerEvents = list[tuple[str, dict[str, object]]]


def read_events(url: str, into: ServerEvents, headers: dict[str, str] | None = None) -> None:
    """Every event of `url` into `into` as it comes, until the stream ends (run it in a thread beside the video)."""
    with httpx.stream("GET", url, headers=headers, timeout=120) as answer:
        name = ""
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                into.append((name, json.loads(line[6:])))
