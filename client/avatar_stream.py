"""A client of the audio-in avatar stream (`WS /api/v1/avatar/stream`): push an agent's speech, get this face back.

    async with AvatarStreamClient.connect("ws://127.0.0.1:8000", StreamStart(type="start", output="frames")) as avatar:
        await avatar.push_audio(pcm16)          # PCM16LE mono at start.sample_rate, any length
        await avatar.end_of_speech()
        async for item in avatar:               # StreamEvent, StreamFrame (output "frames") or fMP4 bytes
            ...

Used by the LiveKit and Pipecat integrations and the tests; needs only this project's base install and `websockets`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from contracts.avatar_stream import EVENT, PATH, StreamEvent, StreamFrame, StreamStart, unpack_frame

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a 1024 px frame with its audio is ~1.6 MB; fMP4 fragments are smaller


class StreamRefused(Exception):
    """The service refused the stream before it began (its status and message), or ended it with an error event."""

    def __init__(self, detail: str, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.detail, self.status, self.retry_after_s = detail, status, retry_after_s


@dataclass
class AvatarStreamClient:
    connection: ClientConnection
    start: StreamStart
    ready: StreamEvent
    clearing: bool = False  # clear() sent, `cleared` not yet back: speech frames made before it are not yielded

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, base_url: str, start: StreamStart, key: str | None = None, in_message: bool = False
    ) -> AsyncIterator[AvatarStreamClient]:
        """`base_url`: http(s):// or ws(s):// of the runtime (or a gpu_service). The key goes in the Authorization
        header, or in the start message with `in_message` (as a browser must send it)."""
        url = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/") + PATH
        headers = {"Authorization": f"Bearer {key}"} if key and not in_message else None
        first = start.model_copy(update={"key": key}) if key and in_message else start
        try:
            # No per-message deflate: video does not compress, and deflating each frame costs more than making it.
            connection = await connect(url, additional_headers=headers, max_size=MAX_MESSAGE_BYTES, compression=None)
        except InvalidStatus as exc:
            raise _refusal(exc) from None
        async with connection:
            await connection.send(first.model_dump_json(exclude_none=True))
            ready = await _first_event(connection)
            yield cls(connection, start, ready)

    async def push_audio(self, pcm16: bytes) -> None:
        await self.connection.send(pcm16)

    async def push_recording(self, pcm16: bytes, chunk_s: float = 0.02, real_time: bool = True) -> None:
        """A whole recording in `chunk_s` pieces, at the pace it plays (as a microphone or a live agent would send
        it) or as fast as the service takes it; then end_of_speech."""
        chunk = 2 * max(1, round(chunk_s * self.start.sample_rate))
        began = time.monotonic()
        for offset in range(0, len(pcm16), chunk):
            await self.push_audio(pcm16[offset : offset + chunk])
            if real_time:
                await asyncio.sleep(
                    max(0.0, began + (offset + chunk) / (2 * self.start.sample_rate) - time.monotonic())
                )
        await self.end_of_speech()

    async def end_of_speech(self) -> None:
        await self._command("end_of_speech")

    async def clear(self) -> None:
        """Barge-in: the service drops what it has not shown and idles from the next frame; speech frames already
        on their way are not yielded either (fMP4 bytes cannot be cut: a player seeks to `cleared`'s frame)."""
        self.clearing = True
        await self._command("clear")

    async def close(self) -> None:
        """Ask the service to end the stream: the frames being made and the fMP4's last fragment still come."""
        await self._command("close")

    async def _command(self, kind: str) -> None:
        await self.connection.send(json.dumps({"type": kind}))

    def __aiter__(self) -> AsyncIterator[StreamEvent | StreamFrame | bytes]:
        return self._items()

    async def _items(self) -> AsyncIterator[StreamEvent | StreamFrame | bytes]:
        try:
            async for message in self.connection:
                if isinstance(message, str):
                    event = EVENT.validate_json(message)
                    if event.type == "cleared":
                        self.clearing = False
                    yield event
                elif self.start.output == "frames":
                    frame = unpack_frame(message)
                    if not (self.clearing and frame.speaking):
                        yield frame
                else:
                    yield message
        except ConnectionClosed:
            return


async def _first_event(connection: ClientConnection) -> StreamEvent:
    try:
        message = await connection.recv()
    except ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        raise StreamRefused(reason or "the service closed the stream before it began") from None
    if not isinstance(message, str):
        raise StreamRefused("the service sent media before its ready event: not an avatar stream")
    event = EVENT.validate_json(message)
    if event.type == "error":
        raise StreamRefused(event.detail or "refused")
    return event


def _refusal(exc: InvalidStatus) -> StreamRefused:
    response = exc.response
    try:
        detail = str(json.loads(response.body or b"{}").get("detail", ""))
    except ValueError:
        detail = (response.body or b"").decode(errors="replace")
    retry = response.headers.get("Retry-After")
    return StreamRefused(
        detail or f"refused with HTTP {response.status_code}",
        response.status_code,
        float(retry) if retry and retry.isdigit() else None,
    )
