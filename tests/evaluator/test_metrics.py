"""Each metric on inputs whose answer is known."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from common.media.audio import load_audio
from common.media.video import write_mp4
from common.process.launch import RunningService
from contracts.gpu_service import AvatarResponse, TTSResponse
from evaluator.media import iter_frames, probe
from evaluator.metrics.intelligibility import Listener, normalize_text, text_errors
from evaluator.metrics.latency import spread
from evaluator.metrics.pitch import pitch_stats, semitones_between
from evaluator.metrics.sanity import video_sanity
from evaluator.metrics.speaker import speaker_similarity
from evaluator.report.schema import ClipReport
from evaluator.scoring import ClipScorer
from evaluator.thresholds import load_thresholds
from gpu_service.config import DEFAULT_ASSETS

VOICES = DEFAULT_ASSETS / "voices"
THRESHOLDS = Path(__file__).resolve().parents[2] / "evaluator" / "thresholds.toml"


def _voice(name: str) -> tuple[np.ndarray, int]:
    return load_audio(VOICES / name)


def test_same_audio_twice_is_highly_similar_and_different_voices_less() -> None:
    female, female_rate = _voice("synthetic_en_female.wav")
    human, human_rate = _voice("librivox_en_reader.wav")
    same = speaker_similarity(female, female_rate, female.copy(), female_rate)
    different = speaker_similarity(female, female_rate, human, human_rate)
    assert same > 0.99
    assert different < same - 0.2


def test_same_human_across_recordings_beats_two_different_speakers() -> None:
    reference, rate = _voice("librivox_en_reader.wav")
    held_out, held_rate = _voice("gold/librivox_en_reader_0920.wav")
    synthetic, synthetic_rate = _voice("synthetic_es_male.wav")
    assert speaker_similarity(reference, rate, held_out, held_rate) > 0.75
    assert speaker_similarity(reference, rate, synthetic, synthetic_rate) < 0.7


def test_pitch_of_a_pulse_train_is_its_frequency() -> None:
    rate, f0 = 16_000, 150.0
    t = np.arange(2 * rate) / rate
    vibrato = 1 + 0.06 * np.sin(2 * np.pi * 1.0 * t)  # +-1 semitone around 150 Hz
    phase = np.cumsum(f0 * vibrato / rate)
    wave = (np.sin(2 * np.pi * phase) + 0.5 * np.sin(4 * np.pi * phase)).astype(np.float32) * 0.3
    stats = pitch_stats(wave, rate)
    assert stats.median_hz == pytest.approx(150, rel=0.02)
    assert 1.3 < stats.range_semitones < 2.5  # 5th-95th percentile of a +-1 semitone vibrato
    assert stats.voiced_fraction > 0.9
    assert semitones_between(300, 150) == pytest.approx(12)
    assert semitones_between(0, 150) is None


def test_silence_has_no_pitch() -> None:
    stats = pitch_stats(np.zeros(16_000, np.float32), 16_000)
    assert stats.median_hz == 0 and stats.voiced_fraction == 0


def test_word_error_rate_is_exact_on_known_errors() -> None:
    # 6 reference words: one substitution (sat -> sit), one deletion (the), one insertion (today)
    errors = text_errors("The cat sat on the mat.", "the cat sit on mat today", "en")
    assert errors.measure == "wer"
    assert errors.rate == pytest.approx(3 / 6)
    assert text_errors("¡Hola, mundo!", "hola mundo", "es").rate == 0


def test_character_error_rate_ignores_script_and_punctuation() -> None:
    assert normalize_text("歡迎光臨，謝謝！", "zh") == "欢迎光临谢谢"
    assert text_errors("欢迎光临，谢谢！", "歡迎光臨謝謝", "zh").rate == 0
    errors = text_errors("欢迎光临", "欢迎光顾", "zh")  # one character of four substituted
    assert errors.measure == "cer" and errors.rate == pytest.approx(0.25)


def test_spread_percentiles() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    result = spread(values)
    assert result.p50 == pytest.approx(10.5)
    assert result.p95 == pytest.approx(19.05)
    assert result.count == 20
    with pytest.raises(ValueError):
        spread([])


def test_whisper_hears_a_real_english_recording(listener: Listener) -> None:
    samples, rate = _voice("gold/librivox_en_reader_0920.wav")
    heard = listener.hear(samples, rate, "en")
    assert heard.language == "en" and Listener.choice_among(heard) == "en"
    transcript = (VOICES / "gold" / "librivox_en_reader_0920.txt").read_text()
    assert text_errors(transcript, heard.transcript, "en").rate < 0.25


# --- lip sync and sanity on real rendered clips -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(gpu_service: RunningService) -> Path:
    """A real talking-head clip from the gpu_service: English speech, phoneme-driven mouth."""
    text = "Every morning I walk to the market, buy fresh bread, and talk with the people I meet."
    speech = TTSResponse.model_validate(
        httpx.post(f"{gpu_service.url}/api/v1/tts", json={"text": text, "language": "en"}, timeout=120).json()
    )
    body = {
        "audio_path": speech.audio_path,
        "portrait": "astronaut",
        "phonemes": [m.model_dump() for m in speech.phonemes],
    }
    response = httpx.post(f"{gpu_service.url}/api/v1/avatar", json=body, timeout=300)
    assert response.status_code == 200, response.text
    return Path(AvatarResponse.model_validate(response.json()).video_path)


def _score(path: Path, listener: Listener, text: str = "") -> ClipReport:
    clip = ClipReport(
        suite="test",
        scenario=path.stem,
        repeat=0,
        turn=0,
        text=text or "every morning",
        language_requested="en",
        language_expected="en",
        rtf=0.1,
    )
    ClipScorer(load_thresholds(THRESHOLDS), listener, DEFAULT_ASSETS).score(clip, path, reference=None)
    return clip


def test_rendered_clip_is_in_sync(rendered: Path, listener: Listener) -> None:
    clip = _score(rendered, listener)
    assert clip.lipsync is not None
    assert clip.lipsync.correlation > 0.6
    assert abs(clip.lipsync.offset_ms) <= 40
    assert clip.lipsync.face_found_fraction == 1.0
    checks = {check.name: check for check in clip.checks}
    assert checks["lipsync.correlation"].passed and checks["lipsync.offset_ms"].passed
    assert checks["video.decodable"].passed and checks["video.duration_gap_frames"].passed


def test_video_delayed_200_ms_is_found_200_ms_late(rendered: Path, listener: Listener, tmp_path: Path) -> None:
    frames = list(iter_frames(rendered))
    audio, rate = load_audio(rendered)
    shift = 5  # frames at 25 fps = 200 ms: the picture starts late, the sound does not
    delayed = [frames[0]] * shift + frames[:-shift]
    shifted = tmp_path / "delayed.mp4"
    write_mp4(shifted, delayed, 25, audio, rate)
    clip = _score(shifted, listener)
    assert clip.lipsync is not None
    assert clip.lipsync.offset_ms == pytest.approx(200, abs=40)
    assert not {check.name: check for check in clip.checks}["lipsync.offset_ms"].passed


def test_still_video_fails_lip_sync(rendered: Path, listener: Listener, tmp_path: Path) -> None:
    first = next(iter_frames(rendered))
    audio, rate = load_audio(rendered)
    still = tmp_path / "still.mp4"
    write_mp4(still, (first for _ in range(probe(rendered).frames)), 25, audio, rate)
    clip = _score(still, listener)
    assert clip.lipsync is not None and clip.lipsync.correlation < 0.3
    assert not {check.name: check for check in clip.checks}["lipsync.correlation"].passed
    assert not clip.passed


def test_sanity_of_a_file_that_is_not_a_video(tmp_path: Path, listener: Listener) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    sanity = video_sanity(broken)
    assert not sanity.decodable and sanity.error
    clip = _score(broken, listener)
    assert not clip.passed
    assert not {check.name: check for check in clip.checks}["video.decodable"].passed


def test_the_same_clip_is_always_heard_the_same(listener: Listener) -> None:
    samples, rate = _voice("synthetic_zh_female.wav")
    first, second = listener.hear(samples, rate, "zh"), listener.hear(samples, rate, "zh")
    assert first.transcript and first.transcript == second.transcript
