"""The inside of an opened mouth on a photo that shows none: a shaded cavity, a row of upper teeth and a hint of the
lower, a tongue low at the back, in colours taken from the face.

Drawn column by column between the lips: in each column only the height the mouth has opened beyond the photo's
own parting, centred on the line where the lips meet. At rest nothing is drawn; near the corners, where the lips
still touch, nothing either; every edge is soft (a pixel's share of coverage), so no dark seam or notch appears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UPPER_TEETH = 0.30  # share of the widest opening the upper incisors show, at most
UPPER_TEETH_OF_GAP = 0.40  # ... and never more than this share of the current opening
LOWER_TEETH = 0.10
THROAT = 0.22  # brightness relative to the lips deep in the mouth
WALL = 0.45  # ... and at its edges
TONGUE = 0.55


@dataclass(frozen=True)
class DrawnMouth:
    columns: np.ndarray  # x of each column of the interior box
    rest_gap: np.ndarray  # the photo's own inner-lip gap per column, px
    corners: tuple[float, float]  # x of the mouth corners at rest
    widest: float  # the widest gap the animator opens to, px
    lip_color: np.ndarray  # RGB float32
    teeth_color: np.ndarray  # RGB float32
    on_face: np.ndarray  # (h, w) float32 over the interior box: 1 inside the face's outline, 0 past it (a far
    # mouth corner seen from the side lies on the silhouette; nothing is drawn onto the background)
    origin: tuple[int, int]  # the interior box's top-left corner


def paint(
    mouth: DrawnMouth,
    out: np.ndarray,
    box: tuple[int, int, int, int],
    top: np.ndarray,
    bottom: np.ndarray,
    corners: tuple[float, float],
    strength: float,
) -> None:
    """Draw into `out` (the frame) within `box` (x0, y0, x1, y1); `top` and `bottom` are the current inner-lip
    contours at the box's columns, `corners` the current corners' x."""
    x0, y0, x1, y1 = box
    columns = np.arange(x0, x1, dtype=np.float64)
    rest_gap = np.interp(columns, mouth.columns, mouth.rest_gap)
    centre, spread = (corners[0] + corners[1]) / 2, max(abs(corners[1] - corners[0]) / 2, 1.0)
    across = np.clip(np.abs(columns - centre) / spread, 0, 1)  # 0 at the middle, 1 at the corners
    lens = np.sqrt(1 - across**2)  # the lips part most in the middle and still touch at the corners
    opened = np.clip(bottom - top - rest_gap, 0, None) * lens  # the height to draw in each column
    if not np.any(opened > 0.25):
        return
    middle = (top + bottom) / 2
    rows = np.arange(y0, y1, dtype=np.float64)[:, None]
    half = opened[None, :] / 2
    depth = half - np.abs(rows - middle[None, :])  # px inside the opening, from its nearest edge
    coverage = np.clip(depth + 0.5, 0, 1) * strength
    ox, oy = mouth.origin
    coverage *= mouth.on_face[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    if not coverage.any():
        return
    arch = np.sqrt(np.clip(1 - (across / 0.85) ** 2, 0, 1))[None, :]  # teeth fade into the corners' shadow

    shade = WALL + (THROAT - WALL) * np.clip(depth / 3.0, 0, 1)
    below = np.clip((rows - middle[None, :]) / np.maximum(half, 0.5), 0, 1)  # 0 above the middle, 1 at the bottom
    tongue = below**2 * arch
    color = (shade * (1 - tongue) + TONGUE * tongue)[..., None] * mouth.lip_color

    from_top = rows - (middle - opened / 2)[None, :]
    upper_height = np.minimum(UPPER_TEETH * mouth.widest, UPPER_TEETH_OF_GAP * opened)[None, :] * arch
    upper = np.clip(from_top + 0.5, 0, 1) * np.clip(upper_height - from_top, 0, 1) * arch**0.5
    from_bottom = (middle + opened / 2)[None, :] - rows
    lower_height = np.minimum(LOWER_TEETH * mouth.widest, 0.2 * opened)[None, :] * arch
    lower = 0.6 * np.clip(from_bottom + 0.5, 0, 1) * np.clip(lower_height - from_bottom, 0, 1) * arch**0.5
    teeth_shade = (0.75 + 0.25 * arch)[..., None] * mouth.teeth_color
    color += (teeth_shade - color) * upper[..., None]
    color += (teeth_shade * 0.85 - color) * lower[..., None]

    region = out[y0:y1, x0:x1].astype(np.float32)
    alpha = coverage[..., None].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(region + (color - region) * alpha, 0, 255).astype(np.uint8)
