"""Per-frame face measurements from a video, by face mesh: mouth opening and eye openness."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from common.face import landmarks as lm
from common.face.geometry import eye_open_ratios
from common.face.mesh import FaceMesh


@dataclass(frozen=True)
class FaceTracks:
    mouth_open: np.ndarray  # inner-lip gap / face height; NaN where no face was found
    eye_open: np.ndarray  # eye aspect ratio (lid gap / eye width), both eyes averaged; NaN where no face
    landmarks: list[np.ndarray | None]


def mouth_opening(points: np.ndarray) -> float:
    upper = points[list(lm.UPPER_INNER_LIP[4:7])].mean(axis=0)
    lower = points[list(lm.LOWER_INNER_LIP[4:7])].mean(axis=0)
    face_height = float(np.ptp(points[list(lm.FACE_OVAL), 1]))
    return float(np.linalg.norm(lower - upper) / face_height)


def eye_openness(points: np.ndarray) -> float:
    return float(np.mean(eye_open_ratios(points)))


def track_faces(frames: Iterable[np.ndarray]) -> FaceTracks:
    mesh = FaceMesh(static_images=False)
    mouth, eyes, found = [], [], []
    try:
        for frame in frames:
            points = mesh.landmarks(frame)
            found.append(points)
            mouth.append(np.nan if points is None else mouth_opening(points))
            eyes.append(np.nan if points is None else eye_openness(points))
    finally:
        mesh.close()
    return FaceTracks(np.array(mouth), np.array(eyes), found)


def count_blinks(eye_open: np.ndarray, closed_below: float = 0.55) -> int:
    """Runs of frames where the eyes are under `closed_below` of their typical (median) openness."""
    typical = np.nanmedian(eye_open)
    closed = np.nan_to_num(eye_open, nan=typical) < closed_below * typical
    return int(np.count_nonzero(closed[1:] & ~closed[:-1]) + int(closed[0]))
