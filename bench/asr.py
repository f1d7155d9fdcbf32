"""Speech recognition (embedded Whisper base, int8, CPU): transcription RTF, the delay from the end of an utterance
to its transcript in live use, and WER beside the evaluator's setting (beam 5)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import jiwer
import numpy as np
import soxr

from common.media.audio import load_audio
from contracts.gpu_service import Language
from evaluator.metrics.intelligibility import normalize_text
from gpu_service.config import Settings
from gpu_service.engines.asr.streaming import SileroStream, StreamingRecognizer, Transcribed, UtteranceDetector
from gpu_service.engines.asr.transcriber import RATE, Transcriber
from gpu_service.engines.base import synthesize
from gpu_service.engines.tts.espeak import EspeakEngine
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore

CLIP = Path(__file__).resolve().parent.parent / "assets" / "voices" / "librivox_en_reader.wav"
CLIP_TEXT = (  # the book's words (Sense and Sensibility, ch. 2)
    "And Mr. John Dashwood had then leisure to consider how much there might be prudently in his power to do for "
    "them. He was not an ill-disposed young man"
)


SPOKEN: dict[Language, str] = {
    "en": "The weather is lovely today, so we will walk to the park.",
    "es": "Hoy hace buen tiempo, así que vamos a caminar al parque.",
    "zh": "今天天气很好，我们去公园散步吧。",
}


def own_speech_errors(transcribers: dict[int, Transcriber], scratch: Path) -> str:
    """WER (CER for zh) of the project's own speech (espeak-ng, no voice matching), beam 1 / beam 5."""
    engine = EspeakEngine(VoiceProfileStore(scratch, 4))
    parts = []
    for language, text in SPOKEN.items():
        speech = synthesize(engine, text, language, None, match_voice=False)
        audio = soxr.resample(speech.samples, speech.sample_rate, RATE).astype(np.float32)
        rates = []
        for beam in (1, 5):
            heard = transcribers[beam].transcribe(audio, language)
            measure = jiwer.cer if language == "zh" else jiwer.wer
            rates.append(measure(normalize_text(text, language), normalize_text(heard.text, language)))
        parts.append(f"{language} {rates[0]:.2f} / {rates[1]:.2f}")
    return "own speech (espeak-ng), WER (zh: CER) beam 1 / beam 5: " + ", ".join(parts)


def run() -> list[str]:
    settings = Settings().asr
    samples, _ = load_audio(CLIP, sample_rate=RATE)
    lines = ["Speech recognition (Whisper base, int8, CPU; Silero VAD)"]
    transcribers = {beam: Transcriber(settings.model_dir, "cpu", beam) for beam in (1, 5)}
    for beam, transcriber in transcribers.items():
        transcriber.transcribe(samples[: 2 * RATE])  # warm
        times, text = [], ""
        for _ in range(3):
            started = time.perf_counter()
            text = transcriber.transcribe(samples).text
            times.append(time.perf_counter() - started)
        wer = jiwer.wer(normalize_text(CLIP_TEXT, "en"), normalize_text(text, "en"))
        lines.append(
            f"beam {beam}: RTF {statistics.median(times) / (len(samples) / RATE):.3f} on the 10 s LibriVox clip, "
            f"WER {wer:.3f}"
        )
    lines.append(own_speech_errors(transcribers, Path(tempfile.mkdtemp(prefix="bench-asr-"))))
    live = transcribers[1]
    utterance = samples[: 3 * RATE]  # 3 s of speech, then silence, fed in 20 ms frames as a live track
    stream = np.concatenate([np.zeros(RATE // 2, np.float32), utterance, np.zeros(RATE, np.float32)])
    delays, waits = [], []
    for _ in range(3):
        recognizer = StreamingRecognizer(UtteranceDetector(SileroStream(), settings.end_silence_s), live.transcribe)
        for start in range(0, len(stream), RATE // 50):
            for event in recognizer.feed(stream[start : start + RATE // 50]):
                if isinstance(event, Transcribed):
                    delays.append(event.transcribe_s)
                    waits.append(start / RATE + 0.02 - event.end_s)
    delay, wait = statistics.median(delays), statistics.median(waits)
    lines.append(
        f"live, a 3 s utterance: transcript {delay * 1000:.0f} ms after the utterance is closed (target <= 300 ms), "
        f"which is {wait * 1000:.0f} ms of silence after the last word (GPU_ASR__END_SILENCE_S): "
        f"{(delay + wait) * 1000:.0f} ms from the end of speech"
    )
    return lines
