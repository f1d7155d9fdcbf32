"""Wire contract of the runtime: what clients (curl, the evaluator, tests) send and receive.

Only pydantic here, so the evaluator and other clients import it without the runtime's dependencies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, StrictBool, computed_field, field_validator, model_validator

from contracts.gpu_service import (
    DiskUsage,
    EngineStatus,
    FinishReason,
    IceServer,
    IceTransportPolicy,
    Language,
    PortraitFace,
    PortraitInfo,
    RequestModel,
    SegmentTiming,
    SpokenText,
    VoiceInfo,
)

RequestLanguage = Literal[Language, "auto"]  # the languages spoken, or "auto": found from the text
JobStatus = Literal["queued", "running", "done", "failed"]
JobKind = Literal["generate", "chat_reply"]


class GenerateRequest(RequestModel):
    text: SpokenText = Field(description="What the avatar says.")
    language: RequestLanguage = Field("auto", description="en, zh, es, or auto (detected from the text).")
    voice: str | None = Field(None, description="Voice id (bundled or uploaded); the runtime's default if omitted.")
    portrait: str | None = Field(None, description="Portrait id (bundled or uploaded); the default if omitted.")
    face: PortraitFace = 0
    stream: StrictBool = Field(
        False,
        description="true: answer with the video as a fragmented MP4 stream while it is made (X-Video-Id names it); "
        "false: wait and answer with the result.",
    )


VIDEO_ID_HEADER = "X-Video-Id"  # a streamed answer names its video before the first byte
VIDEO_URL_HEADER = "X-Video-Url"  # where the stored video will be once the stream has ended well
FALLBACK_HEADER = "X-Fallback"  # "true" when the runtime's local engines make the stream (gpu_service unreachable)


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
    language: Language
    language_detected: bool = Field(description="True when the language came from 'auto'.")
    voice: str
    portrait: str
    timings: StageTimings
    segments: list[SegmentTiming] = Field(
        default_factory=list, description="Each sentence (or streamed chunk) and where it plays in the video."
    )
    spoken_text: str = Field("", description="The text as it was said: numbers, dates, addresses in words.")
    captions_url: str | None = Field(None, description="WebVTT captions: one cue per sentence, at its times.")
    notices: list[str] = Field(
        default_factory=list, description="What to know about how the photo was used (several faces, a small face)."
    )
    rtf: float = Field(description="Real-time factor: total processing time / video duration.")
    engines: EnginesUsed
    fallback: bool = Field(description="True when the runtime's local embedded engines ran (gpu_service unreachable).")


DEFAULT_PERSONA_NAME = "Ava"
DEFAULT_SYSTEM_PROMPT = (
    "You are {name}, a warm and curious guide who talks with people face to face. "
    "You answer briefly and kindly, and you ask a question back now and then."
)


MAX_INSTRUCTIONS_CHARS = 4000  # the persona's instructions, {name} expanded: what the model reads before each turn


class Persona(RequestModel):
    """Who the avatar is in a conversation. Every field has a default, so `{}` starts one."""

    name: str = Field(DEFAULT_PERSONA_NAME, min_length=1, max_length=60, description="What the avatar calls itself.")
    system_prompt: str = Field(
        DEFAULT_SYSTEM_PROMPT,
        min_length=1,
        max_length=MAX_INSTRUCTIONS_CHARS,
        description="Instructions for the language model; `{name}` becomes the persona's name.",
    )
    voice: str | None = Field(None, description="Voice id (bundled or uploaded); the runtime's default if omitted.")
    portrait: str | None = Field(None, description="Portrait id (bundled or uploaded); the default if omitted.")
    language: RequestLanguage = Field(
        "auto", description="Reply language; auto: the language of each user message, detected."
    )

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("the name is blank: give the avatar a name it can say")
        return name.strip()

    @model_validator(mode="after")
    def _instructions_fit(self) -> Persona:
        if len(self.instructions) > MAX_INSTRUCTIONS_CHARS:
            raise ValueError(
                f"system_prompt with each {{name}} replaced by the name is {len(self.instructions)} characters; "
                f"the limit is {MAX_INSTRUCTIONS_CHARS}: use {{name}} less often, or a shorter name"
            )
        return self

    @property
    def instructions(self) -> str:
        """The system prompt as the model reads it: `{name}` replaced by the persona's name."""
        return self.system_prompt.replace("{name}", self.name)


MessageRole = Literal["user", "assistant"]
MessageStatus = Literal["running", "done", "partial", "failed"]


class ReplyTimings(BaseModel):
    first_token_s: float | None = Field(None, description="From the gpu_service's start to the model's first token.")
    first_sentence_s: float | None = Field(None, description="... to the first complete sentence.")
    first_fragment_s: float | None = Field(None, description="... to the first playable video fragment.")
    total_s: float | None = Field(None, description="The whole reply, as the runtime saw it.")
    tokens: int = 0
    tokens_per_s: float | None = None


class ChatMessage(BaseModel):
    id: str
    role: MessageRole
    text: str = Field(description="What was said; for a reply cut short (status partial), the part before.")
    language: Language | None = Field(None, description="Detected (user) or spoken (assistant) language.")
    audio_s: float | None = Field(None, description="A spoken user message: the recording's length.")
    status: MessageStatus = Field(
        description="running: being written and spoken; done; partial: ended early (see error), its text is "
        "what was said; failed: nothing was said."
    )
    created_at: datetime
    video_id: str | None = Field(None, description="Assistant replies: the stored video, once complete.")
    video_url: str | None = None
    segments: list[SegmentTiming] = Field(
        default_factory=list, description="Assistant replies: each sentence and where it plays in the video."
    )
    finish: FinishReason | None = Field(None, description="Why the reply ended (see the gpu_service's ReplyInfo).")
    llm_engine: str | None = None
    timings: ReplyTimings | None = None
    error: str | None = None


class Conversation(BaseModel):
    id: str
    persona: Persona
    created_at: datetime
    messages: list[ChatMessage] = Field(default_factory=list, description="Oldest first.")


class MessageRequest(RequestModel):
    text: SpokenText = Field(description="What the user says.")
    stream: StrictBool = Field(
        False,
        description="true: answer with the reply's video as a fragmented MP4 stream while it is written and "
        "spoken (X-Message-Id names it; its text arrives on X-Events-Url); false: wait and answer with the reply.",
    )


class ReplyResult(BaseModel):
    conversation_id: str
    user: ChatMessage
    reply: ChatMessage


class ChatJobRequest(RequestModel):
    text: SpokenText = Field(description="What the user says.")


class ChatJob(BaseModel):
    """What a chat_reply job was asked: the conversation and the user's message (stored when queued)."""

    conversation_id: str
    message_id: str
    text: str


MESSAGE_ID_HEADER = "X-Message-Id"  # a streamed reply names its message before the first byte
EVENTS_URL_HEADER = "X-Events-Url"  # where a stream's sentences and timings arrive as server-sent events


class IceServers(BaseModel):
    """What a client's RTCPeerConnection is configured with for a live session: GET /api/v1/ice-servers."""

    ice_servers: list[IceServer] = Field(description="As RTCConfiguration.iceServers takes them.")
    ice_transport_policy: IceTransportPolicy = Field(description="As RTCConfiguration.iceTransportPolicy.")
    expires_at: int | None = Field(None, description="Unix time the TURN credentials stop working (ask again).")


class VideoEnded(BaseModel):
    """The `done` event of a streamed video's events (GET /api/v1/videos/{id}/events): how its stream ended."""

    status: Literal["done", "failed"]
    video_url: str | None = Field(None, description="The stored video (done).")
    captions_url: str | None = Field(None, description="Its captions as WebVTT (done).")
    error: str | None = Field(None, description="Why it failed (failed): nothing is stored.")


class Job(BaseModel):
    id: str
    kind: JobKind = "generate"
    status: JobStatus
    stage: str | None = Field(None, description="While running: resolving or speaking.")
    created_at: datetime
    updated_at: datetime
    attempts: int
    request: GenerateRequest | ChatJob = Field(description="generate: the request; chat_reply: the message.")
    result: GenerateResult | ReplyResult | None = None
    error: str | None = None


class JobList(BaseModel):
    jobs: list[Job]


def voice_preview_url(voice_id: str) -> str:
    return f"/api/v1/voices/{voice_id}/preview"


def portrait_preview_url(portrait_id: str) -> str:
    return f"/api/v1/portraits/{portrait_id}/preview"


class UploadedVoice(BaseModel):
    id: str = Field(description="Use as `voice` in generate and jobs.")
    source_name: str
    duration_s: float = Field(description="Length of the cleaned reference (silences trimmed, at most 10 s).")

    @computed_field(description="The cleaned reference as WAV (a path on this runtime).")  # type: ignore[prop-decorator]
    @property
    def preview_url(self) -> str:
        return voice_preview_url(self.id)


class UploadedPortrait(BaseModel):
    id: str = Field(description="Use as `portrait` in generate and jobs.")
    source_name: str
    width: int
    height: int
    faces: int = Field(
        1,
        description="Faces found, each confirmed by the face mesh; the largest is animated unless `face` says.",
    )
    notices: list[str] = Field(default_factory=list, description="What to know about how the photo is used.")

    @computed_field(description="A JPEG thumbnail (a path on this runtime).")  # type: ignore[prop-decorator]
    @property
    def preview_url(self) -> str:
        return portrait_preview_url(self.id)


class BundledVoice(VoiceInfo):
    @computed_field(description="The reference recording as WAV (a path on this runtime).")  # type: ignore[prop-decorator]
    @property
    def preview_url(self) -> str:
        return voice_preview_url(self.id)


class BundledPortrait(PortraitInfo):
    @computed_field(description="A JPEG thumbnail (a path on this runtime).")  # type: ignore[prop-decorator]
    @property
    def preview_url(self) -> str:
        return portrait_preview_url(self.id)


class VoiceCatalog(BaseModel):
    bundled: list[BundledVoice]
    uploaded: list[UploadedVoice]


class PortraitCatalog(BaseModel):
    bundled: list[BundledPortrait]
    uploaded: list[UploadedPortrait]


class GpuServiceHealth(BaseModel):
    url: str
    reachable: bool | None = Field(description="It answered; None: not asked (it starts on demand).")
    on_demand: bool = Field(
        False, description="It scales to zero when idle (RUNTIME_GPU_ON_DEMAND): not asked, as asking would wake it."
    )
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


class LiveSessionAnswer(BaseModel):
    id: str = Field(description="The session: GET / DELETE /api/v1/sessions/{id}.")
    sdp: str
    type: Literal["answer"] = "answer"
    conversation_id: str = Field(description="Where the session's turns are kept (GET /api/v1/conversations/{id}).")


class LiveSessionRequest(RequestModel):
    """A WebRTC offer (as RTCSessionDescription has it) for a live session with a persona."""

    sdp: str = Field(min_length=1, max_length=200_000, description="The client's SDP offer.")
    type: Literal["offer"] = Field(description="Always 'offer'.")
    persona: Persona = Field(
        default_factory=Persona,
        description="Who answers chat messages and speech; its voice, "
        "portrait and language (auto: English until the user speaks another).",
    )
