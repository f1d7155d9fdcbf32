"""A WebRTC client for live sessions, as a browser would be (aiortc): receives the avatar's video and audio, sends
commands on a data channel and, optionally, a microphone. Used by the session tests and the live benchmark."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import av
import httpx
import numpy as np
import soxr
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtcpSrPacket

T = TypeVar("T")


def run_session(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a thread of its own: the caller's thread may already run a loop (Playwright's sync API does)."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@dataclass
class Peer:
    """A WebRTC client as a browser would be: receives video and audio, opens a data channel."""

    pc: RTCPeerConnection
    session_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    video: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (arrival, RGB frame)
    video_arrivals: list[float] = field(default_factory=list)  # every frame's, kept or not
    pictures: bool = True  # keep each frame in `video` (False: a light client, counting frames)
    decoded: bool = True  # video decoded (False: frames counted as they are assembled from their packets)
    audio: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (arrival, int16 samples at 48 kHz)
    channel: Any = None
    answer: dict[str, Any] = field(default_factory=dict)
    receivers: list[asyncio.Future[None]] = field(default_factory=list)
    # RTP timestamps of what arrived, and the sender's reports pairing an RTP timestamp with its clock (NTP):
    # what a browser aligns audio and video by when it plays them.
    stamps: dict[str, list[int]] = field(default_factory=lambda: {"audio": [], "video": []})
    reports: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: {"audio": [], "video": []})
    first_stamps: dict[str, Callable[[], int]] = field(default_factory=dict)

    def sender_time(self, kind: str, stamp: int, clock_rate: int) -> float:
        """The sender's clock (seconds) at a received frame's `stamp`, from its RTCP sender reports (median of all).
        aiortc counts received timestamps from the stream's first one; the reports carry the RTP timestamps."""
        assert self.reports[kind], f"no RTCP sender report for {kind} yet"
        first = self.first_stamps[kind]()
        origins = [ntp / 2**32 - _wrapped(rtp - first) / clock_rate for ntp, rtp in self.reports[kind]]
        return stamp / clock_rate + float(np.median(origins))

    def audio_between(self, start: float, end: float) -> np.ndarray:
        chunks = [samples for at, samples in self.audio if start <= at < end]
        return np.concatenate(chunks).astype(np.float32) / 32768 if chunks else np.zeros(0, np.float32)

    async def wait_event(self, *kinds: str, timeout_s: float = 30) -> dict[str, Any]:
        """The first event of one of these kinds (taken from `events`)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in self.events:
                if event["type"] in kinds:
                    self.events.remove(event)
                    return event
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {' or '.join(kinds)} event within {timeout_s} s; events: {self.events}")

    def send(self, **command: str) -> None:
        self.channel.send(json.dumps(command))


async def connect(
    url: str,
    microphone: MediaStreamTrack | None = None,
    video_codec: str | None = None,
    configuration: RTCConfiguration | None = None,
    pictures: bool = True,
    decoded: bool = True,
    **options: Any,
) -> Peer:
    """Options go into the offer's body; the gpu_service's take a size (small frames cost less here).
    `pictures`: False keeps only when each frame came (many sessions measured from one process: converting and
    keeping 512 px frames took more of the cores than the service it measured).
    `decoded`: False counts the video's frames as their packets are put together, without decoding them (a viewer
    decodes on their own machine; many decoders here share the cores with the service they measure).
    `video_codec` ("video/H264"): the codec this peer prefers, as a browser's setCodecPreferences says it.
    `configuration`: ICE servers and policy (none by default: loopback connects without)."""
    pc = RTCPeerConnection(configuration or RTCConfiguration(iceServers=[]))
    video = pc.addTransceiver("video", direction="recvonly")
    if video_codec is not None:
        capabilities = RTCRtpReceiver.getCapabilities("video")
        assert capabilities is not None
        video.setCodecPreferences([codec for codec in capabilities.codecs if codec.mimeType == video_codec])
    if microphone is None:
        pc.addTransceiver("audio", direction="recvonly")
    else:
        pc.addTrack(microphone)  # sendrecv: the avatar's voice comes back on the same transceiver
    channel = pc.createDataChannel("commands")
    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"sdp": pc.localDescription.sdp, "type": "offer", **options}
        response = await client.post(f"{url}/api/v1/sessions", json=body)
    assert response.status_code == 201, response.text
    answer = response.json()
    peer = Peer(pc, answer["id"], channel=channel, answer=answer, pictures=pictures and decoded, decoded=decoded)
    channel.on("message", lambda message: peer.events.append(json.loads(message)))

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        peer.receivers.append(asyncio.ensure_future(receive(track, peer)))

    for transceiver in pc.getTransceivers():
        _keep_sender_reports(transceiver.receiver, transceiver.kind, peer)
    if not decoded:
        _count_without_decoding(video.receiver, peer)

    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    deadline = time.monotonic() + 10
    while channel.readyState != "open" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert channel.readyState == "open"
    return peer


async def receive(track: MediaStreamTrack, peer: Peer) -> None:
    try:
        while True:
            frame = await track.recv()
            if isinstance(frame, av.VideoFrame):
                peer.video_arrivals.append(time.monotonic())
                if peer.pictures:
                    peer.video.append((peer.video_arrivals[-1], frame.to_ndarray(format="rgb24")))
                peer.stamps["video"].append(int(frame.pts or 0))
            elif isinstance(frame, av.AudioFrame):
                peer.audio.append((time.monotonic(), frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]))
                peer.stamps["audio"].append(int(frame.pts or 0))
    except MediaStreamError:
        return  # the session ended


def _wrapped(stamp: int) -> int:
    """A difference of 32-bit RTP timestamps (they start at random and wrap), as a signed number."""
    return (stamp + 2**31) % 2**32 - 2**31


def _keep_sender_reports(receiver: RTCRtpReceiver, kind: str, peer: Peer) -> None:
    """Notes each RTCP sender report the receiver handles (aiortc keeps only their NTP time in its stats)."""
    handle = receiver._handle_rtcp_packet

    async def noted(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket):
            peer.reports[kind].append((packet.sender_info.ntp_timestamp, packet.sender_info.rtp_timestamp))
        await handle(packet)

    receiver._handle_rtcp_packet = noted  # type: ignore[method-assign]
    # The RTP timestamp aiortc counts received frames' timestamps from (its receiver keeps it to itself).
    peer.first_stamps[kind] = lambda: int(receiver._RTCRtpReceiver__timestamp_mapper._origin)  # type: ignore[attr-defined]


class _CountedFrames:
    """Stands in for a video receiver's queue to its decoder: notes when each assembled frame came, decodes none.
    The end of the stream (None) still reaches the decoder's thread, which then ends the track as it would."""

    def __init__(self, decoder_queue: Any, peer: Peer) -> None:
        self._decoder_queue, self._peer = decoder_queue, peer

    def put(self, item: Any) -> None:
        if item is None:
            self._decoder_queue.put(None)
        else:
            self._peer.video_arrivals.append(time.monotonic())

    def get(self) -> Any:  # the decoder's thread, if it starts after this stands in: it sees only the end
        return self._decoder_queue.get()


def _count_without_decoding(receiver: RTCRtpReceiver, peer: Peer) -> None:
    name = "_RTCRtpReceiver__decoder_queue"  # aiortc's receiver hands assembled frames to its decoder through it
    setattr(receiver, name, _CountedFrames(getattr(receiver, name), peer))


def mouth_motion(frames: list[np.ndarray]) -> float:
    """How much the lower middle of the face changes from frame to frame (the mouth opens and closes)."""
    crops = np.array([frame[150:200, 100:156].astype(np.float32).mean(axis=2) for frame in frames])
    return float(np.abs(np.diff(crops, axis=0)).mean()) if len(crops) > 1 else 0.0


class Microphone(MediaStreamTrack):
    """The user's microphone: silence, until `speak()` plays a recording (48 kHz, 20 ms frames, in real time)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queued = np.zeros(0, np.float32)
        self._sent = 0
        self._start: float | None = None

    def speak(self, samples: np.ndarray, rate: int) -> None:
        self._queued = np.concatenate([self._queued, soxr.resample(samples, rate, 48_000).astype(np.float32)])

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._sent / 48_000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk, self._queued = self._queued[:960], self._queued[960:]
        chunk = np.pad(chunk, (0, 960 - len(chunk)))
        frame = av.AudioFrame.from_ndarray((chunk * 32767).astype("<i2").reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48_000, self._sent, fractions.Fraction(1, 48_000)
        self._sent += 960
        return frame
