"""`python -m gpu_service`: serve on GPU_HOST:GPU_PORT."""

from __future__ import annotations

import uvicorn

from gpu_service.app import create_app
from gpu_service.config import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
