"""Fragmented MP4 (H.264 + AAC) written as a stream of bytes: an `ftyp`+`moov` header, then `moof`+`mdat`
fragments, each starting at a keyframe. A client can play it as it arrives (`ffplay -`, Media Source Extensions).

A keyframe is forced at every segment start and after `fragment_s` within a segment, so a fragment is never longer
than that; the first fragment is shorter still (`first_fragment_s`), so playback can start sooner. x264 runs with
`zerolatency` (no B-frames, no lookahead): a frame's packet comes out as soon as it is encoded.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from common.media.video import yuv420_frame

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


class _Sink:
    """The muxer's output: a non-seekable byte sink that the writer drains after each frame."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._pieces.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self._pieces = b"".join(self._pieces), []
        return out


class FragmentedMp4Writer:
    def __init__(
        self,
        fps: int,
        size: int,
        sample_rate: int,
        *,
        fragment_s: float = 0.5,
        first_fragment_s: float = 0.2,
        crf: int = 21,
        preset: str = "superfast",  # a live stream: speed over the last ~15 % of bitrate
    ) -> None:
        self.fps, self.sample_rate = fps, sample_rate
        self.frames = 0
        self._fragment_frames = max(1, round(fragment_s * fps))
        self._first_fragment_frames = max(1, round(first_fragment_s * fps))
        self._since_key = 0
        self._audio_pts = 0
        self._sink = _Sink()
        # An edit list hides AAC's priming samples; without one the muxer stretches the first video frame instead.
        options = {"movflags": MOVFLAGS, "flush_packets": "1", "use_editlist": "1"}
        self._container = av.open(self._sink, "w", format="mp4", options=options)
        video = self._container.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        # Keyframes only where this writer asks for them (segment starts, fragment length).
        video.options = {
            "crf": str(crf),
            "preset": preset,
            "tune": "zerolatency",
            "x264-params": "keyint=100000:min-keyint=100000:scenecut=0:forced-idr=1",
        }
        audio = self._container.add_stream("aac", rate=sample_rate)
        audio.layout = "mono"
        self._video, self._audio = video, audio
        self._closed = False

    def write(self, image: np.ndarray, audio: np.ndarray, *, segment_start: bool = False) -> bytes:
        """Encode one RGB frame and the audio that plays during it; the bytes of any fragment now complete."""
        picture = yuv420_frame(image)
        picture.pts, picture.time_base = self.frames, Fraction(1, self.fps)
        first_ends = self.frames == self._first_fragment_frames  # a short first fragment: playback starts sooner
        if segment_start or self.frames == 0 or first_ends or self._since_key >= self._fragment_frames:
            picture.pict_type = av.video.frame.PictureType.I
            self._since_key = 0
        self._since_key += 1
        self.frames += 1
        self._container.mux(self._video.encode(picture))
        if len(audio):
            sound = av.AudioFrame.from_ndarray(
                np.asarray(audio, np.float32).reshape(1, -1), format="flt", layout="mono"
            )
            sound.sample_rate, sound.pts = self.sample_rate, self._audio_pts
            self._audio_pts += len(audio)
            self._container.mux(self._audio.encode(sound))
        return self._sink.drain()

    def close(self) -> bytes:
        """Flush the encoders; the last fragment's bytes."""
        if self._closed:
            return b""
        self._closed = True
        self._container.mux(self._video.encode())
        self._container.mux(self._audio.encode())
        self._container.close()
        return self._sink.drain()

    def abort(self) -> None:
        """Give up without flushing (the stream failed or its client left)."""
        if not self._closed:
            self._closed = True
            self._container.close()
