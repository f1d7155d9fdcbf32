"""The objects every route needs, built once per app and reached through FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from runtime.config import Settings
from runtime.gpu_gateway import GpuGateway
from runtime.jobs import JobRunner, JobStore
from runtime.pipelines.phase1_script import Phase1Context
from runtime.uploads import UploadStore
from runtime.videos import VideoStore


@dataclass
class Services:
    settings: Settings
    gateway: GpuGateway
    uploads: UploadStore
    videos: VideoStore
    jobs: JobStore
    runner: JobRunner
    phase1: Phase1Context


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
