"""Uploads of voices (audio or video) and portraits through the runtime, then used to generate."""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import soundfile as sf

from common.media.video import write_mp4
from contracts.runtime import GenerateResult, UploadedPortrait, UploadedVoice
from gpu_service.config import DEFAULT_ASSETS
from tests.photos import two_people
from tests.runtime.conftest import Stack

HUMAN = DEFAULT_ASSETS / "voices" / "gold" / "librivox_en_reader_0920.wav"


def upload(stack: Stack, kind: str, path: Path, name: str | None = None) -> httpx.Response:
    with path.open("rb") as handle:
        files = {"file": (name or path.name, handle)}
        return httpx.post(f"{stack.runtime.url}/api/v1/{kind}", files=files, timeout=120)


def stored_uploads(stack: Stack) -> set[Path]:
    return {path for path in (stack.data_dir / "uploads").rglob("*") if path.is_file()}


def test_wav_voice_upload_is_cleaned_and_usable(stack: Stack) -> None:
    response = upload(stack, "voices", HUMAN)
    assert response.status_code == 201, response.text
    voice = UploadedVoice.model_validate(response.json())
    assert 3 < voice.duration_s <= 10.0
    result = httpx.post(
        f"{stack.runtime.url}/api/v1/generate", json={"text": "My own voice.", "voice": voice.id}, timeout=300
    )
    assert result.status_code == 200, result.text
    assert GenerateResult.model_validate(result.json()).voice == voice.id
    assert voice.id in [item["id"] for item in httpx.get(f"{stack.runtime.url}/api/v1/voices").json()["uploaded"]]


def test_voice_from_a_video(stack: Stack, tmp_path: Path) -> None:
    audio, rate = sf.read(HUMAN, dtype="float32")
    clip = tmp_path / "interview.mp4"
    write_mp4(clip, (np.zeros((64, 64, 3), np.uint8) for _ in range(int(len(audio) / rate * 10))), 10, audio, rate)
    response = upload(stack, "voices", clip)
    assert response.status_code == 201, response.text


def test_not_audio_is_refused_and_nothing_kept(stack: Stack, tmp_path: Path) -> None:
    before = stored_uploads(stack)
    notes = tmp_path / "notes.wav"
    notes.write_text("this is not a recording")
    response = upload(stack, "voices", notes)
    assert response.status_code == 422 and "notes.wav" in response.json()["detail"]
    assert stored_uploads(stack) == before


def test_voice_over_the_size_limit(stack: Stack, tmp_path: Path) -> None:
    big = tmp_path / "long.wav"
    sf.write(big, np.zeros(2_000_000, np.float32), 16000)  # 4 MB; this stack's limit is 3 MB
    before = stored_uploads(stack)
    response = upload(stack, "voices", big)
    assert response.status_code == 413 and "3000000" in response.json()["detail"]
    assert stored_uploads(stack) == before


def test_portrait_upload_is_usable(stack: Stack, tmp_path: Path) -> None:
    photo = tmp_path / "me.jpg"
    cv2.imwrite(str(photo), cv2.imread(str(DEFAULT_ASSETS / "images" / "astronaut_full.png")))
    response = upload(stack, "portraits", photo)
    assert response.status_code == 201, response.text
    portrait = UploadedPortrait.model_validate(response.json())
    assert (portrait.width, portrait.height) == (512, 512)
    result = httpx.post(
        f"{stack.runtime.url}/api/v1/generate", json={"text": "New face.", "portrait": portrait.id}, timeout=300
    )
    assert result.status_code == 200, result.text


def test_a_photo_of_two_people_says_so_and_either_face_can_speak(stack: Stack, tmp_path: Path) -> None:
    photo = tmp_path / "us.png"
    cv2.imwrite(str(photo), two_people())
    portrait = UploadedPortrait.model_validate(upload(stack, "portraits", photo).json())
    assert portrait.faces == 2 and "the largest is animated" in portrait.notices[0]
    body = {"text": "The other one speaks.", "portrait": portrait.id, "face": 1}
    result = GenerateResult.model_validate(
        httpx.post(f"{stack.runtime.url}/api/v1/generate", json=body, timeout=300).json()
    )
    assert "face 1 (by size; 0 is the largest) is animated" in result.notices[0]
    refused = httpx.post(f"{stack.runtime.url}/api/v1/generate", json={**body, "face": 5}, timeout=60)
    assert refused.status_code == 404 and "face 5 does not exist" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("wall.png", "blank", "no face found in wall.png"),
        ("photo.png", "text", "not a JPEG or PNG"),
        ("cut.png", "truncated", "not a readable image"),
    ],
)
def test_bad_portraits_are_refused_and_nothing_kept(
    stack: Stack, tmp_path: Path, name: str, content: str, words: str
) -> None:
    path = tmp_path / name
    if content == "blank":
        cv2.imwrite(str(path), np.full((256, 256, 3), 200, np.uint8))
    elif content == "text":
        path.write_text("hello")
    else:
        cv2.imwrite(str(path), cv2.imread(str(DEFAULT_ASSETS / "images" / "astronaut.png")))
        path.write_bytes(path.read_bytes()[:200])
    before = stored_uploads(stack)
    response = upload(stack, "portraits", path)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert stored_uploads(stack) == before
