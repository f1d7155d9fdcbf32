"""Limits on untrusted input, and names or paths that try to leave their folders, across every endpoint."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import soundfile as sf

from common.errors import TooLarge, Unprocessable
from common.media.bounded import run_bounded
from common.process.launch import RunningService
from harness.stack import local_stack


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningService, RunningService]]:
    base = tmp_path_factory.mktemp("limits")
    runtime_env = {
        "RUNTIME_RATE_LIMIT_PER_MINUTE": "0",
        "RUNTIME_MAX_VOICE_UPLOAD_SECONDS": "15",
        "RUNTIME_MAX_VOICE_UPLOAD_BYTES": "3000000",
        "RUNTIME_MAX_PORTRAIT_PIXELS": "1000000",
        "RUNTIME_MAX_TEXT_CHARS": "300",
    }
    gpu_env = {"GPU_MAX_INPUT_BYTES": "100000", "GPU_MAX_TEXT_CHARS": "300"}
    with local_stack(base / "gpu", base / "data", base / "logs", gpu_env=gpu_env, runtime_env=runtime_env) as services:
        yield services


def wav_bytes(seconds: float, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.2 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def png_bytes(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode(".png", np.zeros((height, width, 3), np.uint8))
    assert ok
    return encoded.tobytes()


def test_voice_longer_than_the_limit_is_refused_with_the_limit(pair: tuple[RunningService, RunningService]) -> None:
    _, runtime = pair
    response = httpx.post(
        f"{runtime.url}/api/v1/voices", files={"file": ("long.wav", wav_bytes(40), "audio/wav")}, timeout=60
    )
    assert response.status_code == 413
    assert "40 s long" in response.json()["detail"] and "15 s" in response.json()["detail"]


def test_upload_over_the_byte_limit_stops_while_streaming(pair: tuple[RunningService, RunningService]) -> None:
    _, runtime = pair
    response = httpx.post(
        f"{runtime.url}/api/v1/voices", files={"file": ("huge.wav", b"\0" * 3_500_000, "audio/wav")}, timeout=60
    )
    assert response.status_code == 413 and "3000000 bytes" in response.json()["detail"]


def test_portrait_with_too_many_pixels_is_refused_before_decoding(pair: tuple[RunningService, RunningService]) -> None:
    _, runtime = pair
    response = httpx.post(
        f"{runtime.url}/api/v1/portraits", files={"file": ("big.png", png_bytes(3000, 2000), "image/png")}, timeout=60
    )
    assert response.status_code == 413
    assert "3000x2000" in response.json()["detail"] and "RUNTIME_MAX_PORTRAIT_PIXELS" in response.json()["detail"]


def test_gpu_input_over_the_limit(pair: tuple[RunningService, RunningService]) -> None:
    gpu, _ = pair
    response = httpx.put(f"{gpu.url}/api/v1/inputs/voices/big.wav", content=b"\0" * 200_000, timeout=60)
    assert response.status_code == 413


@pytest.mark.parametrize("service", ["runtime", "gpu"])
def test_text_over_the_limit(pair: tuple[RunningService, RunningService], service: str) -> None:
    gpu, runtime = pair
    url = f"{runtime.url}/api/v1/generate" if service == "runtime" else f"{gpu.url}/api/v1/tts"
    response = httpx.post(url, json={"text": "word " * 100, "language": "en"}, timeout=60)
    assert response.status_code == 413 and "300" in response.json()["detail"]


# --- names and paths that try to leave their folders ---------------------------------------------------------------

OUTSIDE = ["../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "voices/../../../etc/passwd"]


@pytest.mark.parametrize("name", OUTSIDE)
def test_runtime_names_never_reach_outside(pair: tuple[RunningService, RunningService], name: str) -> None:
    _, runtime = pair
    for body in ({"text": "Hi.", "language": "en", "voice": name}, {"text": "Hi.", "language": "en", "portrait": name}):
        response = httpx.post(f"{runtime.url}/api/v1/generate", json=body, timeout=60)
        assert 400 <= response.status_code < 500, response.text
    for path in (f"/api/v1/videos/{name}", f"/api/v1/jobs/{name}"):
        response = httpx.get(f"{runtime.url}{path}")
        assert response.status_code in (400, 404), (path, response.status_code)
        assert b"root:" not in response.content


@pytest.mark.parametrize("name", OUTSIDE)
def test_gpu_paths_never_reach_outside(pair: tuple[RunningService, RunningService], name: str) -> None:
    gpu, _ = pair
    checks = [
        httpx.get(f"{gpu.url}/api/v1/files", params={"path": name}),
        httpx.post(f"{gpu.url}/api/v1/tts", json={"text": "Hi.", "language": "en", "voice": name}, timeout=60),
        httpx.post(f"{gpu.url}/api/v1/avatar", json={"audio_path": name}, timeout=60),
        httpx.post(f"{gpu.url}/api/v1/portraits/check", json={"portrait": name}, timeout=60),
        httpx.post(f"{gpu.url}/api/v1/avatar", json={"audio_path": "tts/x.wav", "portrait": name}, timeout=60),
        httpx.put(f"{gpu.url}/api/v1/inputs/voices/{name}", content=b"data"),
    ]
    for response in checks:
        assert 400 <= response.status_code < 500, (response.request.url, response.status_code, response.text)
        assert b"root:" not in response.content


def test_upload_file_names_are_labels_not_paths(pair: tuple[RunningService, RunningService], tmp_path: Path) -> None:
    _, runtime = pair
    sneaky = "../../../../tmp/escaped-upload.wav"
    response = httpx.post(
        f"{runtime.url}/api/v1/voices", files={"file": (sneaky, wav_bytes(3), "audio/wav")}, timeout=60
    )
    assert response.status_code == 201, response.text
    assert response.json()["id"].startswith("v_") and response.json()["source_name"] == sneaky
    assert not Path("/tmp/escaped-upload.wav").exists()
    refused = httpx.post(
        f"{runtime.url}/api/v1/portraits", files={"file": (sneaky, b"not an image", "image/png")}, timeout=60
    )
    assert refused.status_code == 422 and not Path("/tmp/escaped-upload.wav").exists()


def test_symlink_out_of_the_output_root_is_refused(pair: tuple[RunningService, RunningService], tmp_path: Path) -> None:
    gpu, _ = pair
    root = Path(httpx.get(f"{gpu.url}/health").json()["output_root"])
    link = root / "tts" / "escape.wav"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    os.symlink("/etc/passwd", link)
    response = httpx.get(f"{gpu.url}/api/v1/files", params={"path": str(link)})
    assert response.status_code == 400 and b"root:" not in response.content


# --- bounded decoding -----------------------------------------------------------------------------------------------


def test_decoding_that_takes_too_long_is_given_up() -> None:
    started = time.monotonic()
    with pytest.raises(Unprocessable, match=r"longer than 0\.5 s"):
        run_bounded(time.sleep, 30, timeout_s=0.5, what="slow.wav")
    assert time.monotonic() - started < 5


def test_errors_and_crashes_in_the_decoder_come_back() -> None:
    assert run_bounded(int, "42", timeout_s=30, what="x") == 42
    with pytest.raises(ValueError):
        run_bounded(int, "not a number", timeout_s=30, what="x")
    with pytest.raises(TooLarge):
        run_bounded(_too_large, timeout_s=30, what="x")
    with pytest.raises(Unprocessable, match="crashed"):
        run_bounded(os._exit, 3, timeout_s=30, what="x")


def _too_large() -> None:
    raise TooLarge("too long")
