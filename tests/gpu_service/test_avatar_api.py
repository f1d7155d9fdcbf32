"""The real gpu_service renders talking-head clips over HTTP; the tests decode them and measure the face."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from common.media.audio import load_audio
from common.process.launch import RunningService
from contracts.gpu_service import AvatarResponse, TTSResponse
from evaluator.media import VideoInfo, iter_frames, probe
from evaluator.metrics.face_tracks import FaceTracks, count_blinks, track_faces
from evaluator.metrics.lipsync import lip_sync, loudness_per_frame
from evaluator.metrics.stillness import masked_ssim, still_region
from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.face import FaceAnalyzer

TEXT = (
    "Good evening, and welcome to the program. Tonight we look at how people learn new languages, "
    "why some of us find it easy, and what anybody can do to practice a little bit every single day."
)  # ~10 s of speech


@dataclass
class Clip:
    speech: TTSResponse
    video: AvatarResponse
    info: VideoInfo
    frames: list[np.ndarray]
    faces: FaceTracks


def render(service: RunningService, with_timeline: bool, portrait: str = "astronaut") -> Clip:
    speech = TTSResponse.model_validate(
        httpx.post(f"{service.url}/api/v1/tts", json={"text": TEXT, "language": "en"}, timeout=120).json()
    )
    body: dict[str, object] = {"audio_path": speech.audio_path, "portrait": portrait}
    if with_timeline:
        body["phonemes"] = [mark.model_dump() for mark in speech.phonemes]
    response = httpx.post(f"{service.url}/api/v1/avatar", json=body, timeout=300)
    assert response.status_code == 200, response.text
    video = AvatarResponse.model_validate(response.json())
    path = Path(video.video_path)
    frames = list(iter_frames(path))
    return Clip(speech, video, probe(path), frames, track_faces(frames))


@pytest.fixture(scope="module")
def clip(gpu_service: RunningService) -> Iterator[Clip]:
    yield render(gpu_service, with_timeline=True)


@pytest.fixture(scope="module")
def audio_driven_clip(gpu_service: RunningService) -> Iterator[Clip]:
    yield render(gpu_service, with_timeline=False)


def test_video_format_duration_fps_and_size(clip: Clip, gpu_output_root: Path) -> None:
    info = clip.info
    assert Path(clip.video.video_path).resolve().is_relative_to(gpu_output_root.resolve())
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert info.faststart
    assert (info.width, info.height, info.fps) == (512, 512, 25)
    assert info.frames == clip.video.frames
    assert abs(info.duration_s - clip.speech.duration_s) <= 1 / 25
    assert info.audio_duration_s is not None and abs(info.audio_duration_s - clip.speech.duration_s) < 0.05


@pytest.mark.parametrize("which", ["clip", "audio_driven_clip"])
def test_mouth_follows_the_audio(which: str, request: pytest.FixtureRequest) -> None:
    clip: Clip = request.getfixturevalue(which)
    samples, rate = load_audio(Path(clip.video.video_path))
    loudness = loudness_per_frame(samples, rate, clip.info.fps, clip.info.frames)
    result = lip_sync(clip.faces.mouth_open, loudness, clip.info.fps)
    assert result.correlation >= 0.6, result
    assert abs(result.offset_ms) <= 1000 / clip.info.fps, result
    assert np.nanmax(clip.faces.mouth_open) > 2 * np.nanmin(clip.faces.mouth_open), "the mouth should open and close"


def test_face_outside_mouth_and_eyes_stays_the_photo(clip: Clip, tmp_path: Path) -> None:
    portrait = AssetReference("astronaut", DEFAULT_ASSETS / "images" / "astronaut.png")
    still = FaceAnalyzer(tmp_path).analyze(portrait, 512)
    region = still_region(still.landmarks, (still.image.shape[0], still.image.shape[1]))
    scores = np.array([masked_ssim(still.image, frame, region) for frame in clip.frames])
    # Lowest at the silent first and last frames: the photo smiles with an open mouth, and closing it lifts the chin.
    assert scores.min() >= 0.88, f"lowest SSIM {scores.min():.3f} at frame {scores.argmin()}"
    assert np.median(scores) >= 0.93
    outside = np.ones(still.image.shape[:2], bool)
    outside[int(still.landmarks[:, 1].min()) - 60 : int(still.landmarks[:, 1].max()) + 60] = False
    # Far from the face nothing moves: only the codec's noise (~2.4 levels) separates a frame from the photo
    # there; the same region shifted by a single pixel differs by ~4.7.
    for frame in clip.frames[::10]:
        difference = np.abs(frame[outside].astype(np.int16) - still.image[outside].astype(np.int16))
        assert difference.mean() < 3.5, f"mean difference {difference.mean():.2f} far from the face"


def test_ten_second_clip_blinks(clip: Clip) -> None:
    assert clip.speech.duration_s >= 9.5
    assert count_blinks(clip.faces.eye_open) >= 1


def test_head_moves_a_little(clip: Clip) -> None:
    noses = np.array([points[4] for points in clip.faces.landmarks if points is not None])
    travel = np.ptp(noses, axis=0)
    assert 0.3 < travel.max() < 12, f"nose travel {travel} px"


def test_a_render_is_reproducible(gpu_service: RunningService, clip: Clip) -> None:
    body = {"audio_path": clip.speech.audio_path, "phonemes": [m.model_dump() for m in clip.speech.phonemes]}
    again = AvatarResponse.model_validate(httpx.post(f"{gpu_service.url}/api/v1/avatar", json=body, timeout=300).json())
    frames = list(iter_frames(Path(again.video_path)))
    assert len(frames) == len(clip.frames)
    assert all(np.array_equal(a, b) for a, b in zip(frames[::25], clip.frames[::25], strict=True))
