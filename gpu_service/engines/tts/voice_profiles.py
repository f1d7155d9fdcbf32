"""Voice profiles fitted once per (reference file content, base voice), kept in memory and on disk."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from common.concurrency.lru import LruCache
from common.errors import Unprocessable
from common.media.audio import AudioDecodeError, load_audio, resample
from gpu_service.assets import AssetReference
from gpu_service.engines.tts.voice_match import PROFILE_VERSION, VoiceProfile, analyze, fit_profile, median_pitch

REFERENCE_MAX_SECONDS = 12.0  # more adds fitting time, not accuracy (uploads are cleaned to at most 10 s)
PITCH_SECONDS = 10.0  # enough to tell a low voice from a high one
PITCH_RATE = 16_000


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class VoiceProfileStore:
    def __init__(self, cache_dir: Path, memory_items: int = 64) -> None:
        self._dir = cache_dir / "voice_profiles"
        self._memory: LruCache[str, VoiceProfile] = LruCache(memory_items)
        self._lock = threading.Lock()
        self._pitches: LruCache[str, float] = LruCache(memory_items)

    def get(
        self, voice: AssetReference, base_voice: str, sample_rate: int, calibration: Callable[[], np.ndarray]
    ) -> VoiceProfile:
        """The profile matching `base_voice` to `voice`; `calibration` gives the base voice's speech if a fit is due."""
        key = f"{file_digest(voice.path)[:32]}-{base_voice}-{sample_rate}-v{PROFILE_VERSION}"
        with self._lock:  # one fit at a time; a second request for the same voice waits and reuses it
            profile = self._memory.get(key) or self._load(key)
            if profile is None:
                profile = self._fit(voice, sample_rate, calibration())
                self._save(key, profile)
            self._memory.put(key, profile)
            return profile

    def pitch_hz(self, voice: AssetReference) -> float:
        """The reference's median F0 (0 when it has no voiced speech), kept in memory by content."""
        key = file_digest(voice.path)
        with self._lock:
            known = self._pitches.get(key)
        if known is not None:
            return known
        native, native_rate = self._reference(voice, PITCH_SECONDS)
        pitch = median_pitch(resample(native, native_rate, PITCH_RATE), PITCH_RATE)
        with self._lock:
            self._pitches.put(key, pitch)
        return pitch

    def _reference(self, voice: AssetReference, max_seconds: float) -> tuple[np.ndarray, int]:
        try:
            return load_audio(voice.path, max_seconds=max_seconds)
        except (AudioDecodeError, FileNotFoundError) as exc:
            raise Unprocessable(f"voice reference '{voice.name}' cannot be used: {exc}") from exc

    def _fit(self, voice: AssetReference, sample_rate: int, calibration: np.ndarray) -> VoiceProfile:
        native, native_rate = self._reference(voice, REFERENCE_MAX_SECONDS)
        features = analyze(resample(native, native_rate, sample_rate), sample_rate, aperiodicity=False)
        if not features.voiced.any():
            raise Unprocessable(f"voice reference '{voice.name}' contains no voiced speech")
        return fit_profile(
            features, analyze(calibration, sample_rate, aperiodicity=False), sample_rate, native_rate / 2
        )

    def _path(self, key: str) -> Path:
        return self._dir / f"{key}.npz"

    def _load(self, key: str) -> VoiceProfile | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path) as arrays:
                return VoiceProfile.from_arrays(dict(arrays))
        except (OSError, ValueError, KeyError):
            return None  # a damaged cache entry is refitted

    def _save(self, key: str, profile: VoiceProfile) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        tmp = self._path(key).with_suffix(".part.npz")
        np.savez(tmp, **profile.to_arrays())
        tmp.replace(self._path(key))
