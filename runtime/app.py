"""The runtime application: `create_app()` for uvicorn (`--factory`) and tests."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.http_errors import install_error_handlers
from runtime import __version__
from runtime.config import Settings
from runtime.dependencies import Services
from runtime.gpu_gateway import GpuGateway
from runtime.jobs import JobRunner, JobStore, StageCallback
from runtime.pipelines.phase1_script import Phase1Context, run_script
from runtime.routes import generate, health, jobs, uploads, videos
from runtime.schemas import GenerateRequest, GenerateResult
from runtime.uploads import UploadStore
from runtime.videos import VideoStore

log = logging.getLogger("runtime")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    gateway = GpuGateway(settings)
    upload_store = UploadStore(
        settings.uploads_dir, settings.max_voice_upload_bytes, settings.max_portrait_upload_bytes
    )
    video_store = VideoStore(settings.videos_dir)
    phase1 = Phase1Context(settings, gateway, upload_store, video_store)
    job_store = JobStore(settings.jobs_db)

    async def work(request: GenerateRequest, on_stage: StageCallback) -> GenerateResult:
        return await run_script(request, phase1, on_stage)

    runner = JobRunner(job_store, work, settings.job_workers, settings.max_queued_jobs)
    services = Services(settings, gateway, upload_store, video_store, job_store, runner, phase1)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runner.start()
        try:
            yield
        finally:
            await runner.stop()
            await gateway.close()
            job_store.close()

    app = FastAPI(title="Realtime Avatar runtime", version=__version__, lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)
    for router in (health.router, generate.router, jobs.router, videos.router, uploads.router):
        app.include_router(router)
    return app
