"""Voices and portraits to choose from: the bundled ones and uploads, each with a preview the page can show."""

from __future__ import annotations

import io

import cv2
import httpx
import numpy as np
import pytest
import soundfile as sf

from common.media.audio import load_audio
from contracts.runtime import PortraitCatalog, VoiceCatalog
from gpu_service.config import DEFAULT_ASSETS
from tests.runtime.conftest import Stack
from tests.runtime.test_uploads import HUMAN, upload


def decode_image(data: bytes) -> np.ndarray:
    image: np.ndarray | None = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable image"
    return image


def test_bundled_voices_and_portraits_come_with_previews(stack: Stack) -> None:
    voices = VoiceCatalog.model_validate(httpx.get(f"{stack.runtime.url}/api/v1/voices").json())
    assert {voice.id for voice in voices.bundled} >= {"librivox_en_reader", "synthetic_zh_female"}
    voice = next(voice for voice in voices.bundled if voice.id == "librivox_en_reader")
    preview = httpx.get(f"{stack.runtime.url}{voice.preview_url}")
    assert preview.status_code == 200 and preview.headers["content-type"] == "audio/wav"
    heard, _ = sf.read(io.BytesIO(preview.content), dtype="float32")
    original, _ = load_audio(DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav")
    assert np.array_equal(heard, original)  # the reference itself, as the gpu_service holds it

    portraits = PortraitCatalog.model_validate(httpx.get(f"{stack.runtime.url}/api/v1/portraits").json())
    assert {portrait.id for portrait in portraits.bundled} >= {"astronaut", "astronaut_full"}
    for portrait in portraits.bundled:
        thumbnail = httpx.get(f"{stack.runtime.url}{portrait.preview_url}")
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
        image = decode_image(thumbnail.content)
        assert max(image.shape[:2]) == 256 and image.std() > 20  # scaled down, and a picture, not a flat fill
    full = next(portrait for portrait in portraits.bundled if portrait.id == "astronaut_full")  # 512 px
    poster = decode_image(httpx.get(f"{stack.runtime.url}{full.preview_url}?side=512").content)
    assert max(poster.shape[:2]) == 512  # the page's poster, at the frame's size
    enlarged = decode_image(httpx.get(f"{stack.runtime.url}{full.preview_url}?side=1024").content)
    assert max(enlarged.shape[:2]) == 512  # never enlarged
    too_large = httpx.get(f"{stack.runtime.url}{full.preview_url}?side=5000")
    assert too_large.status_code == 422 and "side" in too_large.text


def test_uploads_are_listed_with_their_previews(stack: Stack) -> None:
    voice = upload(stack, "voices", HUMAN).json()
    portrait = upload(stack, "portraits", DEFAULT_ASSETS / "images" / "astronaut.png", "me.png").json()
    voices = VoiceCatalog.model_validate(httpx.get(f"{stack.runtime.url}/api/v1/voices").json())
    portraits = PortraitCatalog.model_validate(httpx.get(f"{stack.runtime.url}/api/v1/portraits").json())
    assert voice["id"] in {entry.id for entry in voices.uploaded}
    assert portrait["id"] in {entry.id for entry in portraits.uploaded}

    cleaned = httpx.get(f"{stack.runtime.url}{voice['preview_url']}")
    samples, rate = sf.read(io.BytesIO(cleaned.content), dtype="float32")
    assert abs(len(samples) / rate - voice["duration_s"]) < 0.05  # the cleaned reference, as stored
    thumbnail = decode_image(httpx.get(f"{stack.runtime.url}{portrait['preview_url']}").content)
    assert thumbnail.shape[:2] == (256, 256)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/voices/nobody/preview",
        "/api/v1/voices/v_000000000000/preview",
        "/api/v1/portraits/p_000000000000/preview",
        "/api/v1/portraits/..%2F..%2Fetc%2Fpasswd/preview",
        "/api/v1/voices/voices.json/preview",
    ],
)
def test_unknown_previews_are_404_and_never_a_path(stack: Stack, path: str) -> None:
    response = httpx.get(f"{stack.runtime.url}{path}")
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert detail.startswith("no ") or detail == "Not Found", detail  # the preview's answer, or no such route
