"""Wire contract of the audio-in avatar stream (`WS /api/v1/avatar/stream`): someone else's speech in, this face out.

Imported by the runtime, the gpu_service, the tests and the integrations (LiveKit, Pipecat), which install this
project without extras: only pydantic and the standard library here.

Client → server: a `start` text message first; then binary messages of PCM16LE mono audio at `sample_rate`, any
length, as the agent produces it; `end_of_speech` (the utterance is complete: what is left is shown now), `clear`
(barge-in: everything not yet shown is dropped, the face idles at once), `words` (optional word timings), `close`
(what was sent is still shown, the fMP4's last fragment sent, then the server closes the socket).

Server → client: text events (`StreamEvent`), and binary messages: fragmented-MP4 bytes (`output: "fmp4"`, video and
the same audio, playable through Media Source Extensions) or one message per video frame (`output: "frames"`: see
`pack_frame`). Frames are made as fast as audio arrives and never ahead of it; between utterances the face idles in
real time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from contracts.gpu_service import AvatarEngineName, Fps, PortraitFace, Seed, VideoSize

PATH = "/api/v1/avatar/stream"
SampleRate = Literal[16000, 24000, 48000]
Output = Literal["fmp4", "frames"]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamStart(_Message):
    type: Literal["start"]
    portrait: str | None = Field(
        None, description="A portrait id (an upload or a bundled one); the service's default when omitted."
    )
    face: PortraitFace = 0
    size: VideoSize = 512
    fps: Fps = 25
    sample_rate: SampleRate = 16000
    output: Output = "fmp4"
    avatar_engine: AvatarEngineName | None = Field(None, description="The service's default when omitted.")
    seed: Seed | None = Field(None, description="Seeds blinks and head motion.")
    key: str | None = Field(
        None,
        description="The API key, for clients that cannot set an Authorization header (browsers); the runtime "
        "checks it and does not pass it on.",
    )


class EndOfSpeech(_Message):
    type: Literal["end_of_speech"]


class Clear(_Message):
    type: Literal["clear"]


class Close(_Message):
    type: Literal["close"]


class WordTiming(_Message):
    word: str = Field(min_length=1, max_length=200)
    start_s: float = Field(ge=0, description="Seconds from the start of the utterance's audio.")
    end_s: float = Field(ge=0)


class Words(_Message):
    type: Literal["words"]
    words: list[WordTiming] = Field(max_length=2000)


Command = Annotated[EndOfSpeech | Clear | Close | Words, Field(discriminator="type")]
COMMAND: TypeAdapter[EndOfSpeech | Clear | Close | Words] = TypeAdapter(Command)
START: TypeAdapter[StreamStart] = TypeAdapter(StreamStart)


class StreamEvent(BaseModel):
    """`ready` once (the stream's shape), `speaking` at an utterance's first frame, `idle` at the first frame after
    its last, `cleared` after a `clear` (every frame sent after it is idle until new audio comes), `error` (in
    words: before the server closes, or alone when a command was not understood)."""

    type: Literal["ready", "speaking", "idle", "cleared", "error"]
    frame: int | None = Field(None, description="The frame (pts, counted from 0) the event happens at.")
    detail: str | None = None
    fps: int | None = None
    size: int | None = None
    sample_rate: int | None = None
    output: Output | None = None


EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)


def error_event(detail: str) -> str:
    return StreamEvent(type="error", detail=detail).model_dump_json(exclude_none=True)


def read_start(text: str | None) -> StreamStart:
    """The first message, or ValueError saying in words what is wrong with it."""
    if text is None:
        raise ValueError('the first message must be a text message: {"type": "start", ...} (JSON)')
    try:
        return START.validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f'the start message is not {{"type": "start", ...}} as documented ({problems})') from None


# One video frame and the audio it covers (output "frames"): a header, the I420 picture (Y, then U and V at half
# resolution), then the PCM16LE samples at the stream's rate.
FRAME_MAGIC = b"RAV1"
_HEADER = struct.Struct("<4sIHHIB3x")  # magic, pts, width, height, audio samples, speaking


@dataclass(frozen=True)
class StreamFrame:
    pts: int  # frame index; its time is pts / fps
    width: int
    height: int
    speaking: bool
    i420: bytes
    pcm16: bytes

    @property
    def samples(self) -> int:
        return len(self.pcm16) // 2


def pack_frame(frame: StreamFrame) -> bytes:
    header = _HEADER.pack(FRAME_MAGIC, frame.pts, frame.width, frame.height, frame.samples, frame.speaking)
    return header + frame.i420 + frame.pcm16


def unpack_frame(message: bytes) -> StreamFrame:
    if len(message) < _HEADER.size:
        raise ValueError(f"a frame message has at least {_HEADER.size} bytes; this one has {len(message)}")
    magic, pts, width, height, samples, speaking = _HEADER.unpack_from(message)
    picture = width * height * 3 // 2
    if magic != FRAME_MAGIC or len(message) != _HEADER.size + picture + 2 * samples:
        raise ValueError("not a frame message of this protocol (wrong magic or length)")
    body = message[_HEADER.size :]
    return StreamFrame(pts, width, height, bool(speaking), body[:picture], body[picture:])
