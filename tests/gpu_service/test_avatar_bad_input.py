"""Bad avatar requests and odd portraits: clear 4xx answers, big photos scaled rather than refused."""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from common.media.audio import write_wav
from common.process.launch import RunningService
from contracts.gpu_service import AvatarResponse
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.face import NO_FACE_ADVICE


@pytest.fixture(scope="module")
def short_audio(gpu_output_root: Path) -> str:
    rate = 16_000
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32)
    path = gpu_output_root / "inputs" / "tone.wav"
    write_wav(path, tone, rate)
    return str(path)


def post(service: RunningService, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{service.url}/api/v1/avatar", json=body, timeout=120)


def test_portrait_without_a_face(gpu_service: RunningService, gpu_output_root: Path, short_audio: str) -> None:
    blank = gpu_output_root / "inputs" / "wall.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 180, np.uint8))
    response = post(gpu_service, {"audio_path": short_audio, "portrait": str(blank)})
    assert response.status_code == 422
    assert response.json()["detail"] == f"no face found in {blank}: {NO_FACE_ADVICE}"


def test_unreadable_image(gpu_service: RunningService, gpu_output_root: Path, short_audio: str) -> None:
    broken = gpu_output_root / "inputs" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    response = post(gpu_service, {"audio_path": short_audio, "portrait": str(broken)})
    assert response.status_code == 422
    assert "broken.jpg" in response.json()["detail"]


def test_huge_image_is_scaled_not_refused(gpu_service: RunningService, gpu_output_root: Path, short_audio: str) -> None:
    photo = cv2.imread(str(DEFAULT_ASSETS / "images" / "astronaut_full.png"))
    huge = gpu_output_root / "inputs" / "huge.png"
    cv2.imwrite(str(huge), cv2.resize(photo, (4096, 4096), interpolation=cv2.INTER_CUBIC))
    response = post(gpu_service, {"audio_path": short_audio, "portrait": str(huge), "size": 256})
    assert response.status_code == 200, response.text
    assert AvatarResponse.model_validate(response.json()).size == 256


@pytest.mark.parametrize("audio", ["/etc/passwd", "../../../etc/hostname"])
def test_audio_outside_the_output_root(gpu_service: RunningService, audio: str) -> None:
    response = post(gpu_service, {"audio_path": audio})
    assert response.status_code == 400


def test_audio_that_is_not_audio(gpu_service: RunningService, gpu_output_root: Path) -> None:
    fake = gpu_output_root / "inputs" / "fake.wav"
    fake.write_text("not a sound")
    response = post(gpu_service, {"audio_path": str(fake)})
    assert response.status_code == 422
    assert "fake.wav" in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("size", 511, "even"), ("size", 64, "128"), ("fps", 0, "fps"), ("portrait", "nobody", "nobody")],
)
def test_bad_parameters(gpu_service: RunningService, short_audio: str, field: str, value: object, words: str) -> None:
    response = post(gpu_service, {"audio_path": short_audio, field: value})
    assert response.status_code in (404, 422)
    assert words in response.json()["detail"]


def test_portraits_are_listed_with_licenses(gpu_service: RunningService) -> None:
    portraits = httpx.get(f"{gpu_service.url}/api/v1/portraits").json()["portraits"]
    assert {p["id"] for p in portraits} >= {"astronaut", "astronaut_full"}
    assert all("Public domain" in p["license"] for p in portraits)
