"""The liveportrait engine: its pure parts; LivePortrait's real code on random weights; its wiring, against a
STAND-IN that makes the wiring visible.

Real code: LivePortrait's modules and wrapper from the mimic-head wheel (liveportrait_on_mimic_head/: the pinned
commit's API over them), with random weights of the real size built from the same classes (the weights cannot be
downloaded here). It runs at ~5 s a frame on this CPU, so it renders two frames.

STAND-IN: random weights draw noise, so they cannot show that the lip targets drive the mouth. `liveportrait_stand_in/`
has the same module paths and wrapper methods with trivial bodies that record calls and draw a bar whose height
follows the driving lip keypoint; the tests of the wiring (targets, batching, order, head motion) and of the HTTP
routes (many frames) use it. Everything else is real: face analysis, the mouth track, paste-back, the MP4 writer.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.process.launch import RunningService, run_service
from contracts.gpu_service import AvatarResponse, HealthResponse, SpeakResult, TTSResponse
from evaluator.media import iter_frames, probe
from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.avatar.liveportrait import WEIGHTS, LivePortraitEngine, unavailable_reason
from gpu_service.engines.avatar.liveportrait_motion import (
    LIP_OPEN_RATIO,
    batches,
    eyes_open_ratios,
    face_crop,
    feather_mask,
    lip_open_ratios,
    motion_from_track,
    paste_back,
    rotation_matrices,
)
from gpu_service.engines.avatar.liveportrait_settings import LivePortraitSettings
from gpu_service.engines.avatar.mouth import build_track, frame_count
from gpu_service.engines.base import synthesize
from gpu_service.engines.tts.espeak import EspeakEngine
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore
from gpu_service.media.encoding import render_clip, whole_frames
from tests.gpu_service.liveportrait_weights import ADAPTER, build_random_weights
from tests.media_stream import decode

pytestmark = pytest.mark.deep  # make test-deep

STAND_IN = Path(__file__).resolve().parent / "liveportrait_stand_in"
PORTRAIT = AssetReference("astronaut", DEFAULT_ASSETS / "images" / "astronaut.png")
TEXT = "Good morning! We open the doors at nine and close them at six."


# --- pure parts -------------------------------------------------------------------------------------------------------


def test_jaw_opening_maps_to_lip_open_ratios() -> None:
    ratios = lip_open_ratios(np.array([0.0, 0.5, 1.0, 1.7, -0.2]))
    assert ratios == pytest.approx([0.0, LIP_OPEN_RATIO / 2, LIP_OPEN_RATIO, LIP_OPEN_RATIO, 0.0])
    assert 0 < LIP_OPEN_RATIO <= 0.8  # inside LivePortrait's own retargeting range


def test_blinks_close_the_eyes_from_the_photos_openness() -> None:
    ratios = eyes_open_ratios(np.array([0.0, 0.5, 1.0]), source_eyes_open=0.3)
    assert ratios == pytest.approx([0.3, 0.15, 0.0])


def test_rotation_matrices_follow_livePortraits_convention() -> None:
    rng = np.random.default_rng(1)
    pitch, yaw, roll = rng.uniform(-20, 20, (3, 6))
    matrices = rotation_matrices(pitch, yaw, roll)
    assert matrices.shape == (6, 3, 3) and matrices.dtype == np.float32
    # (Rz @ Ry @ Rx), applied to row vectors, hence transposed: scipy's extrinsic x-y-z Euler rotation.
    expected = Rotation.from_euler("xyz", np.stack([pitch, yaw, roll], 1), degrees=True).as_matrix()
    assert np.allclose(matrices, np.swapaxes(expected, 1, 2), atol=1e-6)
    assert np.allclose(rotation_matrices(np.zeros(2), np.zeros(2), np.zeros(2)), np.eye(3))
    assert np.allclose(np.linalg.det(matrices), 1, atol=1e-5)


def test_batches_cover_every_frame_once() -> None:
    assert [(r.start, r.stop) for r in batches(25, 8)] == [(0, 8), (8, 16), (16, 24), (24, 25)]
    assert batches(0, 8) == []
    with pytest.raises(ValueError):
        batches(10, 0)


def test_motion_has_one_entry_per_video_frame() -> None:
    speech = synthesize(EspeakEngine(VoiceProfileStore(Path("/nonexistent"))), TEXT, "en", None, match_voice=False)
    track = build_track(speech.samples, speech.sample_rate, speech.phonemes, 25)
    motion = motion_from_track(track, 0.3)
    assert motion.frames == frame_count(speech.duration_s, 25) == round(speech.duration_s * 25)
    assert motion.lip_open.max() > 0.3 and motion.lip_open.min() < 0.05  # opens and closes
    assert np.allclose(motion.yaw, track.yaw)


def test_crop_mask_and_paste_back(tmp_path: Path) -> None:
    face = FaceAnalyzer(tmp_path).analyze(PORTRAIT, 512)
    box = face_crop(face.landmarks, 512, 512)
    assert box.x >= 0 and box.y >= 0 and box.x + box.side <= 512 and box.y + box.side <= 512
    oval = face.landmarks
    assert box.x <= oval[:, 0].min() and oval[:, 0].max() <= box.x + box.side
    mask = feather_mask(box.side)
    assert mask[box.side // 2, box.side // 2, 0] == 1 and mask[0, 0, 0] == 0 and mask[0, box.side // 2, 0] == 0
    crop = np.full((256, 256, 3), 200, np.uint8)
    pasted = paste_back(face.image, crop, box, mask)
    outside = np.ones((512, 512), bool)
    outside[box.y : box.y + box.side, box.x : box.x + box.side] = False
    assert np.array_equal(pasted[outside], face.image[outside])
    center = (box.y + box.side // 2, box.x + box.side // 2)
    assert np.all(pasted[center] == 200)


def test_unavailable_reasons(tmp_path: Path) -> None:
    assert "--with-liveportrait" in (unavailable_reason(LivePortraitSettings()) or "")
    reason = unavailable_reason(LivePortraitSettings(dir=tmp_path))
    assert reason is not None and "not a LivePortrait checkout" in reason
    reason = unavailable_reason(LivePortraitSettings(dir=STAND_IN, weights_dir=tmp_path / "weights"))
    assert reason is not None and "spade_generator.pth" in reason and "stitching_retargeting_module.pth" in reason


# --- LivePortrait's real code, random weights ----------------------------------------------------------------------


@contextmanager
def checkout_on_path(checkout: Path) -> Iterator[None]:
    """Import `src` from `checkout` alone: the stand-in and the real code use the same package name."""

    def forget() -> None:
        for name in [name for name in sys.modules if name == "src" or name.startswith("src.")]:
            del sys.modules[name]

    forget()
    try:
        yield
    finally:
        forget()
        while str(checkout.resolve()) in sys.path:
            sys.path.remove(str(checkout.resolve()))


def test_real_livePortrait_code_renders_through_the_engine(tmp_path: Path) -> None:
    weights = build_random_weights(tmp_path / "weights")
    with checkout_on_path(ADAPTER):
        engine = LivePortraitEngine(
            LivePortraitSettings(dir=ADAPTER, weights_dir=weights), "cpu", FaceAnalyzer(tmp_path), 64
        )
        from mimic_head.live_portrait_wrapper import LivePortraitWrapper

        assert isinstance(engine._wrapper, LivePortraitWrapper) and engine.device == "cpu"
        assert not engine._wrapper.cfg.flag_use_half_precision  # fp16 on CUDA only
        speech = synthesize(EspeakEngine(VoiceProfileStore(tmp_path)), "Hi.", "en", None, match_voice=False)
        session = engine.open_session(PORTRAIT, fps=5, size=256)
        rendered = render_clip(session, speech, tmp_path / "real.mp4", {})
    source = engine.source(PORTRAIT, 256)
    # The real networks' shapes (models.yaml): a 32x16x64x64 feature volume, 21 implicit keypoints.
    assert tuple(source.feature.shape) == (1, 32, 16, 64, 64) and tuple(source.x_s.shape) == (1, 21, 3)
    frames = list(iter_frames(rendered.path))
    assert len(frames) == rendered.frames == math.ceil(speech.duration_s * 5) >= 2
    photo, box = source.face.image.astype(int), source.box
    inside = np.zeros(photo.shape[:2], bool)
    inside[box.y : box.y + box.side, box.x : box.x + box.side] = True
    for frame in frames:
        assert np.abs(frame.astype(int)[~inside] - photo[~inside]).mean() < 3  # the photo, outside the crop
        assert np.abs(frame.astype(int)[inside] - photo[inside]).mean() > 10  # the network's output, pasted
    assert engine.seconds_per_frame is not None and engine.seconds_per_frame > 0  # the speed, as measured


# --- wiring, against the stand-in -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lp-weights")
    for name in WEIGHTS.values():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"stand-in weights")
    return folder


def test_engine_drives_the_wrapper_and_writes_the_video(weights: Path, tmp_path: Path) -> None:
    engine = LivePortraitEngine(
        LivePortraitSettings(dir=STAND_IN, weights_dir=weights, batch=7), "cpu", FaceAnalyzer(tmp_path), 64
    )
    calls = sys.modules["src.live_portrait_wrapper"].CALLS
    calls.clear()
    speech = synthesize(EspeakEngine(VoiceProfileStore(tmp_path)), TEXT, "en", None, match_voice=False)
    session = engine.open_session(PORTRAIT, fps=25, size=512)
    rendered = render_clip(session, speech, tmp_path / "lp.mp4", {})

    frames = math.ceil(speech.duration_s * 25)  # the audio is padded to whole frames
    info = probe(rendered.path)
    assert rendered.frames == info.frames == frames and (info.width, info.height) == (512, 512)
    assert abs(info.duration_s - speech.duration_s) <= 1 / 25 + 1e-6

    track = build_track(whole_frames(speech.samples, speech.sample_rate, 25), speech.sample_rate, speech.phonemes, 25)
    lip_calls = [call[1] for call in calls if call[0] == "retarget_lip"]
    assert [len(c) for c in lip_calls] == [len(r) for r in batches(frames, 7)]  # batched, in order
    lip = np.concatenate([c.numpy() for c in lip_calls])
    assert np.allclose(lip[:, 1], lip_open_ratios(track.jaw_open), atol=1e-6)  # targets follow the track
    assert np.allclose(lip[:, 0], lip[0, 0]) and lip[0, 0] > 0  # the photo's own ratio (she smiles)
    eyes = np.concatenate([call[1].numpy() for call in calls if call[0] == "retarget_eye"])
    assert eyes.shape == (frames, 3) and eyes[:, 2].min() < 0.5 * eyes[:, 2].max()  # a blink in ~4 s
    assert sum(call[1] for call in calls if call[0] == "stitching") == frames
    driving = np.concatenate([call[2].numpy() for call in calls if call[0] == "warp_decode"])
    assert driving.shape[0] == frames and np.ptp(driving[:, 0, 0]) > 0  # head motion reaches the keypoints

    # The bar the stand-in draws from the driving lip keypoint comes back out of the pasted, encoded video.
    source = engine.source(PORTRAIT, 512)
    box = source.box
    scale = box.side / 256
    top, left = box.y + int(172 * scale), box.x + int(110 * scale)
    darkness = np.array([255 - frame[top : top + 8, left : left + 40].mean() for frame in iter_frames(rendered.path)])
    assert np.corrcoef(darkness, track.jaw_open)[0, 1] > 0.8
    # Outside the crop the photo does not change.
    first = next(iter_frames(rendered.path)).astype(int)
    outside = np.ones((512, 512), bool)
    outside[box.y : box.y + box.side, box.x : box.x + box.side] = False
    assert np.abs(first[outside] - source.face.image.astype(int)[outside]).mean() < 3  # codec noise only


def test_device_and_precision_reach_livePortraits_config(weights: Path, tmp_path: Path) -> None:
    LivePortraitEngine(LivePortraitSettings(dir=STAND_IN, weights_dir=weights), "cpu", FaceAnalyzer(tmp_path), 64)
    calls = sys.modules["src.live_portrait_wrapper"].CALLS
    config = next(call[1] for call in reversed(calls) if call[0] == "init")
    assert config.flag_force_cpu and not config.flag_use_half_precision  # fp16 only on CUDA
    assert config.checkpoint_G == str(weights / "base_models" / "spade_generator.pth")


# --- over HTTP --------------------------------------------------------------------------------------------------------


def test_without_a_checkout_health_says_why_and_requests_get_503(gpu_service: RunningService) -> None:
    health = HealthResponse.model_validate(httpx.get(f"{gpu_service.url}/health").json())
    engine = next(engine for engine in health.engines if engine.name == "liveportrait")
    assert engine.state == "unavailable" and engine.reason and "--with-liveportrait" in engine.reason
    speech = TTSResponse.model_validate(
        httpx.post(f"{gpu_service.url}/api/v1/tts", json={"text": "Hi.", "language": "en"}, timeout=60).json()
    )
    body = {"audio_path": speech.audio_path, "engine": "liveportrait"}
    response = httpx.post(f"{gpu_service.url}/api/v1/avatar", json=body, timeout=60)
    assert response.status_code == 503 and "--with-liveportrait" in response.json()["detail"]


def stand_in_env(root: Path, weights: Path, **extra: str) -> dict[str, str]:
    """A gpu_service whose default avatar engine is liveportrait, on the stand-in."""
    return {
        "GPU_OUTPUT_ROOT": str(root / "out"),
        "GPU_LIVEPORTRAIT__DIR": str(STAND_IN),
        "GPU_LIVEPORTRAIT__WEIGHTS_DIR": str(weights),
        "GPU_AVATAR_ENGINE": "liveportrait",
        **extra,
    }


@pytest.fixture(scope="module")
def stand_in_service(weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root = tmp_path_factory.mktemp("lp-service")
    with run_service("gpu_service.app:create_app", stand_in_env(root, weights), root) as service:
        yield service


def test_avatar_endpoint_renders_with_the_engine(stand_in_service: RunningService) -> None:
    url = stand_in_service.url
    health = HealthResponse.model_validate(httpx.get(f"{url}/health").json())
    engine = next(engine for engine in health.engines if engine.name == "liveportrait")
    assert engine.state == "ready" and engine.default and engine.license and "InsightFace" in engine.license
    speech = TTSResponse.model_validate(
        httpx.post(f"{url}/api/v1/tts", json={"text": TEXT, "language": "en"}, timeout=60).json()
    )
    phonemes = [mark.model_dump() for mark in speech.phonemes]
    response = httpx.post(
        f"{url}/api/v1/avatar", json={"audio_path": speech.audio_path, "phonemes": phonemes}, timeout=300
    )
    assert response.status_code == 200, response.text
    video = AvatarResponse.model_validate(response.json())
    assert video.engine == "liveportrait" and video.frames == math.ceil(speech.duration_s * 25)


def test_speak_streams_through_the_engine(stand_in_service: RunningService) -> None:
    """The streamed path drives the same wrapper, sentence by sentence, on one session."""
    body = {"text": "One sentence here. And a second one.", "language": "en"}
    with httpx.stream("POST", f"{stand_in_service.url}/api/v1/speak", json=body, timeout=300) as response:
        assert response.status_code == 200 and response.headers["x-avatar-engine"] == "liveportrait"
        data = b"".join(response.iter_bytes())
    result = SpeakResult.model_validate(
        httpx.get(f"{stand_in_service.url}/api/v1/speak/{response.headers['x-speak-id']}").json()
    )
    assert result.status == "done" and [segment.text for segment in result.segments][:2] == [
        "One sentence here.",
        "And a second one.",
    ]
    assert len(decode(data).frames) == result.frames > 25


@pytest.fixture(scope="module")
def slow_cpu_service(weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """The stand-in on the CPU with a 30 s render budget: at LivePortrait's measured ~5 s a frame, 6 frames."""
    root = tmp_path_factory.mktemp("lp-budget")
    env = stand_in_env(root, weights, GPU_DEVICE="cpu", GPU_LIVEPORTRAIT__MAX_RENDER_S="30")
    with run_service("gpu_service.app:create_app", env, root) as service:
        yield service


def test_on_a_cpu_health_warns_and_long_renders_are_refused_up_front(slow_cpu_service: RunningService) -> None:
    url = slow_cpu_service.url
    health = HealthResponse.model_validate(httpx.get(f"{url}/health").json())
    assert any("LivePortrait runs on the CPU" in note and "MAX_RENDER_S=30" in note for note in health.notes)
    speech = TTSResponse.model_validate(
        httpx.post(f"{url}/api/v1/tts", json={"text": TEXT, "language": "en"}, timeout=60).json()
    )
    refused = httpx.post(f"{url}/api/v1/avatar", json={"audio_path": speech.audio_path}, timeout=60)
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "~5.0 s a frame on cpu" in detail and "GPU_LIVEPORTRAIT__MAX_RENDER_S=30" in detail
    streamed = httpx.post(f"{url}/api/v1/speak", json={"text": TEXT, "language": "en"}, timeout=60)
    assert streamed.status_code == 422 and "MAX_RENDER_S" in streamed.json()["detail"]  # before any byte
