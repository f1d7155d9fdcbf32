"""A finished stream made seekable: its packets copied into a plain MP4 with the index first (no re-encoding).

Kept apart from the MP4 writer: the runtime needs this, and not the writer's OpenCV.
"""

from __future__ import annotations

from pathlib import Path

import av

from common.storage.files import atomic_target

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
