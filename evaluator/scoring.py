"""Score one downloaded clip with every metric, then judge it against the thresholds."""

from __future__ import annotations

import contextlib
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from common.media.audio import load_audio
from evaluator.media import iter_frames
from evaluator.metrics.face_tracks import count_blinks, track_faces
from evaluator.metrics.intelligibility import Listener, text_errors
from evaluator.metrics.lipsync import lip_sync, loudness_per_frame
from evaluator.metrics.pitch import pitch_stats, semitones_between
from evaluator.metrics.sanity import video_sanity
from evaluator.metrics.speaker import speaker_embedding
from evaluator.report.schema import Check, ClipReport, LipSyncScore, VoiceScore
from evaluator.suites import asset_path
from evaluator.thresholds import Thresholds


@lru_cache(maxsize=32)
def _reference(path: Path) -> tuple[np.ndarray, int]:
    return load_audio(path)


@lru_cache(maxsize=32)
def _reference_embedding(path: Path) -> np.ndarray:
    return speaker_embedding(*_reference(path))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class ClipScorer:
    def __init__(self, thresholds: Thresholds, listener: Listener, assets_dir: Path) -> None:
        self.thresholds = thresholds
        self.listener = listener
        self.assets_dir = assets_dir

    def score(self, clip: ClipReport, video: Path, reference: str | None) -> None:
        """Fill `clip`'s measurements and checks from the MP4 at `video`."""
        clip.sanity = video_sanity(video)
        if clip.sanity.decodable and clip.sanity.audio_present:
            samples, rate = load_audio(video)
            if reference is not None:
                clip.voice_score = self._voice(samples, rate, reference)
            clip.heard = self.listener.hear(samples, rate, clip.language_expected, self.thresholds.language.candidates)
            with contextlib.suppress(ValueError):  # a reply with no words (only emoji, say): nothing to compare
                clip.text_errors = text_errors(clip.text, clip.heard.transcript, clip.language_expected)
            clip.lipsync = self._lipsync(video, samples, rate, clip.sanity.fps)
        clip.checks = judge(clip, self.thresholds)
        clip.passed = bool(clip.checks) and all(check.passed for check in clip.checks)

    def _voice(self, samples: np.ndarray, rate: int, reference: str) -> VoiceScore:
        path = asset_path(self.assets_dir, reference)
        pitch, reference_pitch = pitch_stats(samples, rate), pitch_stats(*_reference(path))
        return VoiceScore(
            reference=reference,
            similarity=cosine(speaker_embedding(samples, rate), _reference_embedding(path)),
            pitch=pitch,
            reference_pitch=reference_pitch,
            f0_median_diff_semitones=semitones_between(pitch.median_hz, reference_pitch.median_hz),
        )

    @staticmethod
    def _lipsync(video: Path, samples: np.ndarray, rate: int, fps: float) -> LipSyncScore:
        tracks = track_faces(iter_frames(video))
        frames = len(tracks.mouth_open)
        found = float(np.isfinite(tracks.mouth_open).mean()) if frames else 0.0
        result = lip_sync(tracks.mouth_open, loudness_per_frame(samples, rate, fps, frames), fps)
        blinks = count_blinks(tracks.eye_open) if found else 0
        return LipSyncScore(
            correlation=result.correlation,
            offset_ms=result.offset_ms,
            by_lag_ms=result.by_lag_ms,
            face_found_fraction=found,
            blinks=blinks,
        )


def _at_most(name: str, value: float | None, limit: float) -> Check:
    ok = value is not None and math.isfinite(value) and value <= limit
    return Check(name=name, value=value, limit=f"<= {limit:g}", passed=ok)


def _at_least(name: str, value: float | None, limit: float) -> Check:
    ok = value is not None and math.isfinite(value) and value >= limit
    return Check(name=name, value=value, limit=f">= {limit:g}", passed=ok)


def judge(clip: ClipReport, limits: Thresholds) -> list[Check]:
    """Every check that applies to this clip; a measurement that could not be made fails its check."""
    if clip.error is not None and clip.sanity is None:
        return [Check(name="generate", value=clip.error, limit="succeeds", passed=False)]
    checks = [_at_most("latency.rtf", clip.rtf, limits.latency.rtf_max)]
    if clip.prompt is None:
        checks.append(_at_most("latency.first_video_s", clip.first_video_s, limits.latency.first_video_s_max))
    else:
        replies = limits.conversation
        checks += [
            _at_most("conversation.first_video_s", clip.first_video_s, replies.first_video_s_max),
            Check(
                name="conversation.reply_chars",
                value=len(clip.text),
                limit=f"{replies.reply_chars_min}..{replies.reply_chars_max}",
                passed=replies.reply_chars_min <= len(clip.text) <= replies.reply_chars_max,
            ),
        ]
    sanity = clip.sanity
    assert sanity is not None
    video = limits.video
    checks += [
        Check(name="video.decodable", value=sanity.decodable, limit="true", passed=sanity.decodable),
        Check(name="video.audio_present", value=sanity.audio_present, limit="true", passed=sanity.audio_present),
        _at_most("video.duration_gap_frames", sanity.duration_gap_frames(), video.duration_max_frames),
        Check(name="video.fps", value=sanity.fps, limit=f"== {video.fps:g}", passed=abs(sanity.fps - video.fps) < 0.01),
        Check(
            name="video.size",
            value=f"{sanity.width}x{sanity.height}",
            limit=f"{video.size}x{video.size}",
            passed=sanity.width == sanity.height == video.size,
        ),
    ]
    clones = clip.engines is not None and clip.engines.tts in limits.voice.cloning_engines
    if clip.voice_score is not None and clones:  # a voice that is matched, not cloned, is reported, not judged
        checks += [
            _at_least("voice.similarity", clip.voice_score.similarity, limits.voice.similarity_min),
            _at_most(
                "voice.f0_median_diff_semitones",
                clip.voice_score.f0_median_diff_semitones,
                limits.voice.f0_median_max_semitones,
            ),
        ]
    heard = clip.heard
    choice = None if heard is None else Listener.choice_among(heard)
    first = None if heard is None else heard.language
    checks.append(
        Check(
            name="language.detected",
            value=None if heard is None else f"{first} (of {', '.join(limits.language.candidates)}: {choice})",
            limit=f"{clip.language_expected}, Whisper's first choice of all languages",
            passed=first == clip.language_expected,
        )
    )
    if clip.language_used is not None:
        checks.append(
            Check(
                name="language.used",
                value=clip.language_used,
                limit=clip.language_expected,
                passed=clip.language_used == clip.language_expected,
            )
        )
    measure, limit = limits.intelligibility.limit(clip.language_expected)
    rate = clip.text_errors.rate if clip.text_errors is not None else None
    checks.append(_at_most(f"intelligibility.{measure}", rate, limit))
    lipsync = clip.lipsync
    checks += [
        _at_least(
            "lipsync.correlation", None if lipsync is None else lipsync.correlation, limits.lipsync.correlation_min
        ),
        _at_most(
            "lipsync.offset_ms", None if lipsync is None else abs(lipsync.offset_ms), limits.lipsync.offset_ms_max
        ),
    ]
    return checks
