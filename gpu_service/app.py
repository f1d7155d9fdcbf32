"""The gpu_service application: `create_app()` for uvicorn (`--factory`) and tests."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import Gauge

from common.http.auth import install_key_guard
from common.http.body_limit import BodyLimit
from common.http.error_handlers import install_error_handlers
from common.http.observability import HttpMetrics, configure_logging, install_observability
from common.http.options import AllowedMethods
from common.storage.retention import DiskUsageProbe, StorageProbe, prepare_output_root, start_cleanup
from contracts.gpu_service import PortraitInfo, VoiceInfo
from gpu_service import __version__, memory
from gpu_service.assets import AssetLibrary
from gpu_service.config import Settings
from gpu_service.dependencies import Services
from gpu_service.device import pick_device
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.catalog import build_registry
from gpu_service.routes import avatar, avatar_stream, files, health, portraits, speak, transcribe, tts, voices
from gpu_service.routes import sessions as session_routes
from gpu_service.sessions.avatar_stream import AvatarStreams
from gpu_service.sessions.live import LiveSessions
from gpu_service.sessions.slots import SessionSlots
from gpu_service.text import use_word_list_cache
from gpu_service.warmup import warm_bundled_voices

log = logging.getLogger("gpu_service")
RESULT_FOLDERS = ("tts", "video", "inputs")  # what retention deletes; cache/ is derived data, kept


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> FastAPI:
    """`configure_logs=False` when embedded in another service's process (the runtime's fallback)."""
    settings = settings or Settings()
    if configure_logs:
        configure_logging("gpu_service", settings.log_level, settings.log_format)
    prepare_output_root(settings.output_root)  # made if missing; /health keeps checking it
    metrics = HttpMetrics("gpu_service")
    engine_load = Gauge(
        "gpu_service_engine_load_seconds", "Time each engine took to load", ["engine"], registry=metrics.registry
    )
    faces = FaceAnalyzer(settings.cache_dir, settings.max_portrait_pixels, settings.cache_items)
    use_word_list_cache(settings.cache_dir / "jieba")  # Chinese replies are cut into words, whatever the engines
    device = pick_device(settings.device)
    memory_figures: dict[str, tuple[str, Callable[[], float]]] = {
        "resident_memory_peak_bytes": ("Peak resident memory of the process", memory.resident_peak_bytes),
        "device_memory_peak_bytes": (
            "Peak GPU memory (CUDA allocated, MPS driver); NaN on the CPU",
            lambda: memory.device_peak_bytes(device.name),
        ),
        "resident_memory_bytes": ("Resident memory of the process now", memory.resident_bytes),
        "device_memory_bytes": (
            "GPU memory torch holds now (CUDA allocated, MPS driver); NaN on the CPU",
            lambda: _or_nan(memory.device_bytes(device.name)),
        ),
    }
    for name, (description, read) in memory_figures.items():
        Gauge(f"gpu_service_{name}", description, registry=metrics.registry).set_function(read)
    services = Services(
        settings=settings,
        engines=build_registry(
            settings, faces, device.name, on_loaded=lambda name, seconds: engine_load.labels(engine=name).set(seconds)
        ),
        voices=AssetLibrary("voice", settings.voices_dir, "voices.json", VoiceInfo, settings.voice_roots),
        portraits=AssetLibrary(
            "portrait", settings.portraits_dir, "portraits.json", PortraitInfo, settings.portrait_roots
        ),
        device=device,
        faces=faces,
        metrics=metrics,
        storage=StorageProbe(settings.output_root, "GPU_OUTPUT_ROOT"),
        disk=DiskUsageProbe(settings.output_root),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Load the default engines now, so the first request does not pay for it and /health is truthful.
        for problem in services.engines.load_defaults():
            log.warning("%s", problem)
        if settings.llm.preload:  # seconds to load (the first time, to convert): in the background, /health shows it
            threading.Thread(target=services.engines.llm.preload, name="llm-preload", daemon=True).start()
        if settings.warm_voices and settings.voice_matching:
            threading.Thread(target=warm_bundled_voices, args=(services,), name="voice-warmup", daemon=True).start()
        cleanup = start_cleanup(
            [settings.output_root / folder for folder in RESULT_FOLDERS],
            settings.retention_hours,
            settings.cleanup_interval_s,
        )
        unloader = asyncio.create_task(_unload_idle_engines(services))
        try:
            yield
        finally:
            unloader.cancel()
            cleanup.cancel()
            await sessions.close_all()

    app = FastAPI(title="Realtime Avatar gpu_service", version=__version__, lifespan=lifespan)
    app.state.services = services
    slots = SessionSlots(settings.sessions.max)
    sessions = LiveSessions(services, slots)
    app.state.sessions = sessions
    app.state.streams = AvatarStreams(services, slots)

    install_error_handlers(app, "GPU_OUTPUT_ROOT")
    install_key_guard(app, [settings.shared_secret] if settings.shared_secret else [], "GPU_SHARED_SECRET")
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_input_bytes,
        max_json_bytes=settings.max_json_bytes,
        settings="GPU_MAX_INPUT_BYTES, GPU_MAX_JSON_BYTES",
    )
    app.add_middleware(AllowedMethods, api=app)
    install_observability(app, metrics)
    for router in (
        health.router,
        tts.router,
        speak.router,
        transcribe.router,
        voices.router,
        avatar.router,
        portraits.router,
        files.router,
        session_routes.router,
        avatar_stream.router,
    ):
        app.include_router(router)
    return app


async def _unload_idle_engines(services: Services) -> None:
    """The model manager's clock: engines idle past GPU_IDLE_UNLOAD_S give their memory back."""
    interval = services.engines.check_interval_s()
    while interval is not None:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(services.engines.unload_idle)
        except Exception:  # an engine that fails to close must not stop the others from unloading
            log.exception("unloading idle engines failed")


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value
