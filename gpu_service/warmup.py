"""Work done at start so that no request pays for it: the bundled voices' matching profiles for the default engine."""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from common.errors import ServiceError
from gpu_service.assets import AssetReference
from gpu_service.dependencies import Services

log = logging.getLogger("gpu_service.warmup")


@runtime_checkable
class Warmable(Protocol):
    def warm(self, voice: AssetReference) -> None: ...


def warm_bundled_voices(services: Services) -> None:
    """Fit each bundled voice's profile (~1 s each with Kokoro), in the background: a voice's first clip otherwise
    waits for it. Uploaded voices are fitted on first use."""
    try:
        engine = services.engines.tts.get()
    except ServiceError:
        return  # /health says why
    if not isinstance(engine, Warmable):
        return
    for info in services.voices.list():
        try:
            engine.warm(services.voices.resolve(info.id))
        except Exception:  # a damaged bundled file is that voice's problem, reported when it is used
            log.warning("could not prepare voice %s", info.id, exc_info=True)
