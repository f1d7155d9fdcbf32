"""The objects every route needs, built once per app and reached through FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from common.http.observability import HttpMetrics
from common.storage.retention import DiskUsageProbe, StorageProbe
from contracts.gpu_service import PortraitInfo, VoiceInfo
from gpu_service.assets import AssetLibrary
from gpu_service.config import Settings
from gpu_service.device import DeviceChoice
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.registry import EngineRegistry
from gpu_service.progress import SpeakBoard


@dataclass
class Services:
    settings: Settings
    engines: EngineRegistry
    voices: AssetLibrary[VoiceInfo]
    portraits: AssetLibrary[PortraitInfo]
    device: DeviceChoice
    faces: FaceAnalyzer
    metrics: HttpMetrics
    storage: StorageProbe  # can the output root be written, with room to spare
    disk: DiskUsageProbe
    speaking: SpeakBoard = field(default_factory=SpeakBoard)  # how each video stream goes, as events


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
