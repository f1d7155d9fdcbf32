"""Bad requests to the real gpu_service: each a 4xx with a readable message, and nothing written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest

from common.process.launch import RunningService


def post(service: RunningService, body: Mapping[str, object]) -> httpx.Response:
    return httpx.post(f"{service.url}/api/v1/tts", json=body, timeout=60)


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text(gpu_service: RunningService, text: str) -> None:
    response = post(gpu_service, {"text": text, "language": "en"})
    assert response.status_code == 422
    assert "text is empty" in response.json()["detail"]


def test_text_over_the_limit_names_the_limit(gpu_service: RunningService) -> None:
    response = post(gpu_service, {"text": "a" * 5001, "language": "en"})
    assert response.status_code == 413
    assert "5000" in response.json()["detail"]


def test_unknown_language_lists_supported_ones(gpu_service: RunningService) -> None:
    response = post(gpu_service, {"text": "Bonjour", "language": "fr"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "language" in detail and all(code in detail for code in ("'en'", "'zh'", "'es'"))


def test_unknown_voice_is_404_and_lists_known_voices(gpu_service: RunningService) -> None:
    response = post(gpu_service, {"text": "Hi", "language": "en", "voice": "nobody"})
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"] and "librivox_en_reader" in response.json()["detail"]


def test_missing_voice_file_inside_the_roots_is_404(gpu_service: RunningService, gpu_output_root: Path) -> None:
    response = post(gpu_service, {"text": "Hi", "language": "en", "voice": str(gpu_output_root / "absent.wav")})
    assert response.status_code == 404


@pytest.mark.parametrize("voice", ["../../etc/passwd", "/etc/passwd", "../../../../../../etc/hostname.wav"])
def test_voice_path_outside_the_roots_is_refused(gpu_service: RunningService, voice: str) -> None:
    response = post(gpu_service, {"text": "Hi", "language": "en", "voice": voice})
    assert response.status_code == 400
    assert "outside the folders this service reads from" in response.json()["detail"]


def test_symlink_out_of_the_roots_is_refused(gpu_service: RunningService, gpu_output_root: Path) -> None:
    link = gpu_output_root / "escape.wav"
    link.symlink_to("/etc/passwd")
    try:
        response = post(gpu_service, {"text": "Hi", "language": "en", "voice": str(link)})
    finally:
        link.unlink()
    assert response.status_code == 400


def test_non_audio_reference_is_422_naming_the_file(gpu_service: RunningService, gpu_output_root: Path) -> None:
    fake = gpu_output_root / "uploads" / "not_audio.wav"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text("this is text, not a recording")
    response = post(gpu_service, {"text": "Hi", "language": "en", "voice": str(fake)})
    assert response.status_code == 422
    assert "not_audio.wav" in response.json()["detail"]


def test_unknown_engine_is_422_naming_the_known_ones(gpu_service: RunningService) -> None:
    response = post(gpu_service, {"text": "Hi", "language": "en", "engine": "nope"})
    assert response.status_code == 422
    assert "espeak" in response.json()["detail"]


def test_bad_requests_write_nothing(gpu_service: RunningService, gpu_output_root: Path) -> None:
    before = files_under(gpu_output_root)
    for body in (
        {"text": "", "language": "en"},
        {"text": "Hi", "language": "xx"},
        {"text": "Hi", "language": "en", "voice": "../../etc/passwd"},
        {"text": "a" * 6000, "language": "en"},
    ):
        assert 400 <= post(gpu_service, body).status_code < 500
    assert files_under(gpu_output_root) == before
