"""Any OpenAI-compatible chat-completions server (vLLM, llama.cpp's server, Ollama, LM Studio, a hosted API).

Replies stream as server-sent events. The upstream's refusals keep their reason: unreachable, overloaded or rate
limited answers 503, anything else it gets wrong 502.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from common.errors import BadGateway, EngineUnavailable, ServiceError
from contracts.gpu_service import ChatTurn
from gpu_service.engines.llm.base import Generation

CHARS_PER_TOKEN = 3  # estimate without the server's tokenizer; errs towards more tokens, so trimming is safe


@dataclass(frozen=True)
class OpenAIOptions:
    base_url: str  # up to and including /v1
    model: str
    api_key: str | None
    window: int
    temperature: float
    connect_s: float
    stall_s: float  # longest wait for the next event


class OpenAIEngine:
    def __init__(self, options: OpenAIOptions) -> None:
        self.name = "openai"
        self.options = options
        self.window = options.window
        headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}
        timeout = httpx.Timeout(options.stall_s, connect=options.connect_s)
        self._client = httpx.Client(base_url=options.base_url.rstrip("/"), headers=headers, timeout=timeout)

    def count_tokens(self, messages: list[ChatTurn]) -> int:
        return sum(4 + len(turn.content) // CHARS_PER_TOKEN for turn in messages)

    def read_ahead(self, messages: list[ChatTurn]) -> None:
        """Nothing: the server keeps (or not) what it has read; there is no call to ask it to read ahead."""

    def stream(self, messages: list[ChatTurn], max_tokens: int, generation: Generation) -> Generator[str, None, None]:
        body = {
            "model": self.options.model,
            "messages": [{"role": turn.role, "content": turn.content} for turn in messages],
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": self.options.temperature,
        }
        where = f"the LLM server at {self.options.base_url}"
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    raise _refusal(response, where)
                for event in _events(response.iter_lines()):
                    if generation.stop.is_set():  # leaving the block closes the connection: the server stops
                        return
                    choice = (event.get("choices") or [{}])[0]
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        generation.tokens += 1  # one event per token on the servers named above
                        yield piece
                    if reason := choice.get("finish_reason"):
                        generation.finish = "length" if reason == "length" else "stop"
                generation.finish = generation.finish or "stop"
        except httpx.ConnectError as exc:
            raise EngineUnavailable(f"cannot reach {where}: {exc}") from None
        except httpx.TimeoutException:
            raise BadGateway(f"{where} sent nothing for {self.options.stall_s:g} s") from None
        except httpx.HTTPError as exc:
            raise BadGateway(f"{where} failed: {type(exc).__name__}: {exc}") from None


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of an SSE stream, until `[DONE]`."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            yield json.loads(data)
        except json.JSONDecodeError:
            raise BadGateway(f"the LLM server sent an event that is not JSON: {data[:200]!r}") from None


def _refusal(response: httpx.Response, where: str) -> ServiceError:
    response.read()
    try:
        error = response.json().get("error", {})
        reason = error.get("message") if isinstance(error, dict) else str(error)
    except (json.JSONDecodeError, AttributeError):
        reason = None
    reason = reason or response.text[:300] or response.reason_phrase
    detail = f"{where} answered {response.status_code}: {reason}"
    if response.status_code in (429, 503):
        return EngineUnavailable(detail, headers={"Retry-After": response.headers.get("retry-after", "5")})
    return BadGateway(detail)
