"""A small OpenAI-compatible chat-completions server for tests: the embedded model behind real HTTP and SSE.

Not a mock: it streams what SmolLM2 writes. The path's first part picks how it behaves, so one server covers the
upstream failures the `openai` engine must handle: /ok/v1 (normal), /overloaded/v1 (503), /refused/v1 (401),
/stall/v1 (two tokens, then silence), /drop/v1 (two tokens, then the connection ends without [DONE]).
On /ok/v1, a marker in the user's last message does the same for tests that go through the runtime:
"[overloaded]" answers 503, "[drop-late]" ends the connection after DROP_LATE pieces (a shorter reply: after its
last, before [DONE]).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from contracts.gpu_service import ChatTurn
from gpu_service.config import Settings
from gpu_service.engines.llm.base import Generation
from gpu_service.engines.llm.llama_cpp_engine import LlamaCppEngine
from gpu_service.engines.llm.local_model import Decoding

STALL_S = 20  # far longer than the stall limit the tests give the engine
DROP_LATE = 16  # pieces before a late drop: past the first sentence, before the end of a reply


def create_app() -> FastAPI:
    settings = Settings()
    engine = LlamaCppEngine("smollm2", settings.llm.smollm2_gguf, Decoding(0.0, 0.9, 1.2, 4, 30))
    app = FastAPI()
    app.state.requests = []

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/seen")
    def seen() -> list[Any]:
        """The request bodies received so far (what the engine sent upstream)."""
        return list(app.state.requests)

    @app.post("/{mode}/v1/chat/completions", response_model=None)
    async def completions(mode: str, request: Request) -> StreamingResponse | JSONResponse:
        body = await request.json()
        app.state.requests.append({"mode": mode, "headers": dict(request.headers), "body": body})
        last = body["messages"][-1]["content"]
        mode = next((marker for marker in ("overloaded", "drop-late") if f"[{marker}]" in last), mode)
        if mode == "overloaded":
            return JSONResponse({"error": {"message": "the server is overloaded"}}, status_code=503)
        if mode == "refused":
            return JSONResponse({"error": {"message": "invalid API key"}}, status_code=401)
        turns = [ChatTurn(role=message["role"], content=message["content"]) for message in body["messages"]]
        pieces = engine.stream(turns, int(body.get("max_tokens", 64)), Generation())
        drop_at = {"stall": 2, "drop": 2, "drop-late": DROP_LATE}.get(mode)

        def events() -> Iterator[bytes]:  # sync: Starlette runs it in a worker thread, piece by piece
            created = int(time.time())
            for index, piece in enumerate(pieces):
                if index == drop_at:
                    if mode == "stall":
                        time.sleep(STALL_S)
                    raise ConnectionError("dropped by the test server")
                chunk = {
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            if mode == "drop-late":  # a reply shorter than DROP_LATE pieces is dropped at its end, before [DONE]
                raise ConnectionError("dropped by the test server")
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    return app
