"""`python -m gpu_service`: serve on GPU_HOST:GPU_PORT."""

from __future__ import annotations

from common.process.launch import serve
from gpu_service.app import create_app
from gpu_service.config import Settings


def main() -> None:
    settings = Settings()
    serve(create_app(settings), settings.host, settings.port)


if __name__ == "__main__":
    main()
