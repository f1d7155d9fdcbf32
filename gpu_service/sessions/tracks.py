"""The session's two WebRTC tracks, in sync by construction: both read one timeline of ticks.

Video frame n and audio samples [n * 1920, (n + 1) * 1920) (at 25 fps, 48 kHz) come from the same tick, whichever
track asks first; each track paces itself on the wall clock from the same start. When the performer has nothing
ready, the last frame is repeated with silence (the picture never freezes to black, the timeline never stalls).
"""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack
from av.video.frame import PictureType

from common.media.video import yuv420_frame
from gpu_service.media.opus_voice import OpusVoice
from gpu_service.media.opus_voice import packet as opus_packet
from gpu_service.sessions.performer import OUTPUT_RATE, Performer

AUDIO_PTIME = 0.02  # 20 ms audio frames, as Opus sends them
AUDIO_SAMPLES = int(OUTPUT_RATE * AUDIO_PTIME)


class Timeline:
    """Ticks taken from the performer in order; what each track has not yet sent."""

    def __init__(self, performer: Performer) -> None:
        self.performer = performer
        self.fps = performer.fps
        self.start: float | None = None  # the wall-clock time of frame 0, set by the first track to ask
        self.taken = 0  # ticks taken from the performer
        self.frames: dict[int, av.VideoFrame] = {}  # frames taken, not yet sent by the video track
        self.audio = np.zeros(0, np.float32)  # samples taken, not yet sent by the audio track
        self.audio_offset = 0  # the timeline sample at audio[0]
        self.video_sent = 0
        self._last_frame = yuv420_frame(performer.session.photo)
        self._silence = np.zeros(OUTPUT_RATE // self.fps, np.float32)

    def clock(self) -> float:
        if self.start is None:
            self.start = time.monotonic()
        return self.start

    def take_until(self, ticks: int) -> None:
        while self.taken < ticks:
            tick = self.performer.next_tick()
            frame, audio = (tick.picture, tick.audio) if tick is not None else (self._last_frame, self._silence)
            if tick is not None and tick.on_sent is not None:
                tick.on_sent()  # taken by the track that sends it next (within a packet's time)
            self._last_frame = frame
            self.frames[self.taken] = frame
            self.audio = np.concatenate([self.audio, audio])
            self.taken += 1

    def hush(self) -> None:
        """The sound taken and not yet sent (at most a tick's) is silenced: the user may be starting to speak."""
        self.audio = np.zeros_like(self.audio)

    def video_frame(self, index: int) -> av.VideoFrame:
        self.take_until(index + 1)
        for old in [key for key in self.frames if key <= index]:
            frame = self.frames.pop(old)
        return frame

    def audio_samples(self, start: int, count: int) -> np.ndarray:
        self.take_until(-(-(start + count) * self.fps // OUTPUT_RATE))  # ticks covering the samples
        begin = start - self.audio_offset
        samples = self.audio[begin : begin + count]
        self.audio, self.audio_offset = self.audio[begin + count :], start + count
        return samples


async def _until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class AvatarVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline
        self.sent = 0

    async def recv(self) -> av.VideoFrame:
        timeline = self.timeline
        await _until(timeline.clock() + self.sent / timeline.fps)
        frame = timeline.video_frame(self.sent)  # the same picture may be sent again: encoded before the next recv()
        frame.pts, frame.time_base = self.sent, fractions.Fraction(1, timeline.fps)
        # The encoder marks a frame it must make a key frame of (the peer asked for one) and leaves the mark: sent
        # again, the picture would be a key frame each time.
        frame.pict_type = PictureType.NONE
        self.sent += 1
        timeline.video_sent = self.sent
        return frame


class AvatarAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline
        self.sent = 0  # samples
        self.opus: OpusVoice | None = None  # set once the peer agreed on Opus: packets are made here (opus_voice.py)

    async def recv(self) -> av.AudioFrame | av.Packet:
        timeline = self.timeline
        await _until(timeline.clock() + self.sent / OUTPUT_RATE)
        samples = timeline.audio_samples(self.sent, AUDIO_SAMPLES)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
        pts, self.sent = self.sent, self.sent + AUDIO_SAMPLES
        if self.opus is not None:
            payload = self.opus.cheap(pcm)
            if payload is None:
                payload = await asyncio.get_running_loop().run_in_executor(None, self.opus.encode, pcm)
            return opus_packet(payload, pts)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = OUTPUT_RATE, pts
        frame.time_base = fractions.Fraction(1, OUTPUT_RATE)
        return frame


def sends_opus(peer: RTCPeerConnection, track: MediaStreamTrack) -> bool:
    """Whether the codec negotiated for `track` (once the local description is set) is Opus."""
    for transceiver in peer.getTransceivers():
        if transceiver.sender.track is track:
            codecs = transceiver._codecs  # aiortc's negotiated list; the sender uses the first
            return bool(codecs) and codecs[0].mimeType.lower() == "audio/opus"
    return False
