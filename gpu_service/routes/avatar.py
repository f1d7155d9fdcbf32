from __future__ import annotations

import time
import uuid
import zlib
from contextlib import ExitStack
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends

from common.errors import Unprocessable, documented
from common.media.audio import AudioDecodeError, load_audio
from contracts.gpu_service import AvatarRequest, AvatarResponse, AvatarTimings
from gpu_service.assets import resolve_file
from gpu_service.dependencies import Services, get_services
from gpu_service.engines.base import PhonemeEvent, Speech
from gpu_service.media.encoding import render_clip

router = APIRouter(prefix="/api/v1")


@router.post("/avatar", response_model=AvatarResponse, responses=documented(400, 404, 413, 422, 503))
def render_avatar(request: AvatarRequest, services: Annotated[Services, Depends(get_services)]) -> AvatarResponse:
    """Animate the portrait speaking the audio; an MP4 (H.264 + AAC) as long as the audio."""
    started = time.perf_counter()
    settings = services.settings
    with ExitStack() as held:  # the engine stays loaded while it renders
        engine = services.engines.avatar.hold(request.engine, held)
        audio_path = resolve_file(request.audio_path, [settings.output_root], "audio")
        portrait = services.portraits.resolve(request.portrait, request.face)
        try:
            samples, sample_rate = load_audio(audio_path)
        except AudioDecodeError as exc:
            raise Unprocessable(f"audio '{request.audio_path}' cannot be used: {exc}") from exc
        phonemes = [PhonemeEvent(mark.t, mark.phoneme) for mark in request.phonemes] if request.phonemes else None
        speech = Speech(samples=samples, sample_rate=sample_rate, phonemes=phonemes)
        out = settings.output_root / "video" / f"{uuid.uuid4().hex}.mp4"
        opened = time.perf_counter()
        seed = seed_for(request.seed, samples)
        session = engine.open_session(portrait, fps=request.fps, size=request.size, seed=seed)
        rendered = render_clip(session, speech, out, {"analyze_s": time.perf_counter() - opened})
    services.metrics.stages.labels("avatar").observe(time.perf_counter() - started)
    return AvatarResponse(
        video_path=str(rendered.path),
        duration_s=rendered.duration_s,
        frames=rendered.frames,
        fps=rendered.fps,
        size=rendered.size,
        portrait=request.portrait,
        engine=engine.name,
        timings=AvatarTimings(
            analyze_s=rendered.timings.get("analyze_s", 0.0),
            render_s=rendered.timings.get("render_s", 0.0),
            encode_s=rendered.timings.get("encode_s", 0.0),
            total_s=time.perf_counter() - started,
        ),
        notices=services.faces.analyze(portrait, request.size).notices(),
    )


def seed_for(requested: int | None, samples: np.ndarray) -> int:
    """The request's seed, else one from the audio: blinks and head motion differ from clip to clip and stay the
    same for the same audio."""
    return requested if requested is not None else zlib.crc32(np.ascontiguousarray(samples).tobytes())
