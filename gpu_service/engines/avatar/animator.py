"""The embedded avatar engine: animate one photo with a landmark mesh driven by the mouth track.

Per frame: the lower lip, jaw and chin follow the jaw opening; the lip corners follow width and rounding; the
upper eyelids close for blinks; the whole face sways slightly. A ring of fixed anchors around the face keeps
everything outside it still. The open mouth's inside is drawn as a shaded cavity with the photo's own teeth, the
upper row riding on the upper lip and the lower row on the jaw.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common import face_landmarks as lm
from common.lru import LruCache
from gpu_service.assets import AssetReference
from gpu_service.engines.avatar.face import FaceAnalyzer, FaceGeometry
from gpu_service.engines.avatar.mesh_warp import PiecewiseAffineWarp
from gpu_service.engines.avatar.mouth import MotionPlanner, MouthTrack
from gpu_service.engines.base import PhonemeEvent

MAX_GAP_FACE_HEIGHTS = 0.12  # inner-lip gap at jaw_open = 1
UPPER_LIP_SHARE = 0.15  # the upper lip rises by this share of the jaw's drop
WIDTH_SPREAD = 0.08  # lip corners move by this share of their distance from the mouth centre at width = ±1
ROUND_NARROW = 0.12
HEAD_PX_PER_DEGREE = 0.005  # face widths per degree of yaw / pitch
ANCHOR_RING = 1.3  # fixed anchors on an ellipse this much larger than the face
LID_TRAVEL = 0.95  # share of the eye opening the upper lid covers at blink = 1
CAVITY_DEPTH_PX = 9.0  # distance from the lips at which the mouth's inside is at its darkest


@dataclass(frozen=True)
class MouthInterior:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, large enough for any mouth shape
    upper_teeth: np.ndarray  # RGBA crop of the photo above the inner-lip midline
    lower_teeth: np.ndarray  # RGBA crop below it
    lip_color: np.ndarray  # mean RGB of the lips, the base of the cavity's colours


@dataclass(frozen=True)
class Rig:
    image: np.ndarray
    vertices: np.ndarray  # (N, 2); landmark vertices first, then fixed anchors
    vertex_of: dict[int, int]  # landmark id -> vertex index
    warp: PiecewiseAffineWarp
    jaw: np.ndarray  # (N,) share of the jaw's displacement each vertex follows
    upper_lip: np.ndarray
    spread: np.ndarray  # (N,) horizontal pixels per unit of lip width
    lid_travel: np.ndarray  # (N,) downward pixels at blink = 1
    head: np.ndarray  # (N,) 1 on the face, 0 on anchors
    pivot: np.ndarray  # head rotation centre (chin)
    source_gap: float
    max_gap: float
    face_width: float
    interior: MouthInterior


def build_rig(face: FaceGeometry) -> Rig:
    points = face.landmarks
    size = face.image.shape[0]
    ids = sorted(
        set(
            lm.FACE_OVAL
            + lm.UPPER_INNER_LIP
            + lm.LOWER_INNER_LIP
            + lm.UPPER_OUTER_LIP
            + lm.LOWER_OUTER_LIP
            + lm.RIGHT_UPPER_LID
            + lm.RIGHT_LOWER_LID
            + lm.LEFT_UPPER_LID
            + lm.LEFT_LOWER_LID
            + lm.RIGHT_BROW
            + lm.LEFT_BROW
            + lm.NOSE
            + lm.CHEEKS_AND_CHIN
        )
    )
    oval = points[list(lm.FACE_OVAL)]
    face_width = float(np.ptp(oval[:, 0]))
    face_height = float(np.ptp(oval[:, 1]))
    center = oval.mean(axis=0)
    anchors, region = _anchors(center, face_width, face_height, size)
    vertices = np.concatenate([points[ids], anchors]).astype(np.float64)
    vertex_of = {landmark: index for index, landmark in enumerate(ids)}
    count = len(vertices)

    mouth = points[list(lm.INNER_LIP_RING)].mean(axis=0)
    offset = vertices - mouth
    horizontal = np.exp(-((offset[:, 0] / (0.38 * face_width)) ** 4))
    jaw = np.clip(offset[:, 1] / (0.05 * face_height), 0, 1) * horizontal
    upper_lip = np.zeros(count)
    for landmark in lm.LOWER_INNER_LIP + lm.LOWER_OUTER_LIP:
        jaw[vertex_of[landmark]] = 1.0
    for landmark in lm.UPPER_INNER_LIP + lm.UPPER_OUTER_LIP:
        jaw[vertex_of[landmark]] = 0.0
        upper_lip[vertex_of[landmark]] = 1.0
    for landmark in lm.MOUTH_CORNERS:
        jaw[vertex_of[landmark]], upper_lip[vertex_of[landmark]] = 0.5, 0.0
    near_mouth = np.exp(-((np.hypot(*offset.T) / (0.22 * face_width)) ** 2))
    spread = offset[:, 0] * near_mouth

    lid_travel = np.zeros(count)
    for upper, lower in ((lm.RIGHT_UPPER_LID, lm.RIGHT_LOWER_LID), (lm.LEFT_UPPER_LID, lm.LEFT_LOWER_LID)):
        for up, low in zip(upper[1:-1], lower[1:-1], strict=True):
            lid_travel[vertex_of[up]] = LID_TRAVEL * max(0.0, float(points[low, 1] - points[up, 1]))
    head = np.zeros(count)
    head[: len(ids)] = 1.0
    jaw[len(ids) :] = upper_lip[len(ids) :] = spread[len(ids) :] = 0.0

    upper_mid = points[list(lm.UPPER_INNER_LIP[4:7])].mean(axis=0)
    lower_mid = points[list(lm.LOWER_INNER_LIP[4:7])].mean(axis=0)
    max_gap = MAX_GAP_FACE_HEIGHTS * face_height
    return Rig(
        image=face.image,
        vertices=vertices,
        vertex_of=vertex_of,
        warp=PiecewiseAffineWarp(vertices, region),
        jaw=jaw,
        upper_lip=upper_lip,
        spread=spread,
        lid_travel=lid_travel,
        head=head,
        pivot=points[lm.CHIN_BOTTOM].astype(np.float64),
        source_gap=float(max(0.0, lower_mid[1] - upper_mid[1])),
        max_gap=max_gap,
        face_width=face_width,
        interior=_mouth_interior(face, max_gap),
    )


def _anchors(
    center: np.ndarray, width: float, height: float, size: int
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = center + np.stack([np.cos(angles) * width, np.sin(angles) * height], axis=1) * ANCHOR_RING / 2
    x0, y0 = np.floor(np.clip(ring.min(axis=0) - 2, 0, size - 1)).astype(int)
    x1, y1 = np.ceil(np.clip(ring.max(axis=0) + 2, 1, size)).astype(int)
    ring = np.clip(ring, (x0, y0), (x1 - 1, y1 - 1))
    border = [(x, y) for x in np.linspace(x0, x1 - 1, 5) for y in (y0, y1 - 1)]
    border += [(x, y) for y in np.linspace(y0, y1 - 1, 5)[1:-1] for x in (x0, x1 - 1)]
    anchors = np.unique(np.round(np.concatenate([ring, np.array(border)]), 1), axis=0)
    return anchors, (int(x0), int(y0), int(x1), int(y1))


def _soft_mask(mask: np.ndarray) -> np.ndarray:
    """Feather a 0/255 mask by a pixel, so pasted teeth have no jagged edge."""
    return np.asarray(cv2.GaussianBlur(mask.astype(np.uint8), (3, 3), 0), dtype=np.uint8)


def _contour_y(contour: np.ndarray, columns: np.ndarray) -> np.ndarray:
    order = np.argsort(contour[:, 0])
    return np.interp(columns, contour[order, 0], contour[order, 1])


def _mouth_interior(face: FaceGeometry, max_gap: float) -> MouthInterior:
    polygon = face.landmarks[list(lm.INNER_LIP_RING)]
    size = face.image.shape[0]
    margin = max_gap * 1.6
    x0, y0 = np.floor(np.clip(polygon.min(axis=0) - margin, 0, size)).astype(int)
    x1, y1 = np.ceil(np.clip(polygon.max(axis=0) + margin, 0, size)).astype(int)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon - (x0, y0)).astype(np.int32)], 255)
    crop = face.image[y0:y1, x0:x1]
    # Split the visible teeth along the curve halfway between the inner lips (a smile is an arc, not a line).
    upper_lip = face.landmarks[list(lm.UPPER_INNER_LIP)]
    lower_lip = face.landmarks[list(lm.LOWER_INNER_LIP)]
    columns = np.arange(x0, x1)
    midline = (_contour_y(upper_lip, columns) + _contour_y(lower_lip, columns)) / 2
    above = np.arange(y0, y1)[:, None] < midline[None, :]
    upper = np.dstack([crop, _soft_mask(np.where(above, mask, 0))])
    lower = np.dstack([crop, _soft_mask(np.where(above, 0, mask))])
    lips = np.zeros(face.image.shape[:2], np.uint8)
    cv2.fillPoly(
        lips, [np.round(face.landmarks[list(lm.UPPER_OUTER_LIP + lm.LOWER_OUTER_LIP[::-1])]).astype(np.int32)], 1
    )
    cv2.fillPoly(lips, [np.round(polygon).astype(np.int32)], 0)
    lip_color = face.image[lips.astype(bool)].mean(axis=0) if lips.any() else np.array([150.0, 70.0, 70.0])
    return MouthInterior((int(x0), int(y0), int(x1), int(y1)), upper, lower, lip_color.astype(np.float32))


def frame_vertices(rig: Rig, track: MouthTrack, index: int) -> np.ndarray:
    drop = track.jaw_open[index] * rig.max_gap - rig.source_gap
    moved = rig.vertices.copy()
    moved[:, 1] += drop * rig.jaw - UPPER_LIP_SHARE * max(drop, 0.0) * rig.upper_lip
    moved[:, 0] += rig.spread * (WIDTH_SPREAD * track.lip_width[index] - ROUND_NARROW * track.lip_round[index])
    moved[:, 1] += rig.lid_travel * track.blink[index]
    for upper, lower in zip(lm.UPPER_INNER_LIP[1:-1], lm.LOWER_INNER_LIP[1:-1], strict=True):
        top, bottom = rig.vertex_of[upper], rig.vertex_of[lower]
        moved[bottom, 1] = np.maximum(moved[bottom, 1], moved[top, 1])  # lips meet, never cross
    angle = np.deg2rad(track.roll[index])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    px = HEAD_PX_PER_DEGREE * rig.face_width
    swayed = (moved - rig.pivot) @ rotation.T + rig.pivot + (track.yaw[index] * px, -track.pitch[index] * px)
    return np.asarray(moved + (swayed - moved) * rig.head[:, None])


def render_frame(rig: Rig, track: MouthTrack, index: int, out: np.ndarray) -> None:
    """Draw frame `index` into `out` (a copy of the photo; only the face region is rewritten)."""
    moved = frame_vertices(rig, track, index)
    rig.warp.apply(rig.image, moved, out)
    _draw_mouth_interior(rig, moved, out)


def _cavity(mask: np.ndarray, polygon: np.ndarray, lip_color: np.ndarray) -> np.ndarray:
    """The inside of an open mouth: lip-coloured at the edges, dark in depth, a tongue low at the back."""
    depth = np.minimum(cv2.distanceTransform(mask, cv2.DIST_L2, 3) * (1 / CAVITY_DEPTH_PX), 1.0)
    height, width = mask.shape
    span_x = max(np.ptp(polygon[:, 0]) * 0.35, 1.0)
    span_y = max(np.ptp(polygon[:, 1]) * 0.35, 1.0)
    across = ((np.arange(width, dtype=np.float32) - polygon[:, 0].mean()) / span_x) ** 2
    bottom = polygon[:, 1].max() - 0.3 * np.ptp(polygon[:, 1])  # just above the lower teeth
    down = ((np.arange(height, dtype=np.float32) - bottom) / span_y) ** 2
    tongue = np.clip(1 - across[None, :] - down[:, None], 0, 1) * 0.7
    # Brightness relative to the lips: 0.55 at the lips, 0.28 in the throat, the tongue at 0.6.
    shade = (0.55 - 0.27 * depth) * (1 - tongue) + 0.6 * tongue
    return np.asarray(shade[..., None] * lip_color, dtype=np.float32)


def _draw_mouth_interior(rig: Rig, moved: np.ndarray, out: np.ndarray) -> None:
    """Paint the open mouth over the warped frame, working only in the box around the current lips."""
    inner = rig.interior
    ring = [rig.vertex_of[landmark] for landmark in lm.INNER_LIP_RING]
    lips = moved[ring]
    x0, y0 = np.maximum(np.floor(lips.min(axis=0)).astype(int) - 2, inner.box[:2])
    x1, y1 = np.minimum(np.ceil(lips.max(axis=0)).astype(int) + 3, inner.box[2:])
    if x1 <= x0 or y1 <= y0:
        return
    polygon = lips - (x0, y0)
    height, width = y1 - y0, x1 - x0
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    if not mask.any():
        return
    cavity = _cavity(mask, polygon, inner.lip_color)
    for layer, lip in ((inner.upper_teeth, lm.UPPER_INNER_LIP), (inner.lower_teeth, lm.LOWER_INNER_LIP)):
        ids = [rig.vertex_of[landmark] for landmark in lip[4:7]]
        shift = moved[ids].mean(axis=0) - rig.vertices[ids].mean(axis=0)
        # The teeth layers are stored for the whole interior box; place them in this smaller one.
        offset = shift - (x0 - inner.box[0], y0 - inner.box[1])
        translation = np.array([[1, 0, offset[0]], [0, 1, offset[1]]], dtype=np.float32)
        placed = cv2.warpAffine(layer, translation, (width, height))
        alpha = placed[..., 3:4].astype(np.float32) * (1 / 255)
        cavity += (placed[..., :3] - cavity) * alpha
    alpha = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] * (1 / 255)
    region = out[y0:y1, x0:x1]
    region[:] = (region + (cavity - region) * alpha).astype(np.uint8)


class AnimatorSession:
    """One portrait at one size and frame rate, animated segment after segment on one motion clock."""

    def __init__(self, rig: Rig, fps: int, size: int, seed: int) -> None:
        self.fps, self.size, self.photo = fps, size, rig.image
        self._rig = rig
        self._planner = MotionPlanner(fps, seed)

    def speak(self, samples: np.ndarray, sample_rate: int, phonemes: list[PhonemeEvent] | None) -> Iterator[np.ndarray]:
        return self._frames(self._planner.speech(samples, sample_rate, phonemes))

    def idle(self, seconds: float) -> Iterator[np.ndarray]:
        return self._frames(self._planner.silence(round(seconds * self.fps)))

    def _frames(self, track: MouthTrack) -> Iterator[np.ndarray]:
        for index in range(track.frames):
            canvas = self._rig.image.copy()
            render_frame(self._rig, track, index, canvas)
            yield canvas


class AnimatorEngine:
    name = "animator"

    def __init__(self, faces: FaceAnalyzer, memory_items: int = 64) -> None:
        self._faces = faces
        self._rigs: LruCache[tuple[Path, int], Rig] = LruCache(memory_items)
        self._lock = threading.Lock()

    def rig(self, portrait: AssetReference, size: int) -> Rig:
        face = self._faces.analyze(portrait, size)
        key = (portrait.path, size)
        with self._lock:
            cached = self._rigs.get(key)
            if cached is None or cached.image is not face.image:
                cached = build_rig(face)
                self._rigs.put(key, cached)
            return cached

    def open_session(self, portrait: AssetReference, *, fps: int, size: int, seed: int = 0) -> AnimatorSession:
        return AnimatorSession(self.rig(portrait, size), fps, size, seed)
