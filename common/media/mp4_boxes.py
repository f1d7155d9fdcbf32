"""Top-level MP4 boxes read from a byte stream as it arrives: how a client knows a fragment is complete.

A fragmented MP4 stream is `ftyp`, `moov`, then `moof`+`mdat` pairs; a fragment can be played once its `mdat`
has fully arrived. Used by the command-line client, the evaluator, the benchmarks and the tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    kind: str  # four characters: ftyp, moov, moof, mdat, ...
    data: bytes  # the whole box, header included


class BoxReader:
    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[Box]:
        """The boxes completed by `data`, in order."""
        self._pending += data
        boxes = []
        while len(self._pending) >= 8:
            size, kind = struct.unpack(">I4s", self._pending[:8])
            header = 8
            if size == 1:  # a 64-bit size follows the type
                if len(self._pending) < 16:
                    break
                size, header = struct.unpack(">Q", self._pending[8:16])[0], 16
            if size < header or len(self._pending) < size:
                break  # size 0 ("to the end of the file") never completes in a stream, nor does a partial box
            boxes.append(Box(kind.decode("latin-1"), bytes(self._pending[:size])))
            del self._pending[:size]
        return boxes

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)
