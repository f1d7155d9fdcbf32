"""The parts of voice matching, each of which can be kept or left out (read by the settings without loading WORLD)."""

from __future__ import annotations

from typing import Literal

MatchPart = Literal["f0", "eq", "warp"]  # median pitch, spectral EQ, formant warp
ALL_PARTS: frozenset[MatchPart] = frozenset(("f0", "eq", "warp"))
