"""The mouth track: what the face does on each video frame, computed from the speech.

Jaw opening, lip width and rounding come from the phoneme timeline when the TTS engine gives one (visemes blended
by dominance-weighted smoothing, so the mouth anticipates and relaxes as people's do), the opening scaled by
loudness (measured on espeak speech: correlation with the envelope 0.44-0.61 without, 0.72-0.83 with);
without a timeline they come from the audio itself (loudness and spectral centroid). Blinks and a small head
motion tied to the speech rhythm ride along, planned segment after segment on one session clock (MotionPlanner).
Seeded: the same input renders the same track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from gpu_service.engines.avatar.visemes import visemes_for
from gpu_service.engines.base import AudioContext, PhonemeEvent

GRID_HZ = 200  # internal resolution of the curves (5 ms)
COARTICULATION_S = 0.035  # Gaussian sigma: how far ahead the mouth prepares and how long it lingers
LOUDNESS_FLOOR_DB = 45.0  # envelope range below the loud speech level mapped to 0..1


@dataclass(frozen=True)
class MouthTrack:
    fps: int
    jaw_open: np.ndarray  # 0 closed .. 1 wide open
    lip_width: np.ndarray  # -1 puckered .. 1 spread
    lip_round: np.ndarray  # 0 .. 1
    lip_closure: np.ndarray  # 1 where the lips must meet (/p b m/), whatever the photo's own mouth; 0 at rest
    speaking: np.ndarray  # 1 in speech (its pauses too), easing to 0 in idle silence, where the photo's mouth rests
    blink: np.ndarray  # 0 open .. 1 closed
    yaw: np.ndarray  # degrees; head motion
    pitch: np.ndarray
    roll: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.jaw_open)


def frame_count(duration_s: float, fps: int) -> int:
    return max(1, round(duration_s * fps))


CONTINUITY_FRAMES = 4.0  # a segment's curves start from where the previous one ended, settling over ~this many
BREATH_HZ, BREATH_DEG = 0.22, 0.2  # a slow nod of breathing, always present
NOD_DEG = 0.8  # head pitch from silence to loud speech (centred: ±0.4°)
SOUND_ONSET = 0.1  # loudness (0..1) at which speech has begun
SILENCE_DB = -60.0  # a piece whose loud parts are below this has no speech to measure loudness by
TYPICAL_LOUD_DB = -25.0  # speech's loud parts, as most recordings and TTS engines have them (dBFS)
PRIOR_HELD_S = 2.0  # a stream's own level replaces the typical one over its first seconds
RECENT_LEVELS = 20 * GRID_HZ  # a stream's loud-speech level is taken over this much of its latest audio


class MotionPlanner:
    """The curves of one avatar session, segment after segment, on one clock.

    Blinks follow one schedule in session time, head drift is a function of session time, and each segment's mouth
    and nod start from the previous segment's last values: no jump at segment boundaries. Seeded: the same inputs
    give the same motion.
    """

    def __init__(self, fps: int, seed: int = 0) -> None:
        self.fps = fps
        self.frame = 0  # frames planned so far
        self._rng = np.random.default_rng(seed)
        self._blinks: list[float] = [float(self._rng.uniform(0.6, 2.5))]
        # Per axis (yaw, pitch, roll): three incommensurate sines (frequency Hz, phase).
        self._drift = self._rng.uniform((0.05, 0.0), (0.35, 2 * np.pi), size=(3, 3, 2))
        self._reference_db: float | None = None  # loud speech level, fixed by the first segment that has speech
        self._recent_levels = np.zeros(0)  # a stream's levels (dB per grid step), latest last
        self._last: np.ndarray | None = None  # jaw, width, round, nod, closure, speaking of the last planned frame

    def speech(
        self,
        samples: np.ndarray,
        sample_rate: int,
        phonemes: Sequence[PhonemeEvent] | None,
        context: AudioContext | None = None,
    ) -> MouthTrack:
        """The track for `samples`: one frame per 1/fps (the caller hands whole frames' worth). With `context` (a
        stream's piece), the curves are computed over the audio around it and cut to the piece, and loud speech is
        the recent loudest level rather than the first segment's."""
        frames = max(1, round(len(samples) * self.fps / sample_rate))
        before = context.before if context is not None else samples[:0]
        after = context.after if context is not None else samples[:0]
        audio = np.concatenate([before, samples, after]) if context is not None else samples
        grid_len = int(np.ceil(len(audio) / sample_rate * GRID_HZ)) + 1
        piece = slice(round(len(before) / sample_rate * GRID_HZ), None)
        level = level_db(audio, sample_rate, grid_len)
        self._follow_level(level, piece, streamed=context is not None)
        loudness = envelope_from_level(level, self._reference_db)
        closure = np.zeros(grid_len)
        if phonemes:
            lead_s = len(before) / sample_rate  # the phonemes' times count from the piece's start
            opening, width, rounding, closure = _from_phonemes(
                [PhonemeEvent(event.t + lead_s, event.phoneme) for event in phonemes], grid_len
            )
            # Loudness sets how far the jaw opens, the viseme how much of that this sound allows (0 for /p b m/).
            # The square root keeps vowels' differences without letting a quiet /a/ out-open a loud /i/.
            opening = np.sqrt(np.clip(opening, 0, None)) * loudness
        else:
            opening, width, rounding = _from_audio(audio, sample_rate, loudness)
        loudness, opening, width, rounding, closure = (
            curve[piece] for curve in (loudness, opening, width, rounding, closure)
        )
        nod = _to_frames(gaussian_filter1d(loudness, 0.15 * GRID_HZ), frames, self.fps)
        curves = np.stack(
            [
                _to_frames(opening, frames, self.fps),
                _to_frames(width, frames, self.fps),
                _to_frames(rounding, frames, self.fps),
                nod,
                _to_frames(closure, frames, self.fps),
                self._speaking(loudness, frames),
            ]
        )
        # A streamed piece's curves already run on from the audio before it; a segment's settle from the last frame.
        return self._track(curves, settle=context is None)

    def _follow_level(self, level: np.ndarray, piece: slice, streamed: bool) -> None:
        """Loud speech: the first segment's 95th percentile, for whole segments. For a stream, the 95th percentile
        of all it said lately: its first pieces alone (an onset, a single syllable) would set it far off."""
        if streamed:
            self._recent_levels = np.concatenate([self._recent_levels, level[piece]])[-RECENT_LEVELS:]
            level = self._recent_levels
        if not level.size or (loud := float(np.percentile(level, 95))) <= SILENCE_DB:
            return
        if streamed:  # until the stream has said enough to measure, a typical level weighs in
            heard = min(1.0, len(level) / (PRIOR_HELD_S * GRID_HZ))
            self._reference_db = heard * loud + (1 - heard) * TYPICAL_LOUD_DB
        elif self._reference_db is None:
            self._reference_db = loud

    def _speaking(self, loudness: np.ndarray, frames: int) -> np.ndarray:
        """1 over a segment of speech, its pauses included. Coming from rest, 0 until the first sound: the lips
        leave the photo's shape as the voice starts, not before it (a smiling photo's lips otherwise closed first)."""
        speaking = np.ones(frames)
        from_rest = self._last is None or self._last[5] < 0.5
        sounding = np.flatnonzero(loudness > SOUND_ONSET)
        if from_rest and sounding.size:
            speaking[: int(sounding[0] / GRID_HZ * self.fps)] = 0.0
        return speaking

    def silence(self, frames: int) -> MouthTrack:
        """Idle: mouth at rest, blinks, breathing and drift continue."""
        return self._track(np.zeros((6, max(1, frames))))

    def _track(self, curves: np.ndarray, settle: bool = True) -> MouthTrack:
        frames = curves.shape[1]
        if self._last is not None and settle:  # a session's first segment starts as the speech does
            easing = np.exp(-np.arange(frames) / CONTINUITY_FRAMES)
            curves = curves + (self._last - curves[:, 0])[:, None] * easing[None, :]
        self._last = curves[:, -1].copy()
        times = (self.frame + np.arange(frames)) / self.fps
        yaw, pitch, roll = (
            amplitude
            * np.sin(2 * np.pi * self._drift[axis, :, 0][:, None] * times + self._drift[axis, :, 1][:, None]).mean(0)
            for axis, amplitude in enumerate((0.7, 0.4, 0.25))  # yaw, pitch, roll drift in degrees
        )
        pitch = pitch + NOD_DEG * (curves[3] - 0.5) + BREATH_DEG * np.sin(2 * np.pi * BREATH_HZ * times)
        track = MouthTrack(
            fps=self.fps,
            jaw_open=np.clip(curves[0], 0, 1),
            lip_width=np.clip(curves[1], -1, 1),
            lip_round=np.clip(curves[2], 0, 1),
            lip_closure=np.clip(curves[4], 0, 1),
            speaking=np.clip(curves[5], 0, 1),
            blink=self._blink_curve(times),
            yaw=yaw,
            pitch=pitch,
            roll=roll,
        )
        self.frame += frames
        return track

    def _blink_curve(self, times: np.ndarray) -> np.ndarray:
        """Blinks at irregular intervals (gamma-distributed, ~3.5 s mean) on the session's clock."""
        close_s, hold_s, open_s = 0.07, max(0.04, 1 / self.fps), 0.12
        while self._blinks[-1] < times[-1] + close_s + hold_s:
            self._blinks.append(self._blinks[-1] + max(1.2, float(self._rng.gamma(4.0, 3.5 / 4.0))))
        curve = np.zeros(len(times))
        for t in self._blinks:
            rel = times - t
            closing = np.clip((rel + close_s + hold_s / 2) / close_s, 0, 1)
            opening = np.clip(1 - (rel - hold_s / 2) / open_s, 0, 1)
            curve = np.maximum(curve, np.minimum(closing, opening))
        self._blinks = [t for t in self._blinks if t > times[-1] - hold_s - open_s]
        return curve


def build_track(
    samples: np.ndarray, sample_rate: int, phonemes: Sequence[PhonemeEvent] | None, fps: int, seed: int = 0
) -> MouthTrack:
    """The track of a whole clip: a fresh session's first segment."""
    return MotionPlanner(fps, seed).speech(samples, sample_rate, phonemes)


def level_db(samples: np.ndarray, sample_rate: int, grid_len: int) -> np.ndarray:
    """RMS level in dB per grid step, over 20 ms windows."""
    hop = sample_rate / GRID_HZ
    window = int(0.02 * sample_rate)
    padded = np.pad(samples.astype(np.float64), (window // 2, window))
    power = np.convolve(padded**2, np.ones(window) / window, mode="valid")
    centers = np.minimum((np.arange(grid_len) * hop).astype(int), len(power) - 1)
    return np.asarray(10 * np.log10(power[centers] + 1e-10))


def envelope_from_level(level: np.ndarray, reference_db: float | None) -> np.ndarray:
    """0..1: the level relative to loud speech (`reference_db`, else this audio's own 95th percentile)."""
    loud = reference_db if reference_db is not None else (float(np.percentile(level, 95)) if level.size else 0.0)
    return np.asarray(np.clip((level - (loud - LOUDNESS_FLOOR_DB)) / LOUDNESS_FLOOR_DB, 0, 1))


def _from_phonemes(phonemes: Sequence[PhonemeEvent], grid_len: int) -> tuple[np.ndarray, ...]:
    """Opening, width, rounding and closure (lips that must meet) over the grid."""
    targets = np.zeros((3, grid_len))
    closure = np.zeros(grid_len)
    weights = np.full(grid_len, 1e-3)
    starts = [max(0, int(event.t * GRID_HZ)) for event in phonemes] + [grid_len]
    for event, start, end in zip(phonemes, starts, starts[1:], strict=False):
        shapes = visemes_for(event.phoneme)
        bounds = np.linspace(start, max(end, start + 1), len(shapes) + 1).astype(int)
        for shape, low, high in zip(shapes, bounds, bounds[1:], strict=False):
            targets[:, low:high] = np.array([[shape.open], [shape.width], [shape.round]]) * shape.dominance
            weights[low:high] = shape.dominance
            closure[low:high] = float(shape.closes)
    sigma = COARTICULATION_S * GRID_HZ
    smoothed_weights = gaussian_filter1d(weights, sigma, mode="nearest")
    # Dominance-weighted blend (after Cohen & Massaro): strong targets pull their neighbours toward them.
    blended = tuple(gaussian_filter1d(row, sigma, mode="nearest") / smoothed_weights for row in targets)
    return (*blended, gaussian_filter1d(closure, sigma / 2, mode="nearest"))


def _from_audio(samples: np.ndarray, sample_rate: int, loudness: np.ndarray) -> tuple[np.ndarray, ...]:
    """No timeline: opening follows loudness; a bright spectrum spreads the lips, a dark one rounds them."""
    hop = int(sample_rate / GRID_HZ)
    size = 512
    padded = np.pad(samples.astype(np.float64), (size // 2, size))
    starts = np.minimum(np.arange(len(loudness)) * hop, len(padded) - size)
    frames = padded[starts[:, None] + np.arange(size)] * np.hanning(size)
    spectrum = np.abs(np.fft.rfft(frames, axis=1))
    freqs = np.fft.rfftfreq(size, 1 / sample_rate)
    centroid = (spectrum * freqs).sum(axis=1) / (spectrum.sum(axis=1) + 1e-9)
    brightness = np.clip((np.log2(np.maximum(centroid, 100)) - np.log2(500)) / np.log2(4000 / 500), 0, 1)
    sigma = COARTICULATION_S * GRID_HZ
    opening = gaussian_filter1d(0.75 * loudness**1.5, sigma)  # speech is mostly loud: compress the top
    width = gaussian_filter1d((brightness - 0.5) * 1.2 * loudness, sigma)
    rounding = gaussian_filter1d(np.clip(0.5 - brightness, 0, 1) * 1.6 * loudness, sigma)
    return opening, width, rounding


def _to_frames(curve: np.ndarray, frames: int, fps: int) -> np.ndarray:
    """Average the grid curve over each frame's interval."""
    edges = np.minimum((np.arange(frames + 1) * GRID_HZ / fps).astype(int), len(curve) - 1)
    cumulative = np.concatenate([[0.0], np.cumsum(curve)])
    spans = np.maximum(edges[1:] - edges[:-1], 1)
    return np.asarray((cumulative[edges[:-1] + spans] - cumulative[edges[:-1]]) / spans)
