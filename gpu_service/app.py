"""The gpu_service application: `create_app()` for uvicorn (`--factory`) and tests."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.errors import EngineUnavailable
from common.http_errors import install_error_handlers
from gpu_service import __version__
from gpu_service.assets import AssetLibrary
from gpu_service.config import Settings
from gpu_service.dependencies import Services
from gpu_service.device import pick_device
from gpu_service.engines.catalog import build_registry
from gpu_service.engines.face import FaceAnalyzer
from gpu_service.routes import avatar, files, health, portraits, tts, voices
from gpu_service.schemas import PortraitInfo, VoiceInfo

log = logging.getLogger("gpu_service")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.output_root.mkdir(parents=True, exist_ok=True)
    faces = FaceAnalyzer(settings.cache_dir)
    device = pick_device(settings.device)
    services = Services(
        settings=settings,
        engines=build_registry(settings, faces, device.name),
        voices=AssetLibrary("voice", settings.voices_dir, "voices.json", VoiceInfo, settings.voice_roots),
        portraits=AssetLibrary(
            "portrait", settings.portraits_dir, "portraits.json", PortraitInfo, settings.portrait_roots
        ),
        device=device,
        faces=faces,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load the default engines now, so the first request does not pay for it and /health is truthful.
        for kind in ("tts", "avatar"):
            try:
                services.engines.get(kind, None)
            except EngineUnavailable as exc:
                log.warning("%s", exc.detail)
        yield

    app = FastAPI(title="Realtime Avatar gpu_service", version=__version__, lifespan=lifespan)
    app.state.services = services

    install_error_handlers(app)
    for router in (health.router, tts.router, voices.router, avatar.router, portraits.router, files.router):
        app.include_router(router)
    return app
