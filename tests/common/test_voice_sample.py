"""scripts/extract_voice_samples.sh on a real video file: speech with long silences in an MP4 (AAC audio)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile as sf

from common.media.video import write_mp4
from common.media.voice_sample import REFERENCE_RATE, speech_mask
from gpu_service.engines.tts.espeak_lib import EspeakLibrary

REPO = Path(__file__).resolve().parents[2]
TEXT = "This is a recording of a person talking for a while, with long pauses between the sentences."


def speech_with_pauses() -> tuple[np.ndarray, int]:
    espeak = EspeakLibrary.shared()
    speech = espeak.synthesize(TEXT, "en-us").samples.astype(np.float32) / 32768.0 * 0.1  # quiet on purpose
    silence = np.zeros(3 * espeak.sample_rate, dtype=np.float32)
    return np.concatenate([silence, speech, silence, speech, silence, speech, silence]), espeak.sample_rate


def write_video(path: Path, audio: np.ndarray, rate: int) -> None:
    frames = (np.full((64, 64, 3), index % 255, np.uint8) for index in range(int(len(audio) / rate * 10)))
    write_mp4(path, frames, 10, audio, rate)


def test_video_becomes_a_clean_ten_second_reference(tmp_path: Path) -> None:
    audio, rate = speech_with_pauses()
    source, reference = tmp_path / "talk.mp4", tmp_path / "voice.wav"
    write_video(source, audio, rate)

    subprocess.run([str(REPO / "scripts" / "extract_voice_samples.sh"), str(source), str(reference)], check=True)

    samples, out_rate = sf.read(reference, dtype="float32", always_2d=True)
    assert out_rate == REFERENCE_RATE and samples.shape[1] == 1
    samples = samples[:, 0]
    assert 9.5 <= len(samples) / out_rate <= 10.0
    loudness = pyloudnorm.Meter(out_rate).integrated_loudness(samples.astype(np.float64))
    assert abs(loudness - (-23.0)) < 1.5
    mask = speech_mask(samples, out_rate)
    longest_pause = max((len(run) for run in "".join("s" if m else "." for m in mask).split("s")), default=0)
    assert longest_pause * 0.02 <= 0.3, "long silences should be squeezed out"
    assert mask[:5].any() or mask[5:15].any(), "leading silence should be trimmed"


def test_a_file_with_no_audio_fails_with_a_message(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not media")
    result = subprocess.run(
        [str(REPO / "scripts" / "extract_voice_samples.sh"), str(bogus), str(tmp_path / "out.wav")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "notes.txt" in result.stderr
    assert not (tmp_path / "out.wav").exists()
