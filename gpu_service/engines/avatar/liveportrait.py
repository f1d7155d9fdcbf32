"""The `liveportrait` avatar engine: LivePortrait's motion space driven by our mouth track instead of a video.

LivePortrait's code is imported from a checkout (GPU_LIVEPORTRAIT__DIR), never copied here; its weights come from
a folder (GPU_LIVEPORTRAIT__WEIGHTS_DIR). Per portrait: source keypoints and appearance features once. Per frame:
head rotation from the pose curve, `retarget_lip` from the jaw opening, `retarget_eye` from the blink curve, then
`stitching` and `warp_decode`, in batches; the 256x256 result is pasted back into the full photo and encoded by
the same PyAV writer as the animator. Faces are found with our MediaPipe mesh, so LivePortrait's InsightFace-based
cropper is not used.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from common.concurrency.lru import LruCache
from common.errors import Unprocessable
from common.face.geometry import eye_open_ratios, lip_open_ratio
from gpu_service.assets import AssetReference
from gpu_service.engines.avatar.face import FaceAnalyzer, FaceGeometry
from gpu_service.engines.avatar.liveportrait_motion import (
    INPUT_SIDE,
    CropBox,
    Motion,
    batches,
    face_crop,
    feather_mask,
    motion_from_track,
    paste_back,
    rotation_matrices,
)
from gpu_service.engines.avatar.liveportrait_settings import LivePortraitSettings
from gpu_service.engines.avatar.mouth import MotionPlanner, MouthTrack
from gpu_service.engines.base import AudioContext, EngineLoadError, PhonemeEvent

log = logging.getLogger("gpu_service.liveportrait")

WRAPPER_MODULE = "src.live_portrait_wrapper"
CONFIG_MODULE = "src.config.inference_config"
# InferenceConfig attribute -> file under the weights folder
WEIGHTS = {
    "checkpoint_F": "base_models/appearance_feature_extractor.pth",
    "checkpoint_M": "base_models/motion_extractor.pth",
    "checkpoint_W": "base_models/warping_module.pth",
    "checkpoint_G": "base_models/spade_generator.pth",
    "checkpoint_S": "retargeting_models/stitching_retargeting_module.pth",
}
LICENSE = (
    "LivePortrait code and weights: MIT (KwaiVGI). Its download also holds InsightFace models, non-commercial "
    "research use only; this engine does not load them"
)


def unavailable_reason(options: LivePortraitSettings) -> str | None:
    """Why the engine cannot load, checked without loading anything (for /health and 503s)."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed; LivePortrait needs it (see GPU_SERVICE.md)"
    if options.dir is None:
        return (
            "no LivePortrait checkout: run scripts/setup_gpu_service.sh --with-liveportrait, or set "
            "GPU_LIVEPORTRAIT__DIR to a clone of github.com/KwaiVGI/LivePortrait"
        )
    if not (options.dir / "src" / "live_portrait_wrapper.py").is_file():
        return "GPU_LIVEPORTRAIT__DIR is not a LivePortrait checkout (no src/live_portrait_wrapper.py)"
    weights = options.weights
    assert weights is not None
    missing = [name for name in WEIGHTS.values() if not (weights / name).is_file()]
    if missing:
        return f"LivePortrait weights missing (GPU_LIVEPORTRAIT__WEIGHTS_DIR): {', '.join(missing)}"
    return None


def load_wrapper(options: LivePortraitSettings, device: str) -> Any:
    """LivePortrait's own LivePortraitWrapper, built from its InferenceConfig with our paths and device."""
    assert options.dir is not None and options.weights is not None
    checkout = str(options.dir.resolve())
    if checkout not in sys.path:
        sys.path.insert(0, checkout)  # LivePortrait is imported as its scripts do: `from src...`
    config_module = importlib.import_module(CONFIG_MODULE)
    wrapper_module = importlib.import_module(WRAPPER_MODULE)
    config = config_module.InferenceConfig()
    for attribute, name in WEIGHTS.items():
        setattr(config, attribute, str(options.weights / name))
    config.flag_use_half_precision = options.fp16 and device == "cuda"  # fp16 pays off on CUDA only
    config.flag_force_cpu = device == "cpu"
    config.device_id = 0
    return wrapper_module.LivePortraitWrapper(inference_cfg=config)


@dataclass
class Source:
    """A portrait prepared once: LivePortrait's view of it and where it sits in the photo."""

    face: FaceGeometry
    box: CropBox
    mask: np.ndarray
    kp_info: dict[str, Any]  # LivePortrait's implicit keypoints (kp, exp, t, scale, pitch, yaw, roll)
    x_s: Any  # transformed source keypoints (1, N, 3)
    feature: Any  # appearance feature volume
    lip_open: float  # the photo's own ratios, in LivePortrait's conventions
    eyes_open: tuple[float, float]


class LivePortraitEngine:
    name = "liveportrait"

    def __init__(self, options: LivePortraitSettings, device: str, faces: FaceAnalyzer, cache_items: int) -> None:
        reason = unavailable_reason(options)
        if reason is not None:
            raise EngineLoadError(reason)
        import torch

        started = time.perf_counter()
        try:
            self._wrapper = load_wrapper(options, device)
        except (ImportError, AttributeError, RuntimeError, OSError, KeyError) as error:
            raise EngineLoadError(f"LivePortrait in {options.dir} does not load: {error}") from error
        self._torch = torch
        self._faces = faces
        self._batch = options.batch
        self._sources: LruCache[tuple[Path, int], Source] = LruCache(cache_items)
        self._lock = threading.Lock()  # one render at a time on the device
        self._max_render_s = options.max_render_s
        # Known on a CPU before any frame (~5 s a frame); on a GPU, learnt from the first batch.
        self.seconds_per_frame: float | None = options.cpu_seconds_per_frame if self.device == "cpu" else None
        self.load_s = time.perf_counter() - started
        log.info("LivePortrait loaded from %s in %.1f s", options.dir, self.load_s)

    @property
    def device(self) -> str:
        return str(self._wrapper.device)

    def source(self, portrait: AssetReference, size: int) -> Source:
        face = self._faces.analyze(portrait, size)
        key = (portrait.path, size)
        cached = self._sources.get(key)
        if cached is not None and cached.face.image is face.image:
            return cached
        height, width = face.image.shape[:2]
        box = face_crop(face.landmarks, width, height)
        crop = face.image[box.y : box.y + box.side, box.x : box.x + box.side]
        wrapper = self._wrapper
        prepared = wrapper.prepare_source(cv2.resize(crop, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA))
        kp_info = wrapper.get_kp_info(prepared)
        source = Source(
            face=face,
            box=box,
            mask=feather_mask(box.side),
            kp_info=kp_info,
            x_s=wrapper.transform_keypoint(kp_info),
            feature=wrapper.extract_feature_3d(prepared),
            lip_open=lip_open_ratio(face.landmarks),
            eyes_open=eye_open_ratios(face.landmarks),
        )
        self._sources.put(key, source)
        return source

    def _driving_keypoints(self, source: Source, motion: Motion, frames: range) -> Any:
        """LivePortrait's Eqn. 2 with the source's expression and our pose: scale * (kp @ R + exp) + t."""
        torch, info = self._torch, source.kp_info
        device = source.x_s.device
        count = len(frames)
        pose = [float(info[name].reshape(-1)[0]) for name in ("pitch", "yaw", "roll")]
        rotation = rotation_matrices(
            pose[0] + motion.pitch[frames.start : frames.stop],
            pose[1] + motion.yaw[frames.start : frames.stop],
            pose[2] + motion.roll[frames.start : frames.stop],
        )
        kp = info["kp"].reshape(1, -1, 3).expand(count, -1, -1)
        exp = info["exp"].reshape(1, -1, 3).expand(count, -1, -1)
        driving = kp @ torch.from_numpy(rotation).to(device) + exp
        driving = driving * info["scale"].reshape(1, 1, 1)
        driving[:, :, 0:2] += info["t"].reshape(1, 1, 3)[:, :, 0:2]  # tx, ty only, as LivePortrait does
        return driving

    def _render_batch(self, source: Source, motion: Motion, frames: range) -> np.ndarray:
        torch, wrapper = self._torch, self._wrapper
        count = len(frames)
        device = source.x_s.device
        x_s = source.x_s.expand(count, -1, -1)
        lip = np.stack([np.full(count, source.lip_open), motion.lip_open[frames.start : frames.stop]], axis=1)
        eyes = np.stack(
            [
                np.full(count, source.eyes_open[0]),
                np.full(count, source.eyes_open[1]),
                motion.eyes_open[frames.start : frames.stop],
            ],
            axis=1,
        )
        driving = self._driving_keypoints(source, motion, frames)
        driving = driving + wrapper.retarget_lip(x_s, torch.from_numpy(lip).float().to(device))
        driving = driving + wrapper.retarget_eye(x_s, torch.from_numpy(eyes).float().to(device))
        driving = wrapper.stitching(x_s, driving)
        feature = source.feature.expand(count, *source.feature.shape[1:])
        out = wrapper.warp_decode(feature, x_s, driving)
        return np.asarray(wrapper.parse_output(out["out"]))

    def open_session(self, portrait: AssetReference, *, fps: int, size: int, seed: int = 0) -> LivePortraitSession:
        with self._lock:
            source = self.source(portrait, size)
        return LivePortraitSession(self, source, fps, size, seed)

    def check_render_time(self, frames: int, fps: int) -> None:
        """422 when `frames` would take longer than GPU_LIVEPORTRAIT__MAX_RENDER_S at the speed seen so far: a
        clear refusal up front rather than a timeout after minutes of work."""
        per_frame = self.seconds_per_frame
        if per_frame is None or frames * per_frame <= self._max_render_s:
            return
        raise Unprocessable(
            f"LivePortrait renders ~{per_frame:.1f} s a frame on {self.device}: {frames / fps:.1f} s of video would "
            f"take ~{frames * per_frame / 60:.0f} min, over GPU_LIVEPORTRAIT__MAX_RENDER_S={self._max_render_s:.0f} s; "
            "shorten the text, use the animator engine, or run the gpu_service on a GPU"
        )

    def frames(self, source: Source, motion: Motion) -> Iterator[np.ndarray]:
        """Frames in batches; the device lock is held for one batch at a time, never across a yield."""
        for frame_range in batches(motion.frames, self._batch):
            with self._lock:
                started = time.perf_counter()
                crops = self._render_batch(source, motion, frame_range)
                measured = (time.perf_counter() - started) / len(frame_range)
            previous = self.seconds_per_frame
            self.seconds_per_frame = measured if previous is None else 0.7 * previous + 0.3 * measured
            yield from (paste_back(source.face.image, crop, source.box, source.mask) for crop in crops)


class LivePortraitSession:
    """One portrait driven segment after segment by one motion clock (see MotionPlanner)."""

    def __init__(self, engine: LivePortraitEngine, source: Source, fps: int, size: int, seed: int) -> None:
        self.fps, self.size, self.photo = fps, size, source.face.image
        self._engine = engine
        self._source = source
        self._planner = MotionPlanner(fps, seed)
        self._eyes_open = float(np.mean(source.eyes_open))
        self._frames_asked = 0  # over the whole session: a streamed reply is one render

    def speak(
        self,
        samples: np.ndarray,
        sample_rate: int,
        phonemes: list[PhonemeEvent] | None,
        context: AudioContext | None = None,
    ) -> Iterator[np.ndarray]:
        return self._frames(self._planner.speech(samples, sample_rate, phonemes, context))

    def idle(self, seconds: float) -> Iterator[np.ndarray]:
        return self._frames(self._planner.silence(round(seconds * self.fps)))

    def _frames(self, track: MouthTrack) -> Iterator[np.ndarray]:
        motion = motion_from_track(track, self._eyes_open)
        self._frames_asked += motion.frames
        self._engine.check_render_time(self._frames_asked, self.fps)
        return self._engine.frames(self._source, motion)
