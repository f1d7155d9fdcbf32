"""Wire contract of report.json: written by the evaluator, read by tests, CI and anyone comparing runs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from contracts.runtime import EnginesUsed, StageTimings
from evaluator.metrics.intelligibility import Heard, TextErrors
from evaluator.metrics.latency import Spread
from evaluator.metrics.pitch import PitchStats
from evaluator.metrics.sanity import VideoSanity
from evaluator.thresholds import Thresholds


class Check(BaseModel):
    name: str  # e.g. "lipsync.correlation"
    value: float | str | bool | None
    limit: str  # human-readable, e.g. ">= 0.5"
    passed: bool


class VoiceScore(BaseModel):
    reference: str  # the recording compared against, relative to the assets folder
    similarity: float
    pitch: PitchStats
    reference_pitch: PitchStats
    f0_median_diff_semitones: float | None  # None when either side has no voiced frames


class LipSyncScore(BaseModel):
    correlation: float
    offset_ms: float
    by_lag_ms: dict[float, float]
    face_found_fraction: float
    blinks: int


class ClipReport(BaseModel):
    suite: str
    scenario: str
    repeat: int
    turn: int
    text: str  # what was spoken: the turn's text, or (conversation suites) the reply's
    prompt: str | None = Field(None, description="Conversation suites: the user's message the clip answers.")
    reply_finish: str | None = Field(None, description="Conversation suites: why the reply ended.")
    language_requested: str
    language_expected: str
    language_used: str | None = None
    voice: str | None = None
    video_id: str | None = None
    video_file: str | None = Field(None, description="The downloaded MP4, relative to the run folder.")
    client_s: float | None = Field(None, description="Wall time of the generate call as the client saw it.")
    first_video_s: float | None = Field(
        None, description="Streaming mode: from the request to the first playable fragment received."
    )
    timings: StageTimings | None = None
    rtf: float | None = None
    engines: EnginesUsed | None = None
    fallback: bool | None = None
    error: str | None = Field(None, description="Why the clip could not be generated or scored.")
    sanity: VideoSanity | None = None
    voice_score: VoiceScore | None = None
    heard: Heard | None = None
    text_errors: TextErrors | None = None
    lipsync: LipSyncScore | None = None
    checks: list[Check] = Field(default_factory=list)
    passed: bool = False


class LatencySummary(BaseModel):
    rtf: Spread
    total_s: Spread
    tts_s: Spread
    render_s: Spread
    client_s: Spread
    first_video_s: Spread | None = None


class ScenarioReport(BaseModel):
    suite: str
    id: str
    passed: bool
    failed_checks: list[str]
    latency: LatencySummary | None = None
    clips: list[ClipReport]


class RunReport(BaseModel):
    run_id: str
    started_at: datetime
    finished_at: datetime
    runtime_url: str
    runtime_health: dict[str, object] | None
    suites: list[str]
    repeat: int
    only: list[str]
    thresholds: Thresholds
    scenarios: list[ScenarioReport]
    passed: bool
    scenarios_passed: int
    scenarios_failed: int
