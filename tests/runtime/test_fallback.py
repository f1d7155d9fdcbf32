"""gpu_service down: the runtime falls back to its local engines (a gpu_service child process), or answers 503
saying what to do."""

from __future__ import annotations

from pathlib import Path

import httpx

from common.media.mp4_boxes import BoxReader
from common.process.launch import free_port, run_service
from contracts.runtime import FALLBACK_HEADER, VIDEO_ID_HEADER, GenerateResult


def dead_gpu_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "RUNTIME_GPU_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "RUNTIME_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


def test_local_mode_falls_back_to_in_process_engines(tmp_path: Path) -> None:
    with run_service("runtime.app:create_app", dead_gpu_env(tmp_path), tmp_path) as runtime:
        health = httpx.get(f"{runtime.url}/health").json()
        assert health["status"] == "degraded" and not health["gpu_service"]["reachable"]
        assert health["fallback"] == "local"
        response = httpx.post(
            f"{runtime.url}/api/v1/generate", json={"text": "Still here.", "language": "en"}, timeout=300
        )
        assert response.status_code == 200, response.text
        result = GenerateResult.model_validate(response.json())
        assert result.fallback and result.engines.tts == "espeak"
        assert httpx.get(result.video_url).status_code == 200

        # Streaming through the local engines streams too: fragments arrive before the end.
        text = " ".join(["The service is down, but the page still talks."] * 6)
        reader, fragments_before_last_chunk, chunks = BoxReader(), [], 0
        body = {"text": text, "language": "en", "stream": True}
        with httpx.stream("POST", f"{runtime.url}/api/v1/generate", json=body, timeout=300) as streamed:
            assert streamed.status_code == 200 and streamed.headers[FALLBACK_HEADER] == "true"
            for chunk in streamed.iter_bytes():
                chunks += 1
                fragments_before_last_chunk.append(sum(box.kind == "moof" for box in reader.feed(chunk)))
        assert chunks > 3 and sum(fragments_before_last_chunk[:-1]) >= 3, "fragments came one by one"
        video_id = streamed.headers[VIDEO_ID_HEADER]
        assert httpx.get(f"{runtime.url}/api/v1/videos/{video_id}").status_code == 200


def test_without_fallback_the_answer_is_503_naming_what_is_down(tmp_path: Path) -> None:
    env = dead_gpu_env(tmp_path, RUNTIME_MODE="production")
    with run_service("runtime.app:create_app", env, tmp_path) as runtime:
        assert httpx.get(f"{runtime.url}/health").json()["fallback"] == "off"
        response = httpx.post(f"{runtime.url}/api/v1/generate", json={"text": "Anyone?", "language": "en"}, timeout=60)
        assert response.status_code == 503
        detail = response.json()["detail"]
        assert "gpu_service" in detail and "run_gpu_service.sh" in detail and env["RUNTIME_GPU_SERVICE_URL"] in detail
        assert not list((tmp_path / "data" / "videos").glob("*")), "nothing half-written"
