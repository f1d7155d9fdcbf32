"""The real gpu_service over HTTP: speech in three languages, decoded and measured."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from common.media.audio import rms_dbfs
from common.process.launch import RunningService
from contracts.gpu_service import HealthResponse, TTSResponse, VoicesResponse

TEXTS = {
    "en": ("The weather is lovely today, so we are going for a long walk in the park.", (8, 25)),
    "zh": ("今天天气很好，我们一起去公园散步吧。", (2, 8)),
    "es": ("Hoy hace muy buen tiempo, así que vamos a dar un largo paseo por el parque.", (8, 25)),
}


def post_tts(service: RunningService, body: dict[str, object], timeout: float = 120) -> httpx.Response:
    return httpx.post(f"{service.url}/api/v1/tts", json=body, timeout=timeout)


def test_health_reports_device_and_ready_engine(gpu_service: RunningService) -> None:
    health = HealthResponse.model_validate(httpx.get(f"{gpu_service.url}/health").json())
    assert health.status == "ok"
    assert health.device == "cpu"
    espeak = next(engine for engine in health.engines if engine.name == "espeak")
    assert espeak.state == "ready" and espeak.default
    assert set(espeak.languages) == {"en", "zh", "es"}


def test_voices_lists_human_and_synthetic_references(gpu_service: RunningService) -> None:
    voices = VoicesResponse.model_validate(httpx.get(f"{gpu_service.url}/api/v1/voices").json()).voices
    kinds = {voice.id: voice.kind for voice in voices}
    assert kinds["librivox_en_reader"] == "human"
    assert kinds["synthetic_en_female"] == "synthetic"
    assert all(voice.license for voice in voices)


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_speech_is_real_audio_with_a_timeline(
    gpu_service: RunningService, gpu_output_root: Path, language: str
) -> None:
    text, (min_cps, max_cps) = TEXTS[language]
    response = post_tts(gpu_service, {"text": text, "language": language, "voice": "librivox_en_reader"})
    assert response.status_code == 200, response.text
    result = TTSResponse.model_validate(response.json())

    path = Path(result.audio_path)
    assert path.resolve().is_relative_to(gpu_output_root.resolve())
    samples, rate = sf.read(path, dtype="float32")
    assert rate == result.sample_rate
    duration = len(samples) / rate
    assert duration == pytest.approx(result.duration_s, abs=0.01)
    assert len(text) / max_cps <= duration <= len(text) / min_cps, f"{duration:.2f} s for {len(text)} characters"
    assert rms_dbfs(samples) > -35, "speech should not be near-silent"
    assert result.voice_matched

    times = [mark.t for mark in result.phonemes]
    assert times == sorted(times)
    spoken = [mark for mark in result.phonemes if mark.phoneme != "_"]
    assert len(spoken) >= len(text) // 4
    assert times[0] < 0.2 and times[-1] > 0.8 * duration, "the timeline should span the audio"


def test_matching_can_be_switched_off_per_request(gpu_service: RunningService) -> None:
    body = {"text": "Hello there.", "language": "en", "voice": "synthetic_en_female", "match_voice": False}
    result = TTSResponse.model_validate(post_tts(gpu_service, body).json())
    assert not result.voice_matched and result.timings.synth_s < 0.1


def test_long_text_is_split_and_joined_without_gaps_in_the_timeline(gpu_service: RunningService) -> None:
    sentence = "This sentence is one of many that together make a long text for the speech engine. "
    text = (sentence * 58)[:4990]
    result = TTSResponse.model_validate(post_tts(gpu_service, {"text": text, "language": "en"}).json())
    samples, rate = sf.read(result.audio_path, dtype="float32")
    assert len(samples) / rate > 200  # ~5,000 characters is minutes of speech
    times = np.array([mark.t for mark in result.phonemes])
    assert np.all(np.diff(times) >= 0)
    assert np.max(np.diff(times)) < 1.5, "no sentence may be missing from the timeline"
    assert times[-1] > 0.95 * len(samples) / rate - 1.0
