"""Image sizes read from the file's header, before anything decodes it: a small file can claim 30000x30000
pixels (a decompression bomb), and decoding it first would take gigabytes."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av

from common.errors import TooLarge, Unprocessable


def header_size(path: Path, name: str) -> tuple[int, int]:
    """(width, height) as the header declares them; 422 when the file is not an image at all."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return int(stream.codec_context.width), int(stream.codec_context.height)
    except (av.FFmpegError, IndexError) as exc:
        raise Unprocessable(f"'{name}' is not a readable image") from exc


def check_pixels(path: Path, name: str, max_pixels: int, setting: str) -> tuple[int, int]:
    """The header's size, or 413 naming `setting` when it is over `max_pixels`."""
    width, height = header_size(path, name)
    if width * height > max_pixels:
        raise TooLarge(f"'{name}' is {width}x{height} pixels; the limit is {max_pixels} ({setting})")
    return width, height


def thumbnail_jpeg(image: bytes, max_side: int) -> bytes:
    """A JPEG no larger than `max_side` on either side (never enlarged), aspect kept, alpha dropped."""
    with av.open(io.BytesIO(image), mode="r") as container:
        frame = next(container.decode(video=0))
    scale = min(1.0, max_side / max(frame.width, frame.height))
    width, height = (max(2, round(side * scale / 2) * 2) for side in (frame.width, frame.height))  # 4:2:0 wants even
    small = frame.reformat(width=width, height=height, format="yuvj420p", interpolation="AREA")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    return b"".join(bytes(packet) for packet in [*encoder.encode(small), *encoder.encode(None)])
