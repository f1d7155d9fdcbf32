"""The objects every route needs, built once per app and reached through FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from gpu_service.config import Settings
from gpu_service.device import DeviceChoice
from gpu_service.engines.registry import EngineRegistry
from gpu_service.voices import VoiceLibrary


@dataclass
class Services:
    settings: Settings
    engines: EngineRegistry
    voices: VoiceLibrary
    device: DeviceChoice


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
