"""Wire contract of the runtime: what clients (curl, the evaluator, tests) send and receive.

Only pydantic here, so the evaluator and other clients import it without the runtime's dependencies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from common.storage import DiskUsage
from contracts.gpu_service import EngineStatus, RequestModel, SegmentTiming, SpokenText

RequestLanguage = Literal["en", "zh", "es", "auto"]
JobStatus = Literal["queued", "running", "done", "failed"]
JobKind = Literal["generate"]  # later kinds (chat replies) share the table and the runner


class GenerateRequest(RequestModel):
    text: SpokenText = Field(description="What the avatar says.")
    language: RequestLanguage = Field("auto", description="en, zh, es, or auto (detected from the text).")
    voice: str | None = Field(None, description="Voice id (bundled or uploaded); the runtime's default if omitted.")
    portrait: str | None = Field(None, description="Portrait id (bundled or uploaded); the default if omitted.")
    stream: StrictBool = Field(
        False,
        description="true: answer with the video as a fragmented MP4 stream while it is made (X-Video-Id names it); "
        "false: wait and answer with the result.",
    )


VIDEO_ID_HEADER = "X-Video-Id"  # a streamed answer names its video before the first byte
VIDEO_URL_HEADER = "X-Video-Url"  # where the stored video will be once the stream has ended well
FALLBACK_HEADER = "X-Fallback"  # "true" when the in-process engines make the stream (gpu_service unreachable)


class StageTimings(BaseModel):
    first_fragment_s: float = Field(description="From the gpu_service's start to its first playable fragment.")
    tts_s: float = Field(description="Speech synthesis, summed over sentences (overlaps rendering).")
    render_s: float = Field(description="Making frames (overlaps synthesis and encoding).")
    total_s: float = Field(description="The whole request, as the runtime saw it.")


class EnginesUsed(BaseModel):
    tts: str
    avatar: str


class GenerateResult(BaseModel):
    video_id: str
    video_url: str = Field(description="Where to download the MP4 (supports HTTP range requests).")
    duration_s: float
    language: Literal["en", "zh", "es"]
    language_detected: bool = Field(description="True when the language came from 'auto'.")
    voice: str
    portrait: str
    timings: StageTimings
    segments: list[SegmentTiming] = Field(
        default_factory=list, description="Each sentence (or streamed chunk) and where it plays in the video."
    )
    rtf: float = Field(description="Real-time factor: total processing time / video duration.")
    engines: EnginesUsed
    fallback: bool = Field(description="True when the in-process embedded engines ran (gpu_service unreachable).")


class Job(BaseModel):
    id: str
    kind: JobKind = "generate"
    status: JobStatus
    stage: str | None = Field(None, description="While running: resolving or speaking.")
    created_at: datetime
    updated_at: datetime
    attempts: int
    request: GenerateRequest
    result: GenerateResult | None = None
    error: str | None = None


class JobList(BaseModel):
    jobs: list[Job]


class UploadedVoice(BaseModel):
    id: str = Field(description="Use as `voice` in generate and jobs.")
    source_name: str
    duration_s: float = Field(description="Length of the cleaned reference (silences trimmed, at most 10 s).")


class UploadedPortrait(BaseModel):
    id: str = Field(description="Use as `portrait` in generate and jobs.")
    source_name: str
    width: int
    height: int


class GpuServiceHealth(BaseModel):
    url: str
    reachable: bool
    device: str | None = None
    engines: list[EngineStatus] = Field(default_factory=list)
    error: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    service: Literal["runtime"] = "runtime"
    version: str
    mode: Literal["local", "production"]
    fallback: Literal["local", "off"]
    shared_volume: bool = Field(description="True when results are read from a shared folder, not over HTTP.")
    gpu_service: GpuServiceHealth
    queued_jobs: int
    problems: list[str] = Field(default_factory=list, description="Why the status is degraded, in words.")
    disk: DiskUsage | None = Field(None, description="Space used under RUNTIME_DATA_DIR, and free on its disk.")
    auth: bool = Field(False, description="True when API keys are required (all but /health).")
