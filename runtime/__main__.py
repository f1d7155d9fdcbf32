"""`python -m runtime`: serve on RUNTIME_HOST:RUNTIME_PORT."""

from __future__ import annotations

import uvicorn

from runtime.app import create_app
from runtime.config import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
