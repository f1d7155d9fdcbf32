"""POST /api/v1/generate against the real runtime and gpu_service; videos fetched over HTTP and measured."""

from __future__ import annotations

from pathlib import Path

import av
import httpx
import pytest

from contracts.runtime import GenerateResult
from evaluator.media import probe
from tests.runtime.conftest import Stack

TEXTS = {
    "en": "Good morning! Today we are going to learn something new together.",
    "zh": "早上好！今天我们一起学习一些新的东西。",
    "es": "¡Buenos días! Hoy vamos a aprender algo nuevo juntos.",
}


def generate(stack: Stack, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{stack.runtime.url}/api/v1/generate", json=body, timeout=600)


def download(url: str, destination: Path) -> Path:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    destination.write_bytes(response.content)
    return destination


@pytest.mark.parametrize(
    ("language", "requested"), [("en", "en"), ("zh", "zh"), ("es", "es"), ("zh", "auto"), ("es", "auto")]
)
def test_generate_returns_a_playable_video(stack: Stack, tmp_path: Path, language: str, requested: str) -> None:
    response = generate(stack, {"text": TEXTS[language], "language": requested})
    assert response.status_code == 200, response.text
    result = GenerateResult.model_validate(response.json())
    assert result.language == language
    assert result.language_detected == (requested == "auto")
    assert not result.fallback
    assert (result.engines.tts, result.engines.avatar) == ("espeak", "animator")
    assert 0 < result.timings.first_fragment_s < result.timings.total_s and result.timings.render_s > 0
    assert result.rtf == pytest.approx(result.timings.total_s / result.duration_s, rel=1e-6)

    info = probe(download(result.video_url, tmp_path / "clip.mp4"))
    assert (info.video_codec, info.audio_codec, info.width, info.fps) == ("h264", "aac", 512, 25)
    assert info.duration_s == pytest.approx(result.duration_s, abs=0.04)
    assert info.duration_s > 1.5


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(video=0) if packet.size]


def test_the_stored_video_is_the_gpu_services_stream_with_its_index_first(stack: Stack) -> None:
    """The runtime stores what the stream carried (remuxed for seeking), not a second encode."""
    result = GenerateResult.model_validate(generate(stack, {"text": "Stored as streamed.", "language": "en"}).json())
    stored = stack.data_dir / "videos" / f"{result.video_id}.mp4"
    assert probe(stored).faststart
    stored_packets = video_packets(stored)
    produced = [path for path in (stack.host_root / "video").glob("*.mp4") if video_packets(path) == stored_packets]
    assert len(produced) == 1
    assert b"moof" in produced[0].read_bytes() and b"moof" not in stored.read_bytes()  # fragmented -> plain


def test_range_request_returns_the_right_bytes(stack: Stack) -> None:
    result = GenerateResult.model_validate(generate(stack, {"text": "Seek me.", "language": "en"}).json())
    whole = httpx.get(result.video_url).content
    part = httpx.get(result.video_url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1123/{len(whole)}"
    assert part.content == whole[100:1124]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"text": "", "language": "en"}, 422, "text is empty"),
        ({"text": "Hello", "language": "fr"}, 422, "'en', 'zh', 'es' or 'auto'"),
        ({"text": "Bonjour tout le monde, comment allez-vous aujourd'hui ?", "language": "auto"}, 422, "'fr'"),
        ({"text": "Hello", "voice": "nobody"}, 404, "nobody"),
        ({"text": "Hello", "portrait": "nobody"}, 404, "nobody"),
        ({"text": "Hello", "voice": "v_000000000000"}, 404, "v_000000000000"),
        ({"text": "Hello", "voice": "../../../etc/passwd"}, 400, "outside"),
        ({"text": "a" * 5001, "language": "en"}, 413, "5000"),
    ],
)
def test_bad_requests(stack: Stack, body: dict[str, object], status: int, words: str) -> None:
    response = generate(stack, body)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


@pytest.mark.parametrize("video_id", ["0" * 32, "..%2F..%2Fetc%2Fpasswd", "not-an-id"])
def test_unknown_video_is_404(stack: Stack, video_id: str) -> None:
    assert httpx.get(f"{stack.runtime.url}/api/v1/videos/{video_id}").status_code == 404


def test_health_reports_the_gpu_service(stack: Stack) -> None:
    health = httpx.get(f"{stack.runtime.url}/health").json()
    assert health["status"] == "ok" and health["mode"] == "local" and health["shared_volume"]
    assert health["gpu_service"]["reachable"] and health["gpu_service"]["device"] == "cpu"
    assert {engine["name"] for engine in health["gpu_service"]["engines"]} >= {"espeak", "animator"}


def test_the_answer_says_what_was_spoken_and_the_captions_follow_the_sentences(stack: Stack) -> None:
    text = "The tickets cost $12.50 each. We meet on 12/03/2025 at 7:45pm!"
    result = GenerateResult.model_validate(generate(stack, {"text": text, "language": "en"}).json())
    assert result.spoken_text == (
        "The tickets cost twelve dollars fifty cents each. We meet on December third, twenty twenty-five at seven "
        "forty-five p m!"
    )
    assert [segment.text for segment in result.segments] == ["The tickets cost $12.50 each.", text.split(". ")[1]]
    assert result.captions_url == f"/api/v1/videos/{result.video_id}/captions.vtt"
    response = httpx.get(f"{stack.runtime.url}{result.captions_url}", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/vtt")
    header, *cues = response.text.strip().split("\n\n")
    assert header == "WEBVTT" and len(cues) == 2
    for cue, segment in zip(cues, result.segments, strict=True):
        number, times, caption = cue.split("\n")
        assert number.isdigit()
        start, end = (seconds(stamp) for stamp in times.split(" --> "))
        assert caption == segment.text  # captions show the text as written
        assert abs(start - segment.start_s) < 0.002 and abs(end - segment.start_s - segment.duration_s) < 0.002
    assert abs(end - result.duration_s) < 0.1, "the last cue ends with the speech"
    assert httpx.get(f"{stack.runtime.url}/api/v1/videos/{'0' * 32}/captions.vtt").status_code == 404


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)
