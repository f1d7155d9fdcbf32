"""Motion continuity across segment boundaries: no step at a boundary larger than the largest step inside.

A segment boundary is where one sentence's frames meet the next's; a renderer that forgets its state there (head
pose, blink, mouth smoothing) makes the face jump on that frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.face import landmarks as lm


@dataclass(frozen=True)
class Continuity:
    boundary_step: float  # largest frame-to-frame change at a boundary
    inside_step: float  # largest frame-to-frame change within segments

    @property
    def smooth(self) -> bool:
        return self.boundary_step <= self.inside_step


def continuity(curve: np.ndarray, boundaries: list[int]) -> Continuity:
    """`boundaries`: indices of the first frame of each segment after the first."""
    steps = np.abs(np.diff(np.asarray(curve, dtype=np.float64)))  # steps[i]: frame i -> i + 1
    at = np.zeros(len(steps), bool)
    for frame in boundaries:
        if 0 < frame <= len(steps):
            at[frame - 1] = True
    inside = steps[~at & np.isfinite(steps)]
    edges = steps[at & np.isfinite(steps)]
    return Continuity(float(edges.max()) if edges.size else 0.0, float(inside.max()) if inside.size else 0.0)


def head_position(landmarks: list[np.ndarray | None], face_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre of the face oval per frame (x, y), in face widths: head sway and nod as the camera sees them."""
    xs, ys = [], []
    for points in landmarks:
        if points is None:
            xs.append(np.nan)
            ys.append(np.nan)
            continue
        center = points[list(lm.FACE_OVAL)].mean(axis=0)
        xs.append(center[0] / face_width)
        ys.append(center[1] / face_width)
    return np.array(xs), np.array(ys)
