"""Live sessions: a WebRTC peer per session, its avatar as a video and an audio track, commands on a data channel.

The media plane runs here, where the frames are made: frames are encoded once, for the peer, and never travel
raw between machines (the runtime only relays the offer and the answer). A session ends when the peer goes away,
on DELETE, after GPU_SESSIONS__IDLE_S without a command, or when the service stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Literal

import anyio
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdatachannel import RTCDataChannel
from prometheus_client import Histogram
from pydantic import ValidationError

from common.concurrency.event_log import EventLog
from common.errors import EngineUnavailable, NotFound, TooLarge, Unprocessable
from common.http.observability import LATENCY_BUCKETS
from contracts.gpu_service import (
    HistoryTurn,
    ReplyInfo,
    ReplyRequest,
    SessionAnswer,
    SessionCommand,
    SessionEvent,
    SessionInfo,
    SessionOffer,
    SessionTurn,
    TurnTimings,
    VideoOptions,
    conversation,
)
from gpu_service.dependencies import Services
from gpu_service.engines.asr.transcriber import Transcriber, Transcript
from gpu_service.engines.base import SpeechSegment
from gpu_service.media.opus_voice import OpusVoice
from gpu_service.orders import OpenedAvatar, open_avatar, read_conversation_ahead, resolve_speech, start_reply
from gpu_service.sessions.addresses import media_addresses, restrict_media_to
from gpu_service.sessions.listening import hear_promptly, listen
from gpu_service.sessions.performer import OUTPUT_RATE, Order, Performer
from gpu_service.sessions.slots import SessionSlots
from gpu_service.sessions.tracks import AvatarAudioTrack, AvatarVideoTrack, Timeline, sends_opus
from gpu_service.sessions.turn_clock import STAGES, Stage, TurnClock

log = logging.getLogger("gpu_service.sessions")
WATCH_S = 1.0
OFFER_HINT = (
    "Send the SDP of RTCPeerConnection.createOffer() with a video and an audio transceiver to receive (recvonly or "
    "sendrecv; Opus and VP8 or H.264) and a data channel"
)


@dataclass
class LiveSession:
    id: str
    offer: SessionOffer
    peer: RTCPeerConnection
    performer: Performer
    timeline: Timeline
    created: float = field(default_factory=time.monotonic)
    last_command: float = field(default_factory=time.monotonic)
    channel: RTCDataChannel | None = None
    turns: list[SessionTurn] = field(default_factory=list)  # the conversation (what the model sees, and GET shows)
    listener: asyncio.Task[None] | None = None  # the microphone's, when the peer sends one
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # orders being prepared
    reading_ahead: asyncio.Task[None] | None = None  # the model reading the conversation while the user speaks
    held: ExitStack = field(default_factory=ExitStack)  # engines kept loaded for the session's life
    turn_log: EventLog[SessionTurn] = field(default_factory=EventLog)  # `turns` as events, for followers

    def add_turn(self, turn: SessionTurn) -> None:
        self.turns.append(turn)
        self.turn_log.append(turn)

    def info(self) -> SessionInfo:
        state = {"connected": "connected", "closed": "closed", "failed": "closed"}.get(
            self.peer.connectionState, "connecting"
        )
        return SessionInfo(
            id=self.id,
            state=state,
            speaking=self.performer.speaking,
            video_frames=self.timeline.video_sent,
            audio_s=self.timeline.audio_offset / OUTPUT_RATE,
            turns=list(self.turns),
        )


@dataclass(frozen=True)
class Turn:
    """A message to act on: say its text, or chat (answer it); spoken when it was heard from the microphone."""

    kind: Literal["say", "chat"]
    text: str
    spoken: bool
    clock: TurnClock


class LiveSessions:
    def __init__(self, services: Services, slots: SessionSlots) -> None:
        self._services = services
        self._slots = slots
        self._turn_stages = Histogram(
            "gpu_service_live_turn_seconds",
            "A live turn's stages, from the end of the user's speech (spoken) or the message's arrival (chat, say)",
            ["kind", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=services.metrics.registry,
        )
        self._settings = services.settings.sessions
        self._sessions: dict[str, LiveSession] = {}
        self._watcher: asyncio.Task[None] | None = None
        restrict_media_to(media_addresses(self._settings.media_addresses, services.settings.host))

    def get(self, session_id: str) -> LiveSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"no live session '{session_id}'")
        return session

    async def open(self, offer: SessionOffer) -> SessionAnswer:
        if not offer.sdp.startswith("v=0") or "\nm=" not in offer.sdp:
            raise Unprocessable("the offer's sdp is not an SDP offer (it starts with 'v=0' and has m= lines)")
        give_back = self._slots.take()  # held while engines load and the answer is made, then by the session
        try:
            return await self._open(offer, give_back)
        except BaseException:
            give_back()
            raise

    def _avatar(self, offer: SessionOffer) -> OpenedAvatar:
        """In a worker thread: engines may load, the portrait is analysed."""
        resolve_speech(offer, self._services, None).release()  # an unknown voice or engine: refused before media
        return open_avatar(offer, self._services, offer.portrait)  # held by the session from here

    async def _open(self, offer: SessionOffer, give_back: Callable[[], None]) -> SessionAnswer:
        avatar = await asyncio.to_thread(self._avatar, offer)
        # The configured servers (none by default: never a public STUN server), then the offer's (the runtime's TURN
        # with this session's credentials).
        servers = [RTCIceServer(urls=url) for url in self._settings.ice_servers] + [
            RTCIceServer(urls=server.urls, username=server.username, credential=server.credential)
            for server in offer.ice_servers
        ]
        policy = RTCIceTransportPolicy.RELAY if offer.ice_transport_policy == "relay" else RTCIceTransportPolicy.ALL
        peer = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        performer = Performer(avatar.session)
        session = LiveSession(uuid.uuid4().hex, offer, peer, performer, Timeline(performer))
        session.held.callback(avatar.release)
        session.held.callback(give_back)
        try:
            self._wire(session)  # before the remote description: it announces the peer's microphone track
            await peer.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type=offer.type))
            peer.addTrack(AvatarVideoTrack(session.timeline))
            voice = AvatarAudioTrack(session.timeline)
            peer.addTrack(voice)
            await peer.setLocalDescription(await peer.createAnswer())
            voice.opus = OpusVoice() if sends_opus(peer, voice) else None
        except BaseException as exc:
            # Whatever aiortc raised (ValueError, AssertionError, a RuntimeError from a StopIteration, a cancelled
            # request), the performer's thread and the peer's sockets go with the refused offer.
            with anyio.CancelScope(shield=True):
                await _discard(session)
            if isinstance(exc, Exception):
                log.info("offer refused: %r", exc)
                raise Unprocessable(f"not a usable WebRTC offer: {_offer_problem(exc)}. {OFFER_HINT}") from exc
            raise
        self._sessions[session.id] = session
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        log.info("live session %s opened (%d running)", session.id, len(self._sessions))
        return SessionAnswer(id=session.id, sdp=peer.localDescription.sdp)

    async def close(self, session_id: str, reason: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        if session.listener is not None:
            session.listener.cancel()
        for task in [*session.tasks, *([session.reading_ahead] if session.reading_ahead else [])]:
            task.cancel()  # a reading ahead already under way ends in its thread by itself
        await _discard(session)
        log.info("live session %s closed: %s", session_id, reason)

    async def close_all(self) -> None:
        for session_id in list(self._sessions):
            await self.close(session_id, "the service stops")
        if self._watcher is not None:
            self._watcher.cancel()

    def _wire(self, session: LiveSession) -> None:
        loop = asyncio.get_running_loop()

        @session.peer.on("connectionstatechange")
        async def on_state() -> None:
            if session.peer.connectionState in ("failed", "closed"):
                await self.close(session.id, f"the peer's connection {session.peer.connectionState}")

        @session.peer.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":  # the user's microphone
                for receiver in session.peer.getReceivers():
                    if receiver.track is track:
                        hear_promptly(receiver)
                session.listener = asyncio.create_task(self._listen(session, track, _sender(session, loop)))

        @session.peer.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            session.channel = channel

            @channel.on("message")
            def on_message(message: str | bytes) -> None:
                session.last_command = time.monotonic()
                self._command(session, message, _sender(session, loop))

    async def _listen(
        self, session: LiveSession, track: MediaStreamTrack, send: Callable[[SessionEvent], None]
    ) -> None:
        asr = self._services.settings.asr

        def on_voice(heard: bool) -> None:  # maybe the user starts speaking: silent meanwhile
            if heard:
                session.performer.hold()
                session.timeline.hush()
            else:
                session.performer.resume()

        def on_speech() -> None:  # barge-in: the avatar stops the moment the user speaks
            session.last_command = time.monotonic()
            session.performer.interrupt()
            send(SessionEvent(type="listening"))
            self._read_ahead(session)

        def on_heard(transcript: Transcript, clock: TurnClock) -> None:
            session.last_command = time.monotonic()
            heard = SessionEvent(
                type="heard", text=transcript.text, language=transcript.language, timings=clock.timings()
            )
            send(heard)
            command = SessionCommand(type="chat", text=transcript.text).model_dump_json()
            self._command(session, command, send, clock)

        transcribers: list[Transcriber] = []

        def transcriber() -> Transcriber:  # loaded at the first utterance, then held while the session lasts
            if not transcribers:
                transcribers.append(self._services.engines.asr.hold(None, session.held))
            return transcribers[0]

        await listen(track, transcriber, session.offer.language, asr, on_voice, on_speech, on_heard)

    def _read_ahead(self, session: LiveSession) -> None:
        """While the user speaks, the model reads the conversation so far (a session's first reply would otherwise
        read the whole persona after the question is heard), in a worker thread, one such read at a time."""
        if session.reading_ahead is not None and not session.reading_ahead.done():
            return
        offer = session.offer
        turns = conversation(offer.system, self._history(session))

        async def read() -> None:
            try:
                await asyncio.to_thread(
                    read_conversation_ahead, offer.language, offer.llm_engine, turns, self._services
                )
            except Exception:  # the reply itself will say what is wrong with the model
                log.debug("the model could not read a live session's conversation ahead", exc_info=True)

        session.reading_ahead = asyncio.create_task(read())

    def _command(
        self,
        session: LiveSession,
        message: str | bytes,
        send: Callable[[SessionEvent], None],
        heard: TurnClock | None = None,
    ) -> None:
        """A data-channel message (or what was heard, with its turn's clock): parsed here, its speech prepared in a
        worker thread (engines may load)."""
        clock = heard or TurnClock("message")
        try:
            command = SessionCommand.model_validate_json(message)
        except ValidationError as exc:
            send(SessionEvent(type="error", detail=f"not a session command: {exc.errors()[0]['msg']}"))
            return
        if command.type == "interrupt":
            session.performer.interrupt()
            return
        if not command.text:
            send(SessionEvent(type="error", detail=f"a '{command.type}' message needs text"))
            return
        waiting = len(session.tasks) + session.performer.queued
        if waiting >= self._settings.max_queued:
            detail = (
                f"{waiting} messages already wait their turn, the most a session holds (GPU_SESSIONS__MAX_QUEUED); "
                "send this one after them, or interrupt"
            )
            send(SessionEvent(type="error", detail=detail))
            return
        turn = Turn(command.type, command.text, spoken=heard is not None, clock=clock)
        task = asyncio.create_task(self._prepare(session, turn, send))
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    async def _prepare(self, session: LiveSession, turn: Turn, send: Callable[[SessionEvent], None]) -> None:
        try:
            order = await asyncio.to_thread(self._order, session, turn, send)
        except (Unprocessable, NotFound, EngineUnavailable, TooLarge) as exc:
            send(SessionEvent(type="error", detail=exc.detail))
            return
        session.performer.say(order)

    def _order(self, session: LiveSession, turn: Turn, send: Callable[[SessionEvent], None]) -> Order:
        offer, text, clock = session.offer, turn.text, turn.clock
        speech_order = resolve_speech(offer, self._services, text if turn.kind == "say" else None)
        session.held.callback(speech_order.release)  # an order never performed (the session ended first) too
        speech: Iterator[SpeechSegment]
        info: ReplyInfo | None = None
        try:
            if turn.kind == "say":
                speech = speech_order.speak(text, first_clause=True)
            else:  # the reply's times (first token, first sentence) count from the turn's start
                request = self._reply_request(session, text)
                speech, info = start_reply(request, speech_order, self._services, clock.started_at)
                session.add_turn(SessionTurn(role="user", text=text, language=offer.language, spoken=turn.spoken))
        except BaseException:
            speech_order.release()
            raise

        said: list[str] = []  # sentences voiced
        shown: list[str] = []  # ... and sent to the peer
        voiced = threading.Event()

        def on_segment(sentence: str) -> None:  # in the performer's thread: the segment's audio is ready
            if not voiced.is_set():
                voiced.set()
                if info is not None:  # written by the model's thread before this sentence could be spoken
                    marks: list[tuple[Stage, float | None]] = [
                        ("first_token", info.first_token_s),
                        ("first_clause", info.first_sentence_s),
                    ]
                    for stage, seconds in marks:
                        if seconds is not None:
                            clock.mark(stage, clock.started_at + seconds)
                    clock.prompt_tokens_read = info.prompt_tokens_read
                clock.mark("first_audio")
            if sentence:
                said.append(sentence)

        def on_sentence_sent(sentence: str) -> None:  # its first frame goes out now: the page captions it
            shown.append(sentence)
            send(SessionEvent(type="sentence", text=sentence, timings=clock.timings() if len(shown) == 1 else None))

        def on_end(completed: bool) -> None:
            speech_order.release()
            if info is not None:  # the reply as far as it was said
                status = "done" if completed else "interrupted"
                reply = SessionTurn(role="assistant", text=" ".join(said), language=offer.language, status=status)
                session.add_turn(reply)
            timings = clock.timings()
            self._observe(turn, timings)
            send(SessionEvent(type="done" if completed else "interrupted", text=" ".join(said), timings=timings))

        send(SessionEvent(type="speaking", text=text if turn.kind == "say" else None, timings=clock.timings()))
        return Order(
            speech=speech,
            sample_rate=speech_order.engine.sample_rate,
            on_segment=on_segment,
            on_end=on_end,
            on_first_sent=lambda: clock.mark("first_packet"),
            on_sentence_sent=on_sentence_sent,
        )

    def _observe(self, turn: Turn, timings: TurnTimings) -> None:
        """Each stage the turn reached, into /metrics by kind of turn (spoken, chat typed, say)."""
        kind = "spoken" if turn.spoken else turn.kind
        for stage in STAGES:
            seconds = getattr(timings, f"{stage}_s")
            if seconds is not None:
                self._turn_stages.labels(kind=kind, stage=stage).observe(seconds)

    @staticmethod
    def _reply_request(session: LiveSession, text: str) -> ReplyRequest:
        """The session's conversation as a reply request: its persona, its turns so far, then `text`."""
        offer = session.offer
        return ReplyRequest(
            **offer.model_dump(include=set(VideoOptions.model_fields)),
            text=text,
            system=offer.system,
            history=LiveSessions._history(session),
            llm_engine=offer.llm_engine,
        )

    @staticmethod
    def _history(session: LiveSession) -> list[HistoryTurn]:
        return [HistoryTurn(role=turn.role, content=turn.text) for turn in session.turns if turn.text]

    async def _watch(self) -> None:
        """Drop peers that never connected and sessions idle past the limit."""
        while self._sessions:
            await asyncio.sleep(WATCH_S)
            now = time.monotonic()
            for session in list(self._sessions.values()):
                if (
                    session.peer.connectionState != "connected"
                    and now - session.created > self._settings.connect_timeout_s
                ):
                    await self.close(session.id, "the peer did not connect")
                elif now - session.last_command > self._settings.idle_s and not session.performer.speaking:
                    await self.close(session.id, f"idle for {self._settings.idle_s:.0f} s (GPU_SESSIONS__IDLE_S)")


async def _discard(session: LiveSession) -> None:
    """Stop the performer's thread, close the peer (one half set up by a bad offer may fail to close), let go of
    the engines and end the turns' followers."""
    await asyncio.to_thread(session.performer.close)
    try:
        await session.peer.close()
    except Exception:
        log.warning("closing a peer failed", exc_info=True)
    session.held.close()
    session.turn_log.close()


def _offer_problem(exc: Exception) -> str:
    """aiortc's reason in words where it gives none (a bare AssertionError, a StopIteration turned RuntimeError)."""
    if isinstance(exc, AssertionError | StopIteration) or (
        isinstance(exc, RuntimeError) and isinstance(exc.__cause__, StopIteration)
    ):
        return "its SDP is malformed or names no codec this service can use"
    return str(exc) or type(exc).__name__


def _sender(session: LiveSession, loop: asyncio.AbstractEventLoop) -> Callable[[SessionEvent], None]:
    """Send an event on the data channel from any thread (the performer calls back from its own)."""

    def send_now(event: SessionEvent) -> None:
        channel = session.channel
        if channel is not None and channel.readyState == "open":
            channel.send(json.dumps(event.model_dump(exclude_none=True)))

    def send(event: SessionEvent) -> None:
        loop.call_soon_threadsafe(send_now, event)

    return send
