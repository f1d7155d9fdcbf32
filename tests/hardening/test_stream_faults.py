"""Streams that end badly, with real processes: the gpu_service killed mid-stream, clients that walk away."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from common.media.mp4_boxes import BoxReader
from common.process.launch import run_service
from contracts.gpu_service import SPEAK_ID_HEADER, SpeakResult
from contracts.runtime import VIDEO_ID_HEADER
from tests.hardening.test_faults import LONG_TEXT, one_machine_env

STREAM_TEXT = LONG_TEXT * 2  # ~40 s of speech: long enough to be cut in the middle


@pytest.mark.deep  # a service killed or restarted: make test-deep
def test_gpu_service_killed_mid_stream_ends_the_stream_with_an_error_and_stores_nothing(tmp_path: Path) -> None:
    gpu_env = {"GPU_OUTPUT_ROOT": str(tmp_path / "gpu")}
    with run_service("gpu_service.app:create_app", gpu_env, tmp_path) as gpu:
        # Fallback on: a stream already under way cannot switch engines, it must still end with the error signal.
        env = one_machine_env(gpu.url, tmp_path, RUNTIME_FALLBACK="local")
        with run_service("runtime.app:create_app", env, tmp_path) as runtime:
            body = {"text": STREAM_TEXT, "language": "en", "stream": True}
            reader, fragments = BoxReader(), 0
            with (
                pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
                httpx.stream("POST", f"{runtime.url}/api/v1/generate", json=body, timeout=120) as response,
            ):
                assert response.status_code == 200
                video_id = response.headers[VIDEO_ID_HEADER]
                for chunk in response.iter_bytes():
                    fragments += sum(box.kind == "moof" for box in reader.feed(chunk))
                    if fragments == 3:
                        gpu.stop(signal.SIGKILL)
            assert fragments >= 3
            assert httpx.get(f"{runtime.url}/api/v1/videos/{video_id}").status_code == 404
            assert not list((tmp_path / "data" / "videos").iterdir()), "nothing half-written is left"
            # The runtime is still fine and, with the gpu_service gone, answers through the fallback.
            again = httpx.post(  # the local gpu_service starts first (a few seconds)
                f"{runtime.url}/api/v1/generate", json={"text": "Still here.", "language": "en"}, timeout=300
            )
            assert again.status_code == 200 and again.json()["fallback"] is True


@pytest.fixture(scope="module")
def gpu(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("abandon")
    with run_service("gpu_service.app:create_app", {"GPU_OUTPUT_ROOT": str(folder / "gpu")}, folder) as service:
        yield service, folder / "gpu"


@pytest.mark.parametrize("leave_after", ["headers", "first_fragment", "midway"])
def test_a_client_that_leaves_releases_everything(gpu, leave_after: str) -> None:
    service, root = gpu
    body = {"text": STREAM_TEXT, "language": "en", "voice": "librivox_en_reader"}
    reader, fragments = BoxReader(), 0
    with httpx.stream("POST", f"{service.url}/api/v1/speak", json=body, timeout=120) as response:
        speak_id = response.headers[SPEAK_ID_HEADER]
        for chunk in response.iter_bytes():
            fragments += sum(box.kind == "moof" for box in reader.feed(chunk))
            if leave_after == "headers" or (leave_after == "first_fragment" and fragments) or fragments >= 10:
                break
    # The service notices, stops every stage, removes the partial file and records why (in its answer about the
    # stream, and in the record written once it ended).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = SpeakResult.model_validate(httpx.get(f"{service.url}/api/v1/speak/{speak_id}", timeout=10).json())
        if result.status != "running":
            break
        time.sleep(0.05)
    assert result.status == "failed" and result.error is not None and "went away" in result.error
    stored = SpeakResult.model_validate_json((root / "video" / f"{speak_id}.json").read_text())
    assert stored.status == "failed" and stored.error == result.error
    assert not list((root / "video").glob("*.part")) and not (root / "video" / f"{speak_id}.mp4").exists()
    assert result.duration_s < 30, "work stopped well before the end of the text"
    # The next request is served at once: no lock, thread or session was left behind.
    started = time.perf_counter()
    answer = httpx.post(f"{service.url}/api/v1/speak", json={**body, "text": "Next, please."}, timeout=60)
    assert answer.status_code == 200 and answer.content
    record = json.loads((root / "video" / f"{answer.headers[SPEAK_ID_HEADER]}.json").read_text())
    assert record["status"] == "done"
    assert time.perf_counter() - started < 20
