"""Avatar: animator frames per second at 512x512 on one core, and the whole avatar step against audio duration."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import cv2

from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.animator import AnimatorEngine, render_frame
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.avatar.mouth import build_track
from gpu_service.engines.base import synthesize
from gpu_service.engines.tts.espeak import EspeakEngine
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from gpu_service.media.encoding import render_clip

TEXT = (
    "Good evening, and welcome to the program. Tonight we look at how people learn new languages, "
    "why some of us find it easy, and what anybody can do to practice a little bit every single day."
)


def run() -> list[str]:
    pin = hasattr(os, "sched_setaffinity")  # Linux; elsewhere one thread is the nearest thing
    all_cores = os.sched_getaffinity(0) if pin else set(range(os.cpu_count() or 1))
    if pin:
        os.sched_setaffinity(0, {min(all_cores)})  # the render figure is for one core
    cv2.setNumThreads(1)
    scratch = Path(tempfile.mkdtemp(prefix="bench-avatar-"))
    speech = synthesize(EspeakEngine(VoiceProfileStore(scratch)), TEXT, "en", None, match_voice=False)
    engine = AnimatorEngine(FaceAnalyzer(scratch))
    portrait = AssetReference("astronaut", DEFAULT_ASSETS / "images" / "astronaut.png")
    rig = engine.rig(portrait, 512)  # face analysis once, as the service caches it
    track = build_track(speech.samples, speech.sample_rate, speech.phonemes, 25)
    canvas = rig.image.copy()
    tick = time.perf_counter()
    for index in range(track.frames):
        canvas[:] = rig.image
        render_frame(rig, track, index, canvas)
    render_fps = track.frames / (time.perf_counter() - tick)

    if pin:
        os.sched_setaffinity(0, all_cores)
    cv2.setNumThreads(len(all_cores))
    tick = time.perf_counter()
    session = engine.open_session(portrait, fps=25, size=512)
    rendered = render_clip(session, speech, scratch / "clip.mp4", {})
    step_s = time.perf_counter() - tick
    return [
        "Avatar (animator, 512x512, 25 fps, face analysis cached)",
        f"render only, one core: {render_fps:.0f} frames/s (target >= 100)",
        f"whole avatar step (track + render + H.264/AAC encode): {step_s:.2f} s for {speech.duration_s:.2f} s "
        f"of audio = {step_s / speech.duration_s:.3f} x audio duration "
        f"(render {rendered.timings['render_s']:.2f} s, encode {rendered.timings['encode_s']:.2f} s)",
    ]
