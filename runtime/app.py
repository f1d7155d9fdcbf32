"""The runtime application: `create_app()` for uvicorn (`--factory`) and tests."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import Gauge

from common.http.auth import install_key_guard
from common.http.body_limit import MULTIPART_OVERHEAD, BodyLimit
from common.http.error_handlers import install_error_handlers
from common.http.observability import HttpMetrics, configure_logging, install_observability
from common.http.options import AllowedMethods
from common.storage.retention import DiskUsageProbe, StorageProbe, prepare_output_root, remove_older_than, start_cleanup
from runtime import __version__, web
from runtime.config import Settings
from runtime.conversations import ConversationStore
from runtime.dependencies import Services
from runtime.gpu_client import GpuUnreachable
from runtime.gpu_gateway import GpuGateway
from runtime.jobs import JobRunner, JobStore
from runtime.live_sessions import LiveSessionRecords
from runtime.pipelines import chat
from runtime.pipelines import generate as pipeline
from runtime.pipelines.dispatch import JobDispatch
from runtime.progress import RunningStreams, event_listeners
from runtime.rate_limit import RateLimiter
from runtime.routes import avatar_stream, conversations, generate, health, jobs, sessions, uploads, videos
from runtime.uploads import UploadStore
from runtime.videos import VideoStore

log = logging.getLogger("runtime")
INCOMING_MAX_AGE_S = 3600  # half-received uploads left by a crash
GPU_DOWN_RETRY_S = "5"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging("runtime", settings.log_level, settings.log_format)
    prepare_output_root(settings.data_dir)  # made if missing; /health keeps checking it
    metrics = HttpMetrics("runtime")
    gateway = GpuGateway(settings)
    upload_store = UploadStore(settings)
    video_store = VideoStore(settings.videos_dir)
    listeners = event_listeners(settings.max_event_streams)  # one limit for replies' and videos' events
    generating = pipeline.GenerateContext(
        settings, gateway, upload_store, video_store, RunningStreams(listeners), metrics.stages
    )
    job_store = JobStore(settings.jobs_db)
    for status in ("queued", "running"):
        Gauge(f"runtime_jobs_{status}", f"Jobs {status} now", registry=metrics.registry).set_function(
            lambda status=status: job_store.count(status)  # type: ignore[misc]
        )

    conversation_store = ConversationStore(settings.conversations_db)
    conversation_store.recover_interrupted()
    chatting = chat.ChatContext(generating, conversation_store, settings.chat_history_turns, RunningStreams(listeners))

    runner = JobRunner(
        job_store,
        JobDispatch(chatting),
        settings.job_workers,
        settings.max_queued_jobs,
        wait_ready=gateway.wait_ready,
        retry_deadline_s=settings.gpu_retry_deadline_s,
    )
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    services = Services(
        settings,
        gateway,
        upload_store,
        video_store,
        job_store,
        runner,
        generating,
        conversation_store,
        chatting,
        limiter,
        metrics,
        StorageProbe(settings.data_dir, "RUNTIME_DATA_DIR"),
        DiskUsageProbe(settings.data_dir),
        LiveSessionRecords(conversation_store, settings.live_sessions_db, settings.live_sessions_per_key),
    )

    def expire_records(max_age_s: float) -> int:
        return job_store.delete_finished_before(max_age_s) + remove_older_than(
            settings.uploads_dir / "incoming", INCOMING_MAX_AGE_S
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runner.start()
        if resumed := services.live_sessions.resume(gateway.remote.client):
            log.info("following %d live sessions a previous run left", resumed)
        cleanup = start_cleanup(
            [settings.videos_dir], settings.retention_hours, settings.cleanup_interval_s, extra=expire_records
        )
        try:
            yield
        finally:
            cleanup.cancel()
            await services.live_sessions.close_all()
            await runner.stop()
            await gateway.close()
            job_store.close()
            conversation_store.close()

    app = FastAPI(title="Realtime Avatar runtime", version=__version__, lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app, "RUNTIME_DATA_DIR")

    @app.exception_handler(GpuUnreachable)
    async def gpu_unreachable(_: Request, exc: GpuUnreachable) -> JSONResponse:
        # Wherever a call to the gpu_service meets a dead connection (not only where a fallback is tried).
        detail = f"the gpu_service cannot be reached now ({exc}); try again shortly"
        return JSONResponse(status_code=503, content={"detail": detail}, headers={"Retry-After": GPU_DOWN_RETRY_S})

    page = [web.PAGE_PATH] if settings.web_dir else []
    files = [web.FILES_FOLDER] if settings.web_dir else []
    # Browsers cannot set headers on a WebSocket: the avatar stream takes the key in its start message too.
    install_key_guard(
        app, settings.api_keys, "RUNTIME_API_KEYS", public=page, folders=files, websocket_first_message=True
    )
    app.add_middleware(
        BodyLimit,
        max_bytes=max(settings.max_voice_upload_bytes, settings.max_portrait_upload_bytes) + MULTIPART_OVERHEAD,
        max_json_bytes=settings.max_json_bytes,
        settings="RUNTIME_MAX_VOICE_UPLOAD_BYTES, RUNTIME_MAX_PORTRAIT_UPLOAD_BYTES, RUNTIME_MAX_JSON_BYTES",
    )
    app.add_middleware(AllowedMethods, api=app)
    install_observability(app, metrics)
    app.add_middleware(web.SecurityHeaders)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID", "Range"],
            expose_headers=["X-Request-ID", "Retry-After", "Content-Range"],
        )
    for router in (
        health.router,
        generate.router,
        jobs.router,
        conversations.router,
        videos.router,
        uploads.router,
        sessions.router,
        sessions.ice_router,
        avatar_stream.router,
    ):
        app.include_router(router)
    if settings.web_dir:
        web.install_page(app, settings.web_dir)
    return app
