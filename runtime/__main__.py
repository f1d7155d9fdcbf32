"""`python -m runtime`: serve on RUNTIME_HOST:RUNTIME_PORT."""

from __future__ import annotations

import uvicorn

from common.process.launch import HTTP, LOOP, WS_DEFLATE
from runtime.app import create_app
from runtime.config import Settings


def main() -> None:
    settings = Settings()
    # log_config=None: uvicorn keeps the logging create_app set up (JSON lines), instead of its own plain text.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        http=HTTP,
        loop=LOOP,
        ws_per_message_deflate=WS_DEFLATE,
    )


if __name__ == "__main__":
    main()
