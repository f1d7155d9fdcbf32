"""MP4 writing with PyAV: H.264 yuv420p + AAC, moov atom first (faststart), written atomically."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from common.files import atomic_target

AUDIO_CHUNK = 1024  # AAC frame size


def write_mp4(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int,
    audio: np.ndarray,
    sample_rate: int,
    *,
    crf: int = 20,
    preset: str = "veryfast",
) -> int:
    """Encode RGB uint8 frames (all the same even size) and mono float audio; return the number of frames.

    Frames are consumed one at a time, so memory stays flat however long the clip is. Readers never see a
    half-written file: it appears under `path` only once complete.
    """
    count = 0
    with (
        atomic_target(path, ".mp4.part") as partial,
        av.open(str(partial), "w", format="mp4", options={"movflags": "+faststart"}) as container,
    ):
        video = container.add_stream("libx264", rate=fps)
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(crf), "preset": preset}
        sound = container.add_stream("aac", rate=sample_rate)
        sound.layout = "mono"
        for image in frames:
            if count == 0:
                video.height, video.width = image.shape[:2]
            picture = av.VideoFrame.from_ndarray(image, format="rgb24")
            picture.pts, picture.time_base = count, Fraction(1, fps)
            container.mux(video.encode(picture))
            count += 1
        container.mux(video.encode())
        samples = np.asarray(audio, dtype=np.float32)
        for start in range(0, len(samples), AUDIO_CHUNK):
            chunk = av.AudioFrame.from_ndarray(
                samples[start : start + AUDIO_CHUNK].reshape(1, -1), format="flt", layout="mono"
            )
            chunk.sample_rate, chunk.pts = sample_rate, start
            container.mux(sound.encode(chunk))
        container.mux(sound.encode())
    return count


AAC_PRIMING = 1024  # samples FFmpeg's AAC encoder puts before the audio (an edit list tells players to skip them)


def remux_faststart(source: Path, path: Path) -> None:
    """Copy the streams of `source` (e.g. a fragmented MP4) into a plain MP4 with the index first, atomically.

    Demuxers ignore the edit lists of fragmented files, so the AAC priming shows up as audio starting at 0; moving
    it back before 0 makes the plain file's edit list skip it again, and sound lines up with the picture."""
    with (
        av.open(str(source)) as reader,
        atomic_target(path, ".mp4.part") as partial,
        av.open(str(partial), "w", format="mp4", options={"movflags": "+faststart"}) as writer,
    ):
        streams = {stream.index: writer.add_stream_from_template(stream) for stream in reader.streams}
        for packet in reader.demux():
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            if packet.stream.type == "audio" and packet.stream.codec_context.name == "aac":
                packet.dts -= AAC_PRIMING  # time base 1/rate
                packet.pts = packet.dts if packet.pts is None else packet.pts - AAC_PRIMING
            packet.stream = streams[packet.stream.index]
            writer.mux(packet)
