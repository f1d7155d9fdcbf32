"""The embedded avatar engine: animate one photo with a landmark mesh driven by the mouth track.

Per frame: the lower lip, jaw and chin follow the jaw opening; the lip corners follow width and rounding; the
whole face sways slightly; for blinks the upper lids come down over the eyes, drawn inside each eye's opening only
(glasses, their reflections and the skin around the eyes stay as the photo has them). A ring of fixed anchors around
the face keeps everything outside it still. The open mouth's inside is drawn as a shaded cavity with the photo's own
teeth (or, when the photo shows none, teeth and a tongue in colours taken from the face), the upper row riding on the
upper lip and the lower row on the jaw. In silence every vertex is where the photo has it: the mouth at rest is the
photo's. A frame that would barely differ from the last one drawn (idle motion moves the face ~0.02 px a frame) is
that frame again, so an idle face costs a drawing every few frames.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.concurrency.lru import LruCache
from common.face import landmarks as lm
from gpu_service.assets import AssetReference
from gpu_service.engines.avatar import drawn_mouth
from gpu_service.engines.avatar.drawn_mouth import DrawnMouth
from gpu_service.engines.avatar.face import FaceAnalyzer, FaceGeometry
from gpu_service.engines.avatar.mesh_warp import PiecewiseAffineWarp, RasterMemory
from gpu_service.engines.avatar.mouth import MotionPlanner, MouthTrack
from gpu_service.engines.base import AudioContext, PhonemeEvent

MAX_GAP_FACE_HEIGHTS = 0.12  # inner-lip gap at jaw_open = 1
UPPER_LIP_SHARE = 0.15  # the upper lip rises by this share of the jaw's drop
WIDTH_SPREAD = 0.08  # lip corners move by this share of their distance from the mouth centre at width = ±1
ROUND_NARROW = 0.12
HEAD_PX_PER_DEGREE = 0.005  # face widths per degree of yaw / pitch
ANCHOR_RING = 1.3  # fixed anchors on an ellipse this much larger than the face
LID_TRAVEL = 1.0  # share of the eye opening the upper lid covers at blink = 1: all (a sliver showed eye-white specks)
LASH_SHARE = 0.35  # the lash line above the upper lid margin, as a share of the eye's opening: the lid covers it too
LASH_MIN_PX = 1.5
LID_SKIN_SHARE = 0.5  # the band of lid skin above the lashes that a closed lid shows, as a share of the opening
CAVITY_DEPTH_PX = 9.0  # distance from the lips at which the mouth's inside is at its darkest
TEETH_SHOWN_GAP = 0.02  # face heights: a photo whose lips are parted less than this shows no teeth of its own
TEETH_BRIGHTER = 1.2  # ... nor one whose mouth has no pixels this much brighter than its lips (a mesh can read
# closed lips seen from the side as parted)
INNER_CORNERS = (lm.UPPER_INNER_LIP[0], lm.UPPER_INNER_LIP[-1])  # seen from the side, the ring folds past these
INTERIOR_FADE_PX = 2.0  # the drawn inside fades in over the first pixels the mouth opens beyond the photo's
# A frame whose vertices all lie this close to the last drawn frame's (lids and mouth as they were) is shown as that
# frame: 27 % of idle frames are drawn, and the frames shown differ from exact ones by 64 dB PSNR (30 s of idle).
STILL_PX = 0.1
EYES = (
    (lm.RIGHT_UPPER_LID, lm.RIGHT_LOWER_LID),
    (lm.LEFT_UPPER_LID, lm.LEFT_LOWER_LID),
)  # lid margins, corner to corner


@dataclass(frozen=True)
class MouthInterior:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, large enough for any mouth shape
    upper_teeth: np.ndarray  # RGBA crop of the photo above the inner-lip midline
    lower_teeth: np.ndarray  # RGBA crop below it
    lip_color: np.ndarray  # mean RGB of the lips, the base of the cavity's colours
    drawn: DrawnMouth | None  # the photo shows no teeth: the inside is drawn instead of taken from it


@dataclass(frozen=True)
class Rig:
    image: np.ndarray
    vertices: np.ndarray  # (N, 2); landmark vertices first, then fixed anchors
    vertex_of: dict[int, int]  # landmark id -> vertex index
    warp: PiecewiseAffineWarp
    jaw: np.ndarray  # (N,) share of the jaw's displacement each vertex follows
    upper_lip: np.ndarray
    spread: np.ndarray  # (N,) horizontal pixels per unit of lip width
    head: np.ndarray  # (N,) 1 on the face, 0 on anchors
    fixed: np.ndarray  # (N,) vertices placed exactly (lips, lids, anchors); the others may yield to unfold
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
    on_face = len(ids)

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

    head = np.zeros(count)
    head[:on_face] = 1.0
    fixed = np.zeros(count, dtype=bool)
    placed = lm.UPPER_INNER_LIP + lm.LOWER_INNER_LIP + lm.UPPER_OUTER_LIP + lm.LOWER_OUTER_LIP + lm.MOUTH_CORNERS
    fixed[[vertex_of[landmark] for landmark in placed + tuple(lid for pair in _lid_pairs() for lid in pair)]] = True
    fixed[len(ids) :] = True
    jaw[len(ids) :] = upper_lip[len(ids) :] = spread[len(ids) :] = 0.0

    upper_mid = points[list(lm.UPPER_INNER_LIP[4:7])].mean(axis=0)
    lower_mid = points[list(lm.LOWER_INNER_LIP[4:7])].mean(axis=0)
    max_gap = MAX_GAP_FACE_HEIGHTS * face_height
    source_gap = float(max(0.0, lower_mid[1] - upper_mid[1]))
    return Rig(
        image=face.image,
        vertices=vertices,
        vertex_of=vertex_of,
        warp=PiecewiseAffineWarp(vertices, region),
        jaw=jaw,
        upper_lip=upper_lip,
        spread=spread,
        head=head,
        fixed=fixed,
        pivot=points[lm.CHIN_BOTTOM].astype(np.float64),
        source_gap=source_gap,
        max_gap=max_gap,
        face_width=face_width,
        interior=_mouth_interior(face, max_gap, source_gap, face_height),
    )


def _lid_pairs() -> list[tuple[int, int]]:
    """(upper, lower) lid-margin landmarks facing each other, both eyes, corners left out."""
    return [(up, low) for upper, lower in EYES for up, low in zip(upper[1:-1], lower[1:-1], strict=True)]


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


def _mouth_interior(face: FaceGeometry, max_gap: float, source_gap: float, face_height: float) -> MouthInterior:
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
    lips = np.zeros(face.image.shape[:2], np.uint8)
    cv2.fillPoly(
        lips, [np.round(face.landmarks[list(lm.UPPER_OUTER_LIP + lm.LOWER_OUTER_LIP[::-1])]).astype(np.int32)], 1
    )
    cv2.fillPoly(lips, [np.round(polygon).astype(np.int32)], 0)
    lip_color = face.image[lips.astype(bool)].mean(axis=0) if lips.any() else np.array([150.0, 70.0, 70.0])
    box = (int(x0), int(y0), int(x1), int(y1))
    # Teeth show in the middle of the mouth; seen from the side, the ring's far end can take in the background.
    left, right = sorted(float(face.landmarks[corner, 0]) for corner in INNER_CORNERS)
    middle = np.abs(np.arange(x0, x1) - (left + right) / 2) <= 0.3 * (right - left)
    inside = crop[mask.astype(bool) & middle[None, :]].astype(np.float32).mean(axis=1)
    bright = float(np.percentile(inside, 90)) if inside.size else 0.0
    above = np.arange(y0, y1)[:, None] < midline[None, :]
    upper = np.dstack([crop, _soft_mask(np.where(above, mask, 0))])
    lower = np.dstack([crop, _soft_mask(np.where(above, 0, mask))])
    drawn = None
    if source_gap < TEETH_SHOWN_GAP * face_height or bright < TEETH_BRIGHTER * float(lip_color.mean()):
        # The photo's inside is lips: cut into rows it made dark notches. The inside is drawn instead.
        rest_gap = np.clip(_contour_y(lower_lip, columns) - _contour_y(upper_lip, columns), 0, None)
        corners = (left, right)
        outline = np.zeros((y1 - y0, x1 - x0), np.uint8)
        hull = cv2.convexHull(np.round(face.landmarks - (x0, y0)).astype(np.int32))  # nose and lips included
        cv2.fillConvexPoly(outline, hull, 255)
        on_face = cv2.GaussianBlur(cv2.erode(outline, np.ones((5, 5), np.uint8)), (5, 5), 0).astype(np.float32) / 255
        drawn = DrawnMouth(
            columns=columns.astype(np.float64),
            rest_gap=rest_gap,
            corners=corners,
            widest=max_gap,
            lip_color=lip_color.astype(np.float32),
            teeth_color=_teeth_color(face, lip_color),
            on_face=on_face,
            origin=(int(x0), int(y0)),
        )
    return MouthInterior(box, upper, lower, lip_color.astype(np.float32), drawn)


def _teeth_color(face: FaceGeometry, lip_color: np.ndarray) -> np.ndarray:
    """The whites of the eyes, a little warmed by the lips and shaded by the mouth; brightened skin without eyes."""
    eyes = np.zeros(face.image.shape[:2], np.uint8)
    for upper, lower in EYES:
        ring = face.landmarks[list(upper) + list(lower[-2:0:-1])]
        cv2.fillPoly(eyes, [np.round(ring).astype(np.int32)], 1)
    pixels = face.image[eyes.astype(bool)].astype(np.float32)
    if len(pixels) >= 20:
        brightness = pixels.mean(axis=1)
        white = pixels[brightness >= np.percentile(brightness, 75)].mean(axis=0)
    else:
        white = np.minimum(lip_color * 1.6 + 40, 235)
    return np.asarray((0.8 * white + 0.2 * lip_color) * 0.9, dtype=np.float32)


def lip_gap(rig: Rig, track: MouthTrack, index: int) -> float:
    """The inner-lip gap of frame `index`.

    In silence, the photo's own (its rest shape). Within speech the lips meet when the jaw is closed, as a
    speaker's do between sounds: on a photo that shows its teeth they close from the photo's parting; on one that
    shows none the photo's lips already meet, whatever gap the face mesh reads between them.
    """
    widest = max(rig.max_gap, rig.source_gap)
    shut = rig.source_gap if rig.interior.drawn is not None else 0.0
    jaw, closure, speaking = track.jaw_open[index], track.lip_closure[index], track.speaking[index]
    resting = rig.source_gap + jaw * (widest - rig.source_gap)
    talking = shut + jaw * (widest - shut)
    talking -= closure * (talking - shut)
    return float(speaking * talking + (1 - speaking) * resting)


def frame_vertices(rig: Rig, track: MouthTrack, index: int) -> np.ndarray:
    drop = lip_gap(rig, track, index) - rig.source_gap
    moved = rig.vertices.copy()
    moved[:, 1] += drop * rig.jaw - UPPER_LIP_SHARE * max(drop, 0.0) * rig.upper_lip
    moved[:, 0] += rig.spread * (WIDTH_SPREAD * track.lip_width[index] - ROUND_NARROW * track.lip_round[index])
    for upper, lower in zip(lm.UPPER_INNER_LIP[1:-1], lm.LOWER_INNER_LIP[1:-1], strict=True):
        top, bottom = rig.vertex_of[upper], rig.vertex_of[lower]
        moved[bottom, 1] = np.maximum(moved[bottom, 1], moved[top, 1])  # lips meet, never cross
    angle = np.deg2rad(track.roll[index])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    px = HEAD_PX_PER_DEGREE * rig.face_width
    swayed = (moved - rig.pivot) @ rotation.T + rig.pivot + (track.yaw[index] * px, -track.pitch[index] * px)
    return np.asarray(moved + (swayed - moved) * rig.head[:, None])


@dataclass(frozen=True)
class Pose:
    """What one frame shows: where the mesh's vertices are, how far the lids are down, how much of the drawn mouth
    interior shows (0: the photo's own mouth, at rest and when the lips meet)."""

    moved: np.ndarray
    blink: float
    interior: float

    def close_to(self, other: Pose) -> bool:
        """Drawn, the two would look the same (STILL_PX)."""
        return (
            self.blink == other.blink
            and self.interior == other.interior
            and float(np.abs(self.moved - other.moved).max()) <= STILL_PX
        )


def frame_pose(rig: Rig, track: MouthTrack, index: int) -> Pose:
    moved = rig.warp.unfold(frame_vertices(rig, track, index), rig.fixed)
    beyond_rest = lip_gap(rig, track, index) - rig.source_gap
    return Pose(moved, float(track.blink[index]), min(1.0, max(0.0, beyond_rest / INTERIOR_FADE_PX)))


def draw_pose(rig: Rig, pose: Pose, out: np.ndarray, memory: RasterMemory | None = None) -> None:
    """Draw `pose` into `out` (a copy of the photo; only the face region is rewritten). `memory`: the session's, so
    that frames that barely move share a raster."""
    rig.warp.apply(rig.image, pose.moved, out, memory)
    if pose.blink > 0:
        close_lids(rig, pose.moved, out, pose.blink)
    if pose.interior > 0:
        _draw_mouth_interior(rig, pose.moved, out, pose.interior)


def render_frame(rig: Rig, track: MouthTrack, index: int, out: np.ndarray, memory: RasterMemory | None = None) -> None:
    """Draw frame `index` of `track` into `out` (see draw_pose)."""
    draw_pose(rig, frame_pose(rig, track, index), out, memory)


@dataclass(frozen=True)
class EyeLines:
    margin: np.ndarray  # the upper lid margin, corner to corner
    lashes: np.ndarray  # the top of the lash line above it (corners shared)
    lower: np.ndarray  # the lower lid margin, corner to corner

    @property
    def opening(self) -> np.ndarray:
        """The polygon a blink may redraw: from the lower margin up to the top of the lashes."""
        return np.concatenate([self.lashes, self.lower[-2:0:-1]])


def eye_lines(rig: Rig, moved: np.ndarray) -> list[EyeLines]:
    """Both eyes' lid lines where `moved` places them. The lash line (LASH_SHARE of the opening above the margin) is
    inside what a blink redraws, so that the lashes come down with the lid rather than stay above it as a line."""
    found = []
    for upper, lower in EYES:
        margin = moved[[rig.vertex_of[landmark] for landmark in upper]]
        bottom = moved[[rig.vertex_of[landmark] for landmark in lower]]
        lashes = margin.copy()
        lashes[1:-1, 1] -= np.maximum(LASH_MIN_PX, LASH_SHARE * np.maximum(bottom[1:-1, 1] - margin[1:-1, 1], 0.0))
        found.append(EyeLines(margin, lashes, bottom))
    return found


def close_lids(rig: Rig, moved: np.ndarray, out: np.ndarray, blink: float) -> None:
    """Bring each upper lid down over its eye by `blink` (0..1) of the opening, in the pixels inside the opening only.

    Per column, the lashes lead the lid down at their own size and a band of lid skin above them stretches from the
    top of the opening to them: a dark line that descends, then the lid's skin over the eye with the lashes at its
    lower edge. Nothing outside the opening is touched: stretching the mesh above the
    eye instead smeared glasses' rims and reflections for the length of every blink.
    """
    height, width = out.shape[:2]
    for eye in eye_lines(rig, moved):
        opening = eye.opening
        x0, y0 = np.floor(opening.min(axis=0)).astype(int)
        x1, y1 = np.ceil(opening.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0 + 1:
            continue
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(inside, [np.round((opening - (x0, y0)) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        columns = np.arange(x0, x1, dtype=np.float64)
        top = _contour_y(eye.lashes, columns)  # where the lid's band starts, in the frame and in the source
        margin = _contour_y(eye.margin, columns)
        lower_edge = np.array([_bottom_of(inside[:, column]) for column in range(x1 - x0)], np.float64) + y0
        opened = np.maximum(lower_edge - margin, 0.0)
        travel = np.maximum(lower_edge - top, 0.0) * LID_TRAVEL * blink  # how far down each column's lid has come
        skin_top = top - LID_SKIN_SHARE * opened  # the lid's skin: a band above the lashes, below the crease
        rows = np.arange(y0, y1, dtype=np.float64)[:, None]
        covered = (rows < top[None, :] + travel[None, :]) & inside.astype(bool)
        if not covered.any():
            continue
        # Destination [top, top + travel): the lashes at their own size at the lid's edge (source [top, margin]),
        # above them the band of skin [skin_top, top] stretched over the rest: skin stretches, lashes do not.
        down = rows - top[None, :]
        lash_rows = np.minimum(travel, margin - top)[None, :]
        skin_rows = np.maximum(travel[None, :] - lash_rows, 1e-3)
        in_lashes = down >= skin_rows
        source_y = np.where(
            in_lashes,
            margin[None, :] - (travel[None, :] - down),
            skin_top[None, :] + down / skin_rows * (top - skin_top)[None, :],
        )
        first = max(int(np.floor(skin_top.min())) - 1, 0)
        map_x = np.broadcast_to(columns[None, :] - x0, covered.shape).astype(np.float32)
        map_y = (source_y - first).astype(np.float32)
        lid = cv2.remap(out[first:y1, x0:x1].copy(), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        region = out[y0:y1, x0:x1]
        region[covered] = lid[covered]


def _bottom_of(column: np.ndarray) -> float:
    """The last row of an opening's column (its lower margin); -1 where the column is outside the opening."""
    rows = np.flatnonzero(column)
    return float(rows[-1]) + 1.0 if rows.size else -1.0


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


def _draw_mouth_interior(rig: Rig, moved: np.ndarray, out: np.ndarray, strength: float) -> None:
    """Paint the open mouth over the warped frame (`strength` 0..1), working only in the box around the lips."""
    inner = rig.interior
    ring = [rig.vertex_of[landmark] for landmark in lm.INNER_LIP_RING]
    lips = moved[ring]
    x0, y0 = np.maximum(np.floor(lips.min(axis=0)).astype(int) - 2, inner.box[:2])
    x1, y1 = np.minimum(np.ceil(lips.max(axis=0)).astype(int) + 3, inner.box[2:])
    if x1 <= x0 or y1 <= y0:
        return
    columns = np.arange(x0, x1, dtype=np.float64)
    top = _contour_y(moved[[rig.vertex_of[landmark] for landmark in lm.UPPER_INNER_LIP]], columns)
    bottom = _contour_y(moved[[rig.vertex_of[landmark] for landmark in lm.LOWER_INNER_LIP]], columns)
    if inner.drawn is not None:
        left, right = sorted(float(moved[rig.vertex_of[corner], 0]) for corner in INNER_CORNERS)
        drawn_mouth.paint(inner.drawn, out, (int(x0), int(y0), int(x1), int(y1)), top, bottom, (left, right), strength)
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
    # Only where the lips are apart: near the corners the ring is a sliver, and painting it left dotted dark lines.
    apart = np.clip((bottom - top - 1.0) / 2.0, 0, 1).astype(np.float32)
    alpha = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] * (strength / 255)
    alpha *= apart[None, :, None]
    region = out[y0:y1, x0:x1]
    region[:] = (region + (cavity - region) * alpha).astype(np.uint8)


class AnimatorSession:
    """One portrait at one size and frame rate, animated segment after segment on one motion clock."""

    def __init__(self, rig: Rig, fps: int, size: int, seed: int) -> None:
        self.fps, self.size, self.photo = fps, size, rig.image
        self._rig = rig
        self._planner = MotionPlanner(fps, seed)
        self.raster_memory = RasterMemory()
        self._drawn: tuple[Pose, np.ndarray] | None = None  # the last frame drawn and what it shows

    def speak(
        self,
        samples: np.ndarray,
        sample_rate: int,
        phonemes: list[PhonemeEvent] | None,
        context: AudioContext | None = None,
    ) -> Iterator[np.ndarray]:
        return self._frames(self._planner.speech(samples, sample_rate, phonemes, context))

    def idle(self, seconds: float) -> Iterator[np.ndarray]:
        return self._frames(self._planner.silence(round(seconds * self.fps)))

    def _frames(self, track: MouthTrack) -> Iterator[np.ndarray]:
        """Each frame of `track`; one that would look as the last drawn one does is that same array (STILL_PX)."""
        for index in range(track.frames):
            pose = frame_pose(self._rig, track, index)
            if self._drawn is None or not pose.close_to(self._drawn[0]):
                canvas = self._rig.image.copy()
                draw_pose(self._rig, pose, canvas, self.raster_memory)
                self._drawn = (pose, canvas)
            yield self._drawn[1]


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
