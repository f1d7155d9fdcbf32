"""The objects every route needs, built once per app and reached through FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from common.http.auth import owner_of
from common.http.observability import HttpMetrics
from common.storage.retention import DiskUsageProbe, StorageProbe
from runtime.config import Settings
from runtime.conversations import ConversationStore
from runtime.gpu_gateway import GpuGateway
from runtime.jobs import JobRunner, JobStore
from runtime.live_sessions import LiveSessionRecords
from runtime.pipelines.chat import ChatContext
from runtime.pipelines.generate import GenerateContext
from runtime.rate_limit import RateLimiter, client_identity
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
    generating: GenerateContext
    conversations: ConversationStore
    chatting: ChatContext
    limiter: RateLimiter
    metrics: HttpMetrics
    storage: StorageProbe
    disk: DiskUsageProbe
    live_sessions: LiveSessionRecords


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def owner(request: Request) -> str:
    """Dependency: whose jobs, videos and uploads this request may see (its key's; "" without auth)."""
    return owner_of(request, get_services(request).settings.api_keys)


Owner = Annotated[str, Depends(owner)]


def rate_limited(request: Request) -> None:
    """Dependency of the endpoints that start work: one token of the caller's bucket, or 429."""
    services = get_services(request)
    services.limiter.take(client_identity(request, services.settings.api_keys))
