"""POST /api/v1/transcribe on the real service, and the streaming utterance detector, on real recordings."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import av
import httpx
import jiwer
import numpy as np
import pytest
import soxr

from common.media.audio import load_audio
from common.process.launch import RunningService
from contracts.gpu_service import TranscribeResponse, TTSResponse
from evaluator.metrics.intelligibility import normalize_text
from gpu_service.config import Settings
from gpu_service.engines.asr.streaming import (
    SileroStream,
    SpeechPaused,
    SpeechStarted,
    StreamingRecognizer,
    UtteranceDetector,
    UtteranceEnded,
    VoiceFaded,
    VoiceHeard,
)
from gpu_service.engines.asr.transcriber import RATE, Transcriber

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "voices"
# The book's words for the bundled LibriVox clip (Sense and Sensibility, ch. 2; public domain).
LIBRIVOX_TEXT = (
    "And Mr. John Dashwood had then leisure to consider how much there might be prudently in his power to do for "
    "them. He was not an ill-disposed young man"
)
SPOKEN = {
    "en": "The weather is lovely today, so we will walk to the park.",
    "es": "Hoy hace buen tiempo, así que vamos a caminar al parque.",
    "zh": "今天天气很好，我们去公园散步吧。",
}


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def webm_opus(samples: np.ndarray, rate: int) -> bytes:
    """What a browser's MediaRecorder sends: Opus in WebM, 48 kHz."""
    audio = soxr.resample(samples, rate, 48_000).astype(np.float32)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48_000)
        stream.layout = "mono"
        for start in range(0, len(audio), 960):
            frame = av.AudioFrame.from_ndarray(audio[None, start : start + 960], format="flt", layout="mono")
            frame.sample_rate = 48_000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def transcribe(service: RunningService, data: bytes, name: str) -> httpx.Response:
    return httpx.post(f"{service.url}/api/v1/transcribe", files={"file": (name, data)}, timeout=120)


def speech(service: RunningService, language: str) -> tuple[np.ndarray, int]:
    response = httpx.post(
        f"{service.url}/api/v1/tts", json={"text": SPOKEN[language], "language": language}, timeout=120
    )
    return load_audio(Path(TTSResponse.model_validate(response.json()).audio_path))


def test_librivox_clip_is_transcribed_within_a_wer_bound(gpu_service: RunningService) -> None:
    response = transcribe(gpu_service, (ASSETS / "librivox_en_reader.wav").read_bytes(), "librivox.wav")
    assert response.status_code == 200, response.text
    result = TranscribeResponse.model_validate(response.json())
    assert result.language == "en" and result.whisper_language == "en" and result.language_probability > 0.5
    wer = jiwer.wer(normalize_text(LIBRIVOX_TEXT, "en"), normalize_text(result.text, "en"))
    assert wer < 0.15, result.text
    assert abs(result.duration_s - 10.0) < 0.05 and 5 < result.speech_s <= 10.05
    assert result.segments and result.segments[0].start_s < 1 and result.model == "whisper-base"


@pytest.mark.parametrize("language", ["en", "es", "zh"])
def test_speech_made_by_the_tts_engine_is_heard_in_its_language(gpu_service: RunningService, language: str) -> None:
    samples, rate = speech(gpu_service, language)
    result = TranscribeResponse.model_validate(transcribe(gpu_service, wav_bytes(samples, rate), "tts.wav").json())
    assert result.text
    if language != "zh":  # espeak-ng's Mandarin is not intelligible to Whisper (issue 13)
        assert result.language == language
        assert jiwer.wer(normalize_text(SPOKEN[language], language), normalize_text(result.text, language)) < 0.5


def test_a_browser_recording_in_webm_opus_is_understood(gpu_service: RunningService) -> None:
    samples, rate = load_audio(ASSETS / "librivox_en_reader.wav")
    response = transcribe(gpu_service, webm_opus(samples, rate), "recording.webm")
    assert response.status_code == 200, response.text
    assert "dashwood" in response.json()["text"].lower()


def test_silence_noise_and_non_audio_are_refused(gpu_service: RunningService) -> None:
    silence = transcribe(gpu_service, wav_bytes(np.zeros(3 * RATE), RATE), "silence.wav")
    assert silence.status_code == 422 and "no speech found" in silence.json()["detail"]
    noise = np.random.default_rng(0).normal(0, 0.1, 3 * RATE)
    assert transcribe(gpu_service, wav_bytes(noise, RATE), "noise.wav").status_code == 422
    text = transcribe(gpu_service, b"this is not audio at all", "notes.wav")
    assert text.status_code == 422 and "notes.wav" in text.json()["detail"]
    assert transcribe(gpu_service, b"", "empty.wav").status_code == 422


def test_a_recording_over_the_length_limit_is_refused(gpu_service: RunningService) -> None:
    long = wav_bytes(np.zeros(int(Settings().asr.max_seconds + 5) * RATE), RATE)
    response = transcribe(gpu_service, long, "long.wav")
    assert response.status_code == 413 and "GPU_ASR__MAX_SECONDS" in response.json()["detail"]


def test_the_streaming_detector_finds_utterances_and_reports_speech_starts_promptly() -> None:
    samples, _ = load_audio(ASSETS / "librivox_en_reader.wav", sample_rate=RATE)
    # Two stretches of the clip without a pause of 0.5 s inside (its one such pause is at 6.8-7.4 s).
    first, second = samples[: 4 * RATE], samples[int(7.4 * RATE) : int(9.9 * RATE)]
    pause = np.zeros(int(1.5 * RATE), np.float32)
    stream = np.concatenate([pause, first, pause, second, pause])
    onsets = [1.5, 1.5 + 4 + 1.5]  # where each utterance's audio begins (its speech may start a little later)
    lengths = [4.0, 2.5]
    transcriber = Transcriber(Settings().asr.model_dir, "cpu", 1)
    recognizer = StreamingRecognizer(UtteranceDetector(SileroStream(), end_silence_s=0.5), transcriber.transcribe)
    events = []
    frame = RATE // 50  # 20 ms, as a live track delivers it
    for start in range(0, len(stream), frame):
        for event in recognizer.feed(stream[start : start + frame]):
            events.append((start / RATE, event))
    starts = [(fed, event) for fed, event in events if isinstance(event, SpeechStarted)]
    heard = [(fed, event) for fed, event in events if not isinstance(event, SpeechStarted)]
    assert len(starts) == 2 and len(heard) == 2, events
    for (fed, started), onset in zip(starts, onsets, strict=True):
        assert onset - 0.05 <= started.at_s < onset + 0.6  # the clip's first word begins a little after its cut
        assert fed - started.at_s < 0.2, "speech start reported within 200 ms"
    for (fed, done), onset, length in zip(heard, onsets, lengths, strict=True):
        assert onset + length - 0.5 < done.end_s <= onset + length + 0.05
        assert done.end_s + 0.45 <= fed + 0.02 <= done.end_s + 0.6, "ended after ~500 ms of silence"
        assert done.transcript.language == "en" and len(done.transcript.text.split()) >= 3
    assert "dashwood" in heard[0][1].transcript.text.lower()


def test_a_pause_is_reported_before_the_end_and_only_the_last_pause_matches_it() -> None:
    samples, _ = load_audio(ASSETS / "librivox_en_reader.wav", sample_rate=RATE)
    words, more = samples[: 2 * RATE], samples[int(2.5 * RATE) : int(4 * RATE)]
    short, long = np.zeros(int(0.35 * RATE), np.float32), np.zeros(int(1.0 * RATE), np.float32)
    stream = np.concatenate([long, words, short, more, long])  # a pause shorter than the end silence, then the end
    detector = UtteranceDetector(SileroStream(), end_silence_s=0.5, pause_s=0.2)
    events = []
    for start in range(0, len(stream), RATE // 50):
        events += [(start / RATE, event) for event in detector.feed(stream[start : start + RATE // 50])]
    events = [(at, event) for at, event in events if not isinstance(event, VoiceHeard | VoiceFaded)]
    kinds = [type(event).__name__ for _, event in events]
    assert kinds == ["SpeechStarted", "SpeechPaused", "SpeechPaused", "UtteranceEnded"], kinds
    (_, first), (paused_at, last), (ended_at, ended) = events[1], events[2], events[3]
    assert isinstance(first, SpeechPaused) and isinstance(last, SpeechPaused) and isinstance(ended, UtteranceEnded)
    assert first.end_s != ended.end_s, "speech came back after the first pause: its transcript would be stale"
    assert last.end_s == ended.end_s and len(last.audio) < len(ended.audio)
    assert ended_at - paused_at == pytest.approx(0.3, abs=0.05), "the pause comes 0.3 s before the end"


def encoded_windows(transcriber: Transcriber) -> list[int]:
    """The length (in feature frames) of each window the model encodes: the real encoder runs; its inputs noted."""
    windows: list[int] = []
    encode = transcriber.model.encode

    def noting(features: np.ndarray) -> object:
        windows.append(features.shape[-1])
        return encode(features)

    transcriber.model.encode = noting
    return windows


def test_an_utterance_cut_to_speech_is_encoded_in_a_short_window_and_heard_as_well() -> None:
    samples, _ = load_audio(ASSETS / "librivox_en_reader.wav", sample_rate=RATE)
    young_man = samples[int(7.2 * RATE) : int(9.9 * RATE)]  # "He was not an ill-disposed young man"
    transcriber = Transcriber(Settings().asr.model_dir, "cpu", 1)
    windows = encoded_windows(transcriber)
    for language in ("en", None):  # told the language, or detecting it from the short window
        heard = transcriber.transcribe(young_man, language, vad=False)
        assert heard.language == "en" and heard.whisper_language == "en", heard
        wer = jiwer.wer("he was not an ill disposed young man", normalize_text(heard.text, "en"))
        assert wer < 0.2, heard.text
        assert heard.segments and heard.segments[0][1] == pytest.approx(2.7, abs=0.01)
    assert windows == [1000, 1000], "10 s windows (100 feature frames a second), not Whisper's 30 s"
    windows.clear()
    whole = transcriber.transcribe(samples[: int(9.9 * RATE)], "en", vad=False)  # over SHORT_MAX_S
    assert "dashwood" in whole.text.lower() and windows == [3000]
    windows.clear()
    assert transcriber.transcribe(young_man, "en", vad=True).text and windows == [3000], "a recording keeps its VAD"
    assert transcriber.transcribe(np.zeros(2 * RATE, np.float32), "en", vad=False).text == ""


def test_a_short_window_decode_that_runs_on_is_done_again_on_the_full_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short windows can make Whisper repeat itself; a decode longer than the speech allows is not kept. Here the
    allowance is cut to a token every 10 s, so the short decode is cut off and the full window decides."""
    monkeypatch.setattr("gpu_service.engines.asr.transcriber.TOKENS_PER_S", 0.1)
    samples, _ = load_audio(ASSETS / "librivox_en_reader.wav", sample_rate=RATE)
    transcriber = Transcriber(Settings().asr.model_dir, "cpu", 1)
    windows = encoded_windows(transcriber)
    heard = transcriber.transcribe(samples[int(7.2 * RATE) : int(9.9 * RATE)], "en", vad=False)
    assert windows == [1000, 3000]
    assert jiwer.wer("he was not an ill disposed young man", normalize_text(heard.text, "en")) < 0.2, heard.text
