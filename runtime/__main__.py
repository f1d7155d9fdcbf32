"""`python -m runtime`: serve on RUNTIME_HOST:RUNTIME_PORT."""

from __future__ import annotations

from common.process.launch import serve
from runtime.app import create_app
from runtime.config import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
