"""MP4 writing with PyAV: H.264 yuv420p + AAC, moov atom first (faststart), written atomically."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from common.storage.files import atomic_target

AUDIO_CHUNK = 1024  # AAC frame size


def i420(image: np.ndarray) -> np.ndarray:
    """An RGB image as I420 planes (Y, then U and V at half resolution), one (height * 3 / 2, width) array.
    OpenCV's conversion gives the same BT.601 limited-range values as swscale's in a third of the time (~0.4 vs
    ~1.4 ms at 512x512)."""
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420))


def yuv420_frame(image: np.ndarray) -> av.VideoFrame:
    """An RGB image as the encoder's yuv420p frame."""
    return av.VideoFrame.from_ndarray(i420(image), format="yuv420p")


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
            picture = yuv420_frame(image)
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
