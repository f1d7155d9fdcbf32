"""Waiting for what a gpu_service loads in the background after it starts."""

from __future__ import annotations

import time

import httpx


def wait_for_language_model(url: str, timeout_s: float = 300) -> None:
    """Until the default language model is loaded: its load (threads of its own) is not a slow answer nor a leak."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        engines = httpx.get(f"{url}/health").json()["engines"]
        if any(engine["kind"] == "llm" and engine["default"] and engine["state"] == "ready" for engine in engines):
            return
        time.sleep(1)
    raise AssertionError(f"the default language model did not load within {timeout_s:.0f} s")
