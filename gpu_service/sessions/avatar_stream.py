"""The audio-driven avatar stream (`WS /api/v1/avatar/stream`, protocol in contracts/avatar_stream.py): someone
else's speech in, this face out, as fragmented MP4 or as raw frames.

One task reads the socket (audio into the drive, commands applied at once); one makes frames as the drive allows,
rendering and encoding each in a worker thread, and sends it. Audio received and not yet shown is bounded
(MAX_PENDING_S): beyond it the socket is not read, so a client sending faster than frames are made is held back by
TCP instead of growing memory. A client that goes away ends both tasks; the avatar's engine and the session's place
are given back whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

import numpy as np
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from common.errors import ServiceError
from common.http import websocket as ws
from common.media.video import i420
from contracts.avatar_stream import (
    COMMAND,
    Clear,
    Close,
    EndOfSpeech,
    StreamEvent,
    StreamFrame,
    StreamStart,
    Words,
    error_event,
    pack_frame,
    read_start,
)
from contracts.gpu_service import VideoOptions
from gpu_service.dependencies import Services
from gpu_service.engines.base import AvatarSession
from gpu_service.media.fmp4 import FragmentedMp4Writer
from gpu_service.orders import OpenedAvatar, open_avatar
from gpu_service.sessions.audio_drive import AudioDrive, Piece
from gpu_service.sessions.slots import SessionSlots

log = logging.getLogger("gpu_service.avatar_stream")
START_TIMEOUT_S = 10.0  # a client that connects and says nothing gives its place back
MAX_PENDING_S = 10.0
MAX_MESSAGE_S = 10.0  # one binary message holds at most this much audio
FRAGMENT_S = 0.2  # fMP4 fragments this long at most: a browser plays them this soon after they are made


class Sink(Protocol):
    def write(self, image: np.ndarray, piece: Piece) -> bytes: ...

    def close(self) -> bytes: ...

    def abort(self) -> None: ...


class Fmp4Sink:
    def __init__(self, fps: int, size: int, sample_rate: int) -> None:
        self._writer = FragmentedMp4Writer(fps, size, sample_rate, fragment_s=FRAGMENT_S)

    def write(self, image: np.ndarray, piece: Piece) -> bytes:
        # A keyframe where speech starts: a client that skips to it after a `clear` plays from there.
        return self._writer.write(image, piece.samples, segment_start=piece.event == "speaking")

    def close(self) -> bytes:
        return self._writer.close()

    def abort(self) -> None:
        self._writer.abort()


class FrameSink:
    def write(self, image: np.ndarray, piece: Piece) -> bytes:
        pcm = (np.clip(piece.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        height, width = image.shape[:2]
        frame = StreamFrame(piece.pts, width, height, piece.context is not None, i420(image).tobytes(), pcm)
        return pack_frame(frame)

    def close(self) -> bytes:
        return b""

    def abort(self) -> None:
        pass


class AvatarStream:
    def __init__(self, websocket: WebSocket, start: StreamStart, session: AvatarSession) -> None:
        self.websocket = websocket
        self.start = start
        self.session = session
        self.drive = AudioDrive(start.sample_rate, session.fps)
        self.sink: Sink = (
            Fmp4Sink(session.fps, session.size, start.sample_rate) if start.output == "fmp4" else FrameSink()
        )
        self._wake = asyncio.Event()  # audio or a command arrived
        self._room = asyncio.Event()  # frames were made: pending audio shrank
        self._clear = False  # the client asked to clear
        self._closing = False  # the client asked to close: the stream ends once what it sent is shown
        self._t0 = time.monotonic()

    def _now(self) -> float:
        return time.monotonic() - self._t0

    async def run(self) -> None:
        await self._send_event(
            StreamEvent(
                type="ready",
                frame=0,
                fps=self.session.fps,
                size=self.session.size,
                sample_rate=self.start.sample_rate,
                output=self.start.output,
            )
        )
        reader = asyncio.create_task(self._read())
        completed = False
        try:
            await self._produce(reader)
            completed = True
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            if completed:
                tail = await asyncio.to_thread(self.sink.close)
                with contextlib.suppress(Exception):
                    if tail:
                        await self.websocket.send_bytes(tail)
            else:
                await asyncio.to_thread(self.sink.abort)

    async def _produce(self, reader: asyncio.Task[None]) -> None:
        while not (self._closing and not self.drive.speaking and not self.drive.pending_s):
            if reader.done() and not self._closing:
                reader.result()  # the client went away (WebSocketDisconnect) or the reader failed
                return
            self._wake.clear()
            if self._clear:
                self._clear = False
                self.drive.clear(self._now())
                await self._send_event(StreamEvent(type="cleared", frame=self.drive.pts))
            piece = self.drive.next_piece(self._now())
            if piece is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.001, self.drive.wait_s(self._now())))
                continue
            if piece.event == "speaking":
                await self._send_event(StreamEvent(type="speaking", frame=piece.pts))
            data = await asyncio.to_thread(self._render, piece)
            self._room.set()
            if piece.event == "idle":
                await self._send_event(StreamEvent(type="idle", frame=piece.pts))
            if data:
                await self.websocket.send_bytes(data)

    def _render(self, piece: Piece) -> bytes:
        if piece.context is None:
            image = next(iter(self.session.idle(1 / self.session.fps)))
        else:
            image = next(iter(self.session.speak(piece.samples, self.drive.sample_rate, None, piece.context)))
        return self.sink.write(image, piece)

    async def _read(self) -> None:
        limit = int(MAX_MESSAGE_S * self.drive.sample_rate * 2)
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            if (audio := message.get("bytes")) is not None:
                if len(audio) > limit:
                    raise _Refused(
                        f"an audio message of {len(audio)} bytes; send at most {MAX_MESSAGE_S:g} s "
                        f"({limit} bytes) at a time",
                        ws.TOO_BIG,
                    )
                self.drive.push(audio, self._now())
                self._wake.set()
                while self.drive.pending_s > MAX_PENDING_S:  # backpressure: read no more until frames catch up
                    self._room.clear()
                    await self._room.wait()
            elif (text := message.get("text")) is not None:
                await self._command(text)

    async def _command(self, text: str) -> None:
        try:
            command = COMMAND.validate_json(text)
        except ValidationError:
            await self._send_event(
                StreamEvent(
                    type="error",
                    detail='not a command of this stream: send {"type": "end_of_speech" | "clear" | "close"} '
                    '(or "words") as JSON, and audio as binary messages',
                )
            )
            return
        if isinstance(command, EndOfSpeech):
            self.drive.end_of_speech()
        elif isinstance(command, Clear):
            self._clear = True  # applied by the producer between two frames: all before `cleared` is older
        elif isinstance(command, Close):
            self.drive.end_of_speech()  # what was sent is still shown, then the stream ends
            self._closing = True
        elif isinstance(command, Words):
            pass  # accepted; the mouth follows the audio itself (word timings add nothing it measured)
        self._wake.set()

    async def _send_event(self, event: StreamEvent) -> None:
        await self.websocket.send_text(event.model_dump_json(exclude_none=True))


class _Refused(Exception):
    def __init__(self, detail: str, code: int) -> None:
        super().__init__(detail)
        self.detail, self.code = detail, code


class AvatarStreams:
    """Serves the avatar stream route: a place among the sessions, the start message, the avatar, the stream."""

    def __init__(self, services: Services, slots: SessionSlots) -> None:
        self._services = services
        self._slots = slots
        self.running = 0

    async def serve(self, websocket: WebSocket) -> None:
        try:
            give_back = self._slots.take()
        except ServiceError as exc:
            await ws.deny(websocket, exc.status_code, exc.detail, exc.headers)
            return
        opened: OpenedAvatar | None = None
        self.running += 1
        try:
            await websocket.accept()
            start = await self._start(websocket)
            if start is None:
                return
            opened = await self._open(websocket, start)
            if opened is None:
                return
            await AvatarStream(websocket, start, opened.session).run()
            await ws.close_with(websocket, None, ws.NORMAL)
        except WebSocketDisconnect:
            pass
        except _Refused as exc:
            await ws.close_with(websocket, error_event(exc.detail), exc.code, exc.detail)
        except Exception:
            log.exception("an avatar stream failed")
            await ws.close_with(websocket, error_event("the avatar stream failed; see the service's log"), 1011)
        finally:
            self.running -= 1
            if opened is not None:
                opened.release()
            give_back()

    @staticmethod
    async def _start(websocket: WebSocket) -> StreamStart | None:
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=START_TIMEOUT_S)
        except TimeoutError:
            detail = f"no start message within {START_TIMEOUT_S:g} s"
            await ws.close_with(websocket, error_event(detail), ws.POLICY, detail)
            return None
        if message["type"] == "websocket.disconnect":
            return None
        try:
            return read_start(message.get("text"))
        except ValueError as exc:
            await ws.close_with(websocket, error_event(str(exc)), ws.POLICY, "bad start message")
            return None

    async def _open(self, websocket: WebSocket, start: StreamStart) -> OpenedAvatar | None:
        fields = {"portrait", "face", "avatar_engine", "fps", "size", "seed"}
        # The language is the voice's: this stream has none of its own (the agent speaks).
        options = VideoOptions(language="en", **start.model_dump(include=fields, exclude_none=True))
        try:
            return await asyncio.to_thread(open_avatar, options, self._services, options.portrait)
        except ServiceError as exc:
            code = ws.TRY_AGAIN_LATER if exc.status_code >= 500 else ws.POLICY
            await ws.close_with(websocket, error_event(exc.detail), code, exc.detail)
            return None
