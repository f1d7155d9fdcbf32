"""Voice matching measured on voices outside the bundled set: for each part of the match (F0, EQ, formant warp),
does it bring the embedded engines' speech nearer the reference (speaker similarity) without hurting how well it is
understood (Whisper's word error rate)?

References, fetched as Debian packages (apt-get download; nothing is installed):
- alsa-utils: the woman announcing speaker positions in /usr/share/sounds/alsa (GPL-2.0, as the package);
- pocketsphinx-testdata: CMU Sphinx's test recordings "go forward", "numbers", "something" (BSD-2-Clause), a man.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from common.media.audio import load_audio
from evaluator.config import EvalSettings
from evaluator.metrics.intelligibility import Listener, text_errors
from evaluator.metrics.speaker import speaker_similarity
from gpu_service.assets import AssetReference
from gpu_service.engines.base import TTSEngine, synthesize
from gpu_service.engines.tts.espeak import EspeakEngine
from gpu_service.engines.tts.kokoro import KokoroEngine
from gpu_service.engines.tts.kokoro_settings import KokoroSettings
from gpu_service.engines.tts.match_parts import MatchPart
from gpu_service.engines.tts.voice_profiles import VoiceProfileStore

SENTENCES = [
    "The library closes early on Sundays, so plan your visit for the morning.",
    "My brother fixed the old bicycle and rode it all the way to the lake.",
    "Could you turn the music down a little while I make this phone call?",
    "Fresh bread and warm soup are the best things on a cold winter evening.",
]
VARIANTS: dict[str, frozenset[MatchPart]] = {
    "none": frozenset(),
    "f0": frozenset({"f0"}),
    "eq": frozenset({"eq"}),
    "f0+eq": frozenset({"f0", "eq"}),
    "f0+eq+warp": frozenset({"f0", "eq", "warp"}),
}
REFERENCES = {
    "alsa_female": ("alsa-utils", "usr/share/sounds/alsa", ["Front_Center", "Front_Left", "Front_Right",
                    "Rear_Center", "Rear_Left", "Rear_Right", "Side_Left", "Side_Right"]),
    "sphinx_male": ("pocketsphinx-testdata", "usr/share/pocketsphinx/test/data", ["goforward", "numbers", "something"]),
}  # fmt: skip
RAW_RATE = 16_000  # pocketsphinx's .raw files: 16 kHz, 16-bit, mono


def references(scratch: Path) -> dict[str, Path]:
    """One WAV per unseen speaker, joined from the package's clips."""
    made = {}
    for name, (package, folder, clips) in REFERENCES.items():
        subprocess.run(["apt-get", "download", package], cwd=scratch, check=True, capture_output=True)
        deb = next(scratch.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch / package)], check=True)
        pieces = []
        for clip in clips:
            stem = scratch / package / folder / clip
            if stem.with_suffix(".wav").is_file():
                samples, _ = load_audio(stem.with_suffix(".wav"), sample_rate=RAW_RATE)
            else:
                samples = np.fromfile(stem.with_suffix(".raw"), dtype="<i2").astype(np.float32) / 32768
            pieces += [samples, np.zeros(RAW_RATE // 5, np.float32)]
        made[name] = scratch / f"{name}.wav"
        soundfile.write(made[name], np.concatenate(pieces), RAW_RATE)
    return made


def run() -> list[str]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-voice-matching-"))
    voices = references(scratch)
    listener = Listener(EvalSettings().whisper_model_dir)
    lines = [
        "Voice matching on unseen voices (4 English sentences each; similarity: resemblyzer cosine to the reference;",
        "WER: Whisper base; mean over sentences)",
        f"{'engine':<8}{'reference':<13}{'variant':<12}{'similarity':>11}{'WER':>7}",
    ]
    for engine_name in ("kokoro", "espeak"):
        for voice_name, path in voices.items():
            reference, reference_rate = load_audio(path)
            voice = AssetReference(voice_name, path)
            for variant, parts in VARIANTS.items():
                engine = _engine(engine_name, scratch / f"cache-{engine_name}", parts)
                similarity, errors = [], []
                for sentence in SENTENCES:
                    speech = synthesize(engine, sentence, "en", voice, match_voice=bool(parts))
                    similarity.append(speaker_similarity(speech.samples, speech.sample_rate, reference, reference_rate))
                    heard = listener.hear(speech.samples, speech.sample_rate, "en")
                    errors.append(text_errors(sentence, heard.transcript, "en").rate)
                lines.append(
                    f"{engine_name:<8}{voice_name:<13}{variant:<12}"
                    f"{statistics.mean(similarity):>11.3f}{statistics.mean(errors):>7.3f}"
                )
    lines.append("a part is worth keeping where it raises similarity and leaves WER where it was")
    return lines


def _engine(name: str, cache: Path, parts: frozenset[MatchPart]) -> TTSEngine:
    profiles = VoiceProfileStore(cache, 8)
    if name == "kokoro":
        return KokoroEngine(KokoroSettings(match_parts=sorted(parts)), cache, profiles)
    return EspeakEngine(profiles, parts)


if __name__ == "__main__":
    print("\n".join(run()))
