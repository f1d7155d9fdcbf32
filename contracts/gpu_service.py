"""Wire contract of the gpu_service. The service and its clients (runtime, tests, demo) all import this module.

Only pydantic here: the runtime imports it without any of the service's heavy dependencies.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

Language = Literal["en", "zh", "es"]
SUPPORTED_LANGUAGES: tuple[Language, ...] = ("en", "zh", "es")
EngineState = Literal["ready", "loading", "not_loaded", "unavailable"]  # loading: the engine is being loaded now
EngineKind = Literal["tts", "avatar", "llm", "asr"]
# Every engine the service knows, available here or not (the registry checks that it matches these).
TtsEngineName = Literal["kokoro", "espeak", "xtts"]
AvatarEngineName = Literal["animator", "liveportrait"]
LlmEngineName = Literal["smollm2", "transformers", "openai"]
AsrEngineName = Literal["whisper"]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (a misspelt field would otherwise be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}  # controls, format characters (zero-width, BOM), spaces


def _not_blank(text: str) -> str:
    if any("\ud800" <= char <= "\udfff" for char in text):
        raise ValueError("text is not valid Unicode (a lone surrogate); send UTF-8 text")
    if all(unicodedata.category(char) in _INVISIBLE for char in text):
        raise ValueError("text is empty; give at least one word to speak")
    return text


# The pattern tells clients (and the schema's fuzzers) what the validator checks: some visible character.
VISIBLE = r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
SpokenText = Annotated[  # shared with the runtime's schemas
    str, Field(json_schema_extra={"minLength": 1, "pattern": VISIBLE}), AfterValidator(_not_blank)
]


def _number(value: object) -> object:
    """JSON's integers (44 or 44.0, as JSON Schema has them), not true/false or "44", which pydantic would coerce."""
    if isinstance(value, bool | str):
        raise ValueError("expected a whole number")
    return value


# Constraints first, then the validator: in that order the schema keeps them as minimum/maximum.
Seed = Annotated[int, Field(ge=0), BeforeValidator(_number)]
TokenCount = Annotated[int, Field(ge=1, le=4096), BeforeValidator(_number)]


def _even(size: int) -> int:
    if size % 2:
        raise ValueError("size must be even (H.264 with 4:2:0 chroma needs even dimensions)")
    return size


VideoSize = Annotated[
    int,
    # multipleOf documented, checked by _even (whose message says why).
    Field(ge=128, le=1024, json_schema_extra={"multipleOf": 2}, description="Square output size in pixels (even)."),
    BeforeValidator(_number),
    AfterValidator(_even),
]
Fps = Annotated[int, Field(ge=1, le=60, description="Frames per second."), BeforeValidator(_number)]
PortraitFace = Annotated[
    int,
    Field(ge=0, le=63, description="Which face of the photo to animate, by size: 0 is the largest."),
    BeforeValidator(_number),
]


class VoiceOptions(RequestModel):
    """How to speak: language, voice and engine (shared by /tts, /speak and /reply)."""

    language: Language = Field(description="en, zh (Mandarin) or es.")
    voice: str | None = Field(
        None, description="Reference voice: an id from /api/v1/voices or a path under an allowed folder."
    )
    engine: TtsEngineName | None = Field(None, description="TTS engine; the service's default when omitted.")
    match_voice: StrictBool | None = Field(
        None, description="Override the service's voice-matching setting for this request (embedded engine)."
    )


class TTSRequest(VoiceOptions):
    text: SpokenText = Field(description="What to say. Long text is split into sentences.")


class PhonemeMark(BaseModel):
    t: float = Field(description="Start time in seconds from the start of the audio.")
    phoneme: str = Field(description="IPA symbol(s); '_' is a pause.")


class TTSTimings(BaseModel):
    synth_s: float = Field(description="Synthesis, including voice matching and (xtts) conditioning latents.")
    total_s: float


class TTSResponse(BaseModel):
    audio_path: str = Field(description="WAV file under the service's output root (host path).")
    duration_s: float
    sample_rate: int
    language: Language
    voice: str | None
    engine: str
    voice_matched: bool = Field(description="True when the embedded engine matched the reference voice.")
    voice_cloned: bool = Field(False, description="True when a cloning engine (xtts) spoke in the reference voice.")
    phonemes: list[PhonemeMark] = Field(description="Phoneme timeline for lip sync; empty if the engine has none.")
    timings: TTSTimings
    spoken_text: str = Field("", description="The text as the engine said it: numbers, dates, addresses in words.")


class AvatarRequest(RequestModel):
    audio_path: str = Field(description="WAV (or any audio) under the service's output root, e.g. from /api/v1/tts.")
    portrait: str = Field(
        "astronaut", description="An id from /api/v1/portraits or an image path under an allowed folder."
    )
    face: PortraitFace = 0
    phonemes: list[PhonemeMark] | None = Field(
        None, description="Phoneme timeline from /api/v1/tts; without it the mouth follows the audio itself."
    )
    fps: Fps = 25
    size: VideoSize = 512
    engine: AvatarEngineName | None = Field(None, description="Avatar engine; the service's default when omitted.")
    seed: Seed | None = Field(
        None, description="Seeds blinks and head motion; default: derived from the audio, so a clip is reproducible."
    )


class AvatarTimings(BaseModel):
    analyze_s: float = Field(description="Face analysis and session set-up (cached per portrait after the first time).")
    render_s: float
    encode_s: float
    total_s: float


class AvatarResponse(BaseModel):
    video_path: str = Field(description="MP4 (H.264 + AAC) under the service's output root (host path).")
    duration_s: float
    frames: int
    fps: int
    size: int
    portrait: str
    engine: str
    timings: AvatarTimings
    notices: list[str] = Field(default_factory=list, description="What to know about how the photo was used.")


class VideoOptions(VoiceOptions):
    """How to show it: portrait, avatar engine, frame rate and size (shared by /speak and /reply)."""

    portrait: str = Field(
        "astronaut", description="An id from /api/v1/portraits or an image path under an allowed folder."
    )
    face: PortraitFace = 0
    avatar_engine: AvatarEngineName | None = Field(
        None, description="Avatar engine; the service's default when omitted."
    )
    fps: Fps = 25
    size: VideoSize = 512
    seed: Seed | None = Field(None, description="Seeds blinks and head motion; default: derived from the text.")


class SpeakRequest(VideoOptions):
    """Text to a talking-head video stream: speech and rendering overlapped, sentence by sentence."""

    text: SpokenText = Field(description="What to say. Long text is split into sentences.")
    first_clause: StrictBool = Field(
        False,
        description="Voice the first sentence's first clause on its own (cut at a comma or where a phrase starts), "
        "so the first fragment comes sooner: for a stream watched as it is made.",
    )


ChatRole = Literal["system", "user", "assistant"]


class ChatTurn(BaseModel):
    role: ChatRole
    content: str = Field(min_length=1, description="What was said.")


class HistoryTurn(ChatTurn):
    role: Literal["user", "assistant"]


class ReplyRequest(VideoOptions):
    """The user's message, after a conversation so far: the language model writes the reply, the avatar says it as
    it is written."""

    text: SpokenText = Field(description="What the user says now: the message the reply answers.")
    system: str | None = Field(None, min_length=1, description="Instructions for the model (a persona).")
    history: list[HistoryTurn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first. Trimmed to the model's window, oldest first (the system "
        "instructions and the new message are kept).",
    )
    llm_engine: LlmEngineName | None = Field(None, description="Language model engine; the service's default.")
    max_tokens: TokenCount | None = Field(
        None, description="Longest reply in tokens; the service's setting when omitted."
    )

    def turns(self) -> list[ChatTurn]:
        """The whole conversation for the model: system, history, then the new message."""
        return [*conversation(self.system, self.history), ChatTurn(role="user", content=self.text)]


def conversation(system: str | None, history: Sequence[ChatTurn]) -> list[ChatTurn]:
    """A conversation so far for the model: its system message (if any), then its turns."""
    return [*([ChatTurn(role="system", content=system)] if system else []), *history]


FinishReason = Literal["stop", "length", "sentences", "timeout", "error", "language"]


class ReplyInfo(BaseModel):
    """The written reply of a /reply stream, as far as it has been handed to speech."""

    text: str = ""
    llm_engine: str
    finish: FinishReason | None = Field(
        None,
        description="stop: the model ended it; length: max tokens; sentences: the sentence limit; timeout: the "
        "overall limit; error: the model failed (text holds the part before); language: the model does not write "
        "the reply's language, and a fixed sentence in it says so (GPU_LLM__SAY_UNSPOKEN_LANGUAGE).",
    )
    tokens: int = 0
    prompt_tokens: int = 0
    prompt_tokens_read: int | None = Field(
        None,
        description="Of the prompt, the tokens a local model read for this reply; it had read the rest before (the "
        "conversation so far). None for a model on a server.",
    )
    dropped_turns: int = Field(0, description="Oldest turns left out to fit the model's window.")
    first_token_s: float | None = Field(None, description="From the request to the model's first token.")
    first_sentence_s: float | None = Field(None, description="From the request to the first complete sentence.")
    tokens_per_s: float | None = None


SpeakStatus = Literal["running", "done", "failed"]


class SegmentTiming(BaseModel):
    text: str = Field(description="The sentence spoken (empty for a chunk continuing the previous one).")
    spoken: str = Field("", description="The sentence as the engine said it (numbers, dates, addresses in words).")
    start_s: float = Field(description="Where it starts in the video.")
    duration_s: float


class SpeakTimings(BaseModel):
    first_fragment_s: float = Field(0.0, description="From the request to the first fragment's bytes.")
    tts_s: float = Field(0.0, description="Speech synthesis, summed over segments (overlaps rendering).")
    render_s: float = Field(0.0, description="Making frames (overlaps synthesis and encoding).")
    total_s: float = 0.0


class SpeakResult(BaseModel):
    """What GET /api/v1/speak/{id} says of a stream: while it runs, once done, or why it failed."""

    id: str
    status: SpeakStatus
    video_path: str | None = Field(None, description="The complete fragmented MP4 (host path), once done.")
    duration_s: float = 0.0
    frames: int = 0
    fps: int
    size: int
    language: Language
    tts_engine: str
    avatar_engine: str
    voice_matched: bool = False
    voice_cloned: bool = False
    segments: list[SegmentTiming] = Field(default_factory=list)
    spoken_text: str = Field("", description="The text as it was said, so far: numbers, dates, addresses in words.")
    timings: SpeakTimings = Field(default_factory=SpeakTimings)
    error: str | None = None
    reply: ReplyInfo | None = Field(None, description="For /reply streams: the text the model wrote.")
    notices: list[str] = Field(
        default_factory=list, description="What to know about how the photo was used (several faces, a small face)."
    )


class SpeakEvent(BaseModel):
    """One step of a /speak or /reply stream, sent by GET /api/v1/speak/{id}/events as it happens."""

    type: Literal["segment", "end"] = Field(
        description="segment: a sentence (or a chunk of one) was voiced and goes into the video now; end: the stream "
        "ended, however it did (`result` says how)."
    )
    index: int = Field(description="The event's place in the stream's events, from 0.")
    segment: SegmentTiming | None = None
    reply: ReplyInfo | None = Field(None, description="/reply streams: the reply as far as it has been said.")
    result: SpeakResult | None = Field(None, description="With end: the stream's record, as GET /speak/{id} has it.")


class TranscriptSegment(BaseModel):
    start_s: float
    end_s: float
    text: str


class TranscribeTimings(BaseModel):
    decode_s: float = Field(description="Reading the file (in a child process with a time limit).")
    transcribe_s: float = Field(description="Voice activity detection, language identification and decoding.")
    total_s: float


class TranscribeResponse(BaseModel):
    text: str = Field(description="What was said.")
    language: Language = Field(description="Whisper's likeliest of en, zh and es (the reply follows it).")
    whisper_language: str = Field(description="Whisper's own first guess among all of its languages.")
    language_probability: float = Field(description="Whisper's probability of `language`.")
    duration_s: float = Field(description="Length of the recording.")
    speech_s: float = Field(description="Length of the speech in it (silence removed by voice activity detection).")
    segments: list[TranscriptSegment]
    model: str
    timings: TranscribeTimings


SPEAK_ID_HEADER = "X-Speak-Id"
SPEAK_EVENTS_MEDIA_TYPE = "text/event-stream"
VIDEO_PATH_HEADER = "X-Video-Path"  # where the complete file will be once the stream ends well


class StoredInput(BaseModel):
    path: str = Field(description="Where the file now is, under the service's output root (host path).")
    bytes: int


class PortraitCheckRequest(RequestModel):
    portrait: str = Field(description="An id from /api/v1/portraits or an image path under an allowed folder.")
    face: PortraitFace = 0


class PortraitCheckResponse(BaseModel):
    portrait: str
    face_box: list[float] = Field(
        min_length=4, max_length=4, description="x0, y0, x1, y1 of the face in the framed image."
    )
    size: int = Field(description="Side of the framed (square) image the box refers to.")
    faces: int = Field(1, description="Faces found in the photo.")
    face: int = Field(0, description="The one animated, by size: 0 is the largest.")
    face_px: int = Field(0, description="Its height in the photo, in pixels.")
    notices: list[str] = Field(default_factory=list, description="What to know about how the photo is used.")


class EngineStatus(BaseModel):
    name: str
    kind: EngineKind
    languages: list[str]
    state: EngineState
    default: bool = Field(description="Used when a request names no engine.")
    reason: str | None = Field(None, description="Why the engine is unavailable.")
    license: str | None = Field(None, description="Terms of the engine's model weights, when they have their own.")
    embedded: bool = Field(
        False,
        description="An embedded default that runs offline from pip packages, not the real model it stands in for.",
    )
    clones_voice: bool | None = Field(
        None,
        description="TTS engines: true when it speaks in the reference voice itself (xtts); false when it speaks "
        "in its own voice, at most moved toward the reference (kokoro, espeak: they do not clone).",
    )
    in_use: int = Field(0, description="Requests and sessions holding the engine now (it is not unloaded while held).")
    idle_unload_s: float | None = Field(
        None, description="Unloaded after this long unused (GPU_IDLE_UNLOAD_S); None: kept loaded."
    )


class DiskUsage(BaseModel):
    path: str
    used_bytes: int = Field(description="By the files under `path`.")
    free_bytes: int = Field(description="Left on its file system.")


class MemoryFigures(BaseModel):
    resident_bytes: float = Field(description="The process's resident memory now.")
    device_bytes: float | None = Field(
        None, description="GPU memory torch holds now (CUDA allocated, MPS driver); None on the CPU."
    )


class PublicHealth(BaseModel):
    """What /health tells a caller without the service's key: whether it is fine, nothing about the host."""

    status: Literal["ok", "degraded"]
    service: str


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    service: Literal["gpu_service"] = "gpu_service"
    problems: list[str] = Field(default_factory=list, description="Why the status is degraded, in words.")
    notes: list[str] = Field(
        default_factory=list, description="What works but deserves a word (a real engine on a CPU is very slow)."
    )
    disk: DiskUsage | None = Field(None, description="Space used under the output root, and free on its disk.")
    version: str
    device: str
    device_reason: str
    output_root: str
    engines: list[EngineStatus]
    memory: MemoryFigures | None = Field(None, description="Memory now: it drops when an idle engine is unloaded.")


class VoiceInfo(BaseModel):
    id: str
    kind: Literal["human", "synthetic", "uploaded"]
    language: str | None
    description: str
    license: str
    source: str


class VoicesResponse(BaseModel):
    voices: list[VoiceInfo]


class PortraitInfo(BaseModel):
    id: str
    description: str
    license: str
    source: str


class PortraitsResponse(BaseModel):
    portraits: list[PortraitInfo]


# --- live sessions (WebRTC) ------------------------------------------------------------------------------------------


IceTransportPolicy = Literal["all", "relay"]


class IceServer(BaseModel):
    """A STUN or TURN server as RTCPeerConnection takes it (TURN with time-limited credentials)."""

    urls: list[str] = Field(min_length=1, description="stun:host:port, turn:host:port?transport=udp|tcp, turns:...")
    username: str | None = Field(None, description="TURN: '<unix expiry>:<user>' (the TURN REST API scheme).")
    credential: str | None = Field(None, description="TURN: base64 HMAC-SHA1 of the username with the shared secret.")


class SessionOffer(VideoOptions):
    """A WebRTC offer (as RTCSessionDescription has it) and how the avatar looks, speaks and answers."""

    sdp: str = Field(min_length=1, max_length=200_000, description="The browser's (or any client's) SDP offer.")
    type: Literal["offer"] = Field(description="Always 'offer'.")
    language: Language = Field(
        "en", description="What the avatar speaks in this session, and the language its microphone is heard in."
    )
    system: str | None = Field(None, min_length=1, max_length=8000, description="Persona for chat messages.")
    llm_engine: LlmEngineName | None = Field(None, description="Language model for chat messages.")
    ice_servers: list[IceServer] = Field(
        default_factory=list,
        max_length=8,
        description="STUN/TURN servers for this session's peer, besides GPU_SESSIONS__ICE_SERVERS (the runtime sends "
        "the TURN credentials it hands the client).",
    )
    ice_transport_policy: IceTransportPolicy = Field(
        "all", description="relay: only relayed (TURN) candidates, as when the client is told to use relay only."
    )


class SessionAnswer(BaseModel):
    id: str = Field(description="Ends the session with DELETE /api/v1/sessions/{id}.")
    sdp: str
    type: Literal["answer"] = "answer"


SessionState = Literal["connecting", "connected", "closed"]


class SessionTurn(BaseModel):
    """One turn of a live session's conversation (chat messages and what was heard; `say` is not a turn)."""

    role: Literal["user", "assistant"]
    text: str
    language: Language
    spoken: bool = Field(False, description="User turns: heard from the microphone (else typed).")
    status: Literal["done", "interrupted"] = Field(
        "done", description="interrupted: the reply was cut short (barge-in or a command); `text` is what was said."
    )


class SessionInfo(BaseModel):
    id: str
    state: SessionState
    speaking: bool
    video_frames: int = Field(description="Frames sent so far.")
    audio_s: float = Field(description="Seconds of audio sent so far.")
    turns: list[SessionTurn] = Field(default_factory=list, description="The conversation so far, oldest first.")


class SessionCommand(RequestModel):
    """A message on the session's data channel (JSON): say this, answer this (chat), or stop speaking."""

    type: Literal["say", "chat", "interrupt"]
    text: SpokenText | None = Field(None, description="For say and chat.")


class TurnTimings(BaseModel):
    """Where a live turn's time went, in seconds on one clock from its start: the end of the user's speech (the last
    voiced VAD frame) for a spoken turn, the message's arrival for a typed one. A stage not reached (yet) is None."""

    start: Literal["speech_end", "message"]
    turn_end_s: float | None = Field(None, description="Spoken turns: the silence that ends the turn was heard out.")
    transcript_s: float | None = Field(None, description="Spoken turns: the transcript was ready.")
    first_token_s: float | None = Field(None, description="Chat: the model wrote its first token.")
    first_clause_s: float | None = Field(None, description="Chat: the first clause was complete, handed to speech.")
    first_audio_s: float | None = Field(None, description="The reply's first audio was synthesized.")
    first_packet_s: float | None = Field(None, description="The reply's first audio went out to the peer.")
    prompt_tokens_read: int | None = Field(
        None,
        description="Chat, a local model: the prompt's tokens it read for this turn (~3 ms each on two CPU cores); "
        "the conversation before them it had read already, or while the user spoke.",
    )


class SessionEvent(BaseModel):
    """What the session says back on the data channel (JSON): listening (the user started speaking; the avatar
    stops), heard (the transcript, then a reply follows), speaking, sentence (as its first frame goes out: a caption
    shown on it is on screen with the sentence), done, interrupted (stopped early: `text` is what was said), error."""

    type: Literal["listening", "heard", "speaking", "sentence", "done", "interrupted", "error"]
    text: str | None = None
    language: Language | None = None
    detail: str | None = None
    timings: TurnTimings | None = Field(
        None, description="heard, speaking, sentence, done, interrupted: the turn's stages reached so far."
    )
