"""Portraits people actually have (tests/photos.py: public-domain and CC0 photos from scikit-image and matplotlib): a
small face in a larger photo, two people, a grayscale photo, a very small photo, a photo with no face, and people
beside things a face detector takes for faces."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import pytest

from common.media.audio import write_wav
from common.process.launch import RunningService
from contracts.gpu_service import AvatarResponse, PortraitCheckResponse
from gpu_service.engines.avatar.face import NO_FACE_ADVICE, SMALL_FACE_PX
from tests.photos import astronaut, cameraman, coffee, face_like_distractors, small_face, two_people

DISTRACTORS = face_like_distractors()


@pytest.fixture(scope="module")
def photos(gpu_output_root: Path) -> dict[str, Path]:
    folder = gpu_output_root / "inputs" / "people"
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "grayscale": cv2.resize(cameraman(), (1024, 1024), interpolation=cv2.INTER_CUBIC),  # one channel
        "small_face": small_face(),
        "two_people": two_people(),
        "tiny": cv2.resize(astronaut(), (150, 150), interpolation=cv2.INTER_AREA),
        "no_face": coffee(),
    }
    paths = {}
    for name, image in made.items():
        paths[name] = folder / f"{name}.png"
        cv2.imwrite(str(paths[name]), image)
    return paths


def check(service: RunningService, portrait: Path, face: int = 0) -> httpx.Response:
    body = {"portrait": str(portrait), "face": face}
    return httpx.post(f"{service.url}/api/v1/portraits/check", json=body, timeout=60)


def accepted(service: RunningService, portrait: Path, face: int = 0) -> PortraitCheckResponse:
    response = check(service, portrait, face)
    assert response.status_code == 200, response.text
    return PortraitCheckResponse.model_validate(response.json())


def test_a_grayscale_photo_with_a_closed_mouth_is_accepted(
    gpu_service: RunningService, photos: dict[str, Path]
) -> None:
    result = accepted(gpu_service, photos["grayscale"])
    assert (result.faces, result.notices) == (1, [])


def test_a_small_face_in_a_large_photo_is_found_and_said_to_be_small(
    gpu_service: RunningService, photos: dict[str, Path]
) -> None:
    result = accepted(gpu_service, photos["small_face"])
    assert 20 < result.face_px < SMALL_FACE_PX
    assert len(result.notices) == 1 and f"only {result.face_px} pixels tall" in result.notices[0]
    _, y0, _, y1 = result.face_box  # framed around the face: it fills the crop as a portrait's would
    assert 0.25 < (y1 - y0) / result.size < 0.6


def test_with_two_people_the_largest_is_used_and_the_other_can_be_chosen(
    gpu_service: RunningService, photos: dict[str, Path]
) -> None:
    largest = accepted(gpu_service, photos["two_people"])
    assert (largest.faces, largest.face) == (2, 0)
    assert "2 faces found in the photo: the largest is animated" in largest.notices[0]
    assert accepted(gpu_service, photos["two_people"], face=1).face_px < largest.face_px
    missing = check(gpu_service, photos["two_people"], face=2)
    assert missing.status_code == 404 and "face 2 does not exist" in missing.json()["detail"]


def test_the_chosen_face_is_the_one_animated(
    gpu_service: RunningService, photos: dict[str, Path], gpu_output_root: Path
) -> None:
    rate = 16_000
    tone = (0.3 * np.sin(2 * np.pi * 200 * np.arange(rate) / rate)).astype(np.float32)
    audio = gpu_output_root / "inputs" / "people" / "tone.wav"
    write_wav(audio, tone, rate)
    saturation = []
    for face in (0, 1):
        body = {"audio_path": str(audio), "portrait": str(photos["two_people"]), "face": face, "size": 256}
        response = httpx.post(f"{gpu_service.url}/api/v1/avatar", json=body, timeout=120)
        assert response.status_code == 200, response.text
        result = AvatarResponse.model_validate(response.json())
        assert result.notices and "2 faces found" in result.notices[0]
        with av.open(result.video_path) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        saturation.append(float(cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1].mean()))
    assert saturation[0] > 40 > 12 > saturation[1], saturation  # the astronaut in colour, the cameraman in gray


def test_a_very_small_photo_is_accepted_with_a_notice(gpu_service: RunningService, photos: dict[str, Path]) -> None:
    result = accepted(gpu_service, photos["tiny"])
    assert result.face_px < SMALL_FACE_PX and "pixels tall" in result.notices[0]


def test_a_photo_without_a_face_is_refused_with_what_to_do(
    gpu_service: RunningService, photos: dict[str, Path]
) -> None:
    response = check(gpu_service, photos["no_face"])
    assert response.status_code == 422
    assert response.json()["detail"] == f"no face found in {photos['no_face']}: {NO_FACE_ADVICE}"


@pytest.mark.parametrize("name", DISTRACTORS)
def test_only_faces_the_mesh_confirms_are_counted(
    gpu_service: RunningService, gpu_output_root: Path, name: str
) -> None:
    photo, real_faces = DISTRACTORS[name]
    path = gpu_output_root / "inputs" / "people" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), photo)
    if real_faces == 0:
        response = check(gpu_service, path)
        assert response.status_code == 422 and "no face found" in response.json()["detail"]
        return
    result = accepted(gpu_service, path)
    assert result.faces == real_faces and not any("faces found" in notice for notice in result.notices)
    assert check(gpu_service, path, face=real_faces).status_code == 404
