"""Rebuild the bundled reference voices in assets/voices/ (the committed WAVs come from this script).

- librivox_en_reader: a real human (LibriVox volunteer, public domain) from Debian's pocketsphinx-testdata package,
  fetched with `apt-get download` (no root needed); three clips joined into one 10 s reference. Two more clips of the
  same reader, with their transcripts, go to assets/voices/gold/ for evaluation against that speaker.
- synthetic_*: espeak-ng voice variants, clearly synthetic, used to measure voice matching.

Usage: python scripts/build_voice_assets.py
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from common.media.audio import load_audio, resample, write_wav
from common.media.voice_sample import REFERENCE_RATE, make_reference, normalize_loudness
from gpu_service.engines.tts.espeak_lib import EspeakLibrary

VOICES = Path(__file__).resolve().parent.parent / "assets" / "voices"
LIBRIVOX_DIR = "usr/share/pocketsphinx/test/data/librivox"
REFERENCE_CLIPS = ["0870", "0880", "0890"]
GOLD_CLIPS = ["0920", "0930"]
SYNTHETIC = {
    "synthetic_en_female": (
        "en-us+f3",
        "Every morning I walk to the station, buy a newspaper and a coffee, "
        "and read about the weather, the markets and the football results before work.",
    ),
    "synthetic_zh_female": (
        "cmn+f2",
        "每天早上我走路去车站，买一份报纸和一杯咖啡，在上班之前看看天气、股市和足球比赛的结果。",
    ),
    "synthetic_es_male": (
        "es+m3",
        "Cada mañana camino hasta la estación, compro un periódico y un café, "
        "y leo sobre el tiempo, los mercados y el fútbol antes de trabajar.",
    ),
}


def build_librivox() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "pocketsphinx-testdata"], cwd=tmp, check=True)
        deb = next(Path(tmp).glob("pocketsphinx-testdata_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True)
        source = Path(tmp) / "x" / LIBRIVOX_DIR
        joined = np.concatenate([librivox_clip(source, name) for name in REFERENCE_CLIPS])
        write_wav(VOICES / "librivox_en_reader.wav", make_reference(joined, REFERENCE_RATE), REFERENCE_RATE)
        gold = VOICES / "gold"
        gold.mkdir(exist_ok=True)
        transcripts = librivox_transcripts(source / "transcription")
        for name in GOLD_CLIPS:
            clip = normalize_loudness(librivox_clip(source, name), REFERENCE_RATE)
            write_wav(gold / f"librivox_en_reader_{name}.wav", clip, REFERENCE_RATE)
            (gold / f"librivox_en_reader_{name}.txt").write_text(transcripts[name] + "\n")


def librivox_clip(folder: Path, name: str) -> np.ndarray:
    return load_audio(folder / f"sense_and_sensibility_01_austen_64kb-{name}.wav", REFERENCE_RATE)[0]


def librivox_transcripts(path: Path) -> dict[str, str]:
    """Lines look like `<s> words </s> (sense_and_sensibility_01_austen_64kb-0870)`; key them by clip number."""
    transcripts = {}
    for line in path.read_text().splitlines():
        words, clip_id = line.rsplit("(", 1)
        transcripts[clip_id.rstrip(")").rsplit("-", 1)[1]] = words.replace("<s>", "").replace("</s>", "").strip()
    return transcripts


def build_synthetic() -> None:
    espeak = EspeakLibrary.shared()
    for voice_id, (variant, text) in SYNTHETIC.items():
        raw = espeak.synthesize(text, variant)
        samples = resample(raw.samples.astype(np.float32) / 32768.0, espeak.sample_rate, REFERENCE_RATE)
        write_wav(VOICES / f"{voice_id}.wav", make_reference(samples, REFERENCE_RATE), REFERENCE_RATE)


if __name__ == "__main__":
    if shutil.which("apt-get") is None:
        raise SystemExit("apt-get is needed to fetch Debian's pocketsphinx-testdata")
    build_librivox()
    build_synthetic()
    print(f"voices written to {VOICES}")
