"""Piecewise-affine warp of an image region: move mesh vertices, every triangle's pixels follow its vertices.

Exact per-triangle affine maps from the destination triangles back to the source: triangle ids are rasterized
into an index image, then one cv2.remap samples the source. Only the region of interest is touched.
(Evaluating the maps on 2x2 blocks and upsampling was tried: faster, but it smears the displacement across the
thin triangles at the lips, leaving specks of teeth and cavity on closed lips.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

_SUBPIXEL_BITS = 4
_MIN_AREA = 1.0  # px^2 (twice the triangle's area): flatter triangles are not drawn
# A raster (which triangle each pixel is in) serves the next frames while no vertex has moved this far from where it
# was drawn and no triangle has gone flat or come back: idle motion moves vertices ~0.1 px a frame, so an idle face
# is rasterized every few frames instead of every frame. The maps themselves are each frame's own, exact; a pixel
# within this distance of an edge may take its neighbour's map, which agrees with its own on the shared edge.
REUSE_WITHIN_PX = 0.25


@dataclass(frozen=True)
class Raster:
    vertices: np.ndarray  # where the vertices were when it was drawn
    visible: np.ndarray  # (T,) the triangles drawn (not squeezed flat)
    index: np.ndarray  # the region's pixels: the triangle each falls in


class RasterMemory:
    """One session's latest raster (sessions share their portrait's warp, each keeps its own memory)."""

    def __init__(self) -> None:
        self.raster: Raster | None = None
        self.drawn = 0  # rasters drawn, for the tests and the bench


class PiecewiseAffineWarp:
    def __init__(self, vertices: np.ndarray, region: tuple[int, int, int, int]) -> None:
        """`vertices` (N, 2) in image pixels; `region` (x0, y0, x1, y1) must contain all of them.

        Vertices on the region's border should stay put, so the warp joins the untouched image seamlessly.
        """
        self.source = np.asarray(vertices, dtype=np.float64)
        self.region = region
        self.triangles = Delaunay(self.source).simplices.astype(np.int32)
        self._orientation = np.sign(_signed_areas(self.source, self.triangles))
        self._neighbours = _neighbours(len(self.source), self.triangles)
        x0, y0, x1, y1 = region
        grid_y, grid_x = np.mgrid[y0:y1, x0:x1]
        self._grid_x, self._grid_y = grid_x.astype(np.float32), grid_y.astype(np.float32)

    def unfold(self, destination: np.ndarray, fixed: np.ndarray, rounds: int = 8) -> np.ndarray:
        """`destination` with no triangle turned over: a turned triangle paints its neighbours' pixels over its
        own (specks beside a wide-open mouth). Its free vertices take their neighbours' mean displacement,
        round after round, until none is turned; `fixed` (N,) bools mark vertices that must stay where they are."""
        moved = np.array(destination, dtype=np.float64)
        for _ in range(rounds):
            turned = np.sign(_signed_areas(moved, self.triangles)) * self._orientation < 0
            free = np.unique(self.triangles[turned])
            free = free[~fixed[free]]
            if not free.size:
                break
            displacement = moved - self.source
            moved[free] = self.source[free] + [displacement[self._neighbours[vertex]].mean(axis=0) for vertex in free]
        return moved

    def maps(self, destination: np.ndarray, memory: RasterMemory | None = None) -> tuple[np.ndarray, np.ndarray]:
        """remap() coordinates (absolute source pixels) for every pixel of the region; with `memory`, the last
        raster is used again while it still holds (REUSE_WITHIN_PX)."""
        dst = np.asarray(destination, dtype=np.float64)
        affine = self._affines(dst).reshape(-1, 6)  # per triangle: destination pixel -> source pixel
        # A triangle squeezed flat (a closed eyelid, lips pressed together) covers no area; drawn, it would be a
        # line of pixels sampling the photo as it was there (specks of eye white along a closed lid).
        visible = np.abs(_signed_areas(dst, self.triangles)) >= _MIN_AREA
        raster = memory.raster if memory is not None else None
        if (
            raster is None
            or not np.array_equal(raster.visible, visible)
            or np.abs(dst - raster.vertices).max() > REUSE_WITHIN_PX
        ):
            raster = Raster(dst, visible, self._rasterize(dst, visible))
            if memory is not None:
                memory.raster, memory.drawn = raster, memory.drawn + 1
        index = raster.index
        table = np.concatenate([affine, [[1, 0, 0, 0, 1, 0]]]).astype(np.float32)  # last: identity
        # One gather per coefficient and plain multiply-adds: ~40 % faster than gathering (h, w, 2, 3) + einsum.
        a, b, c, d, e, f = (np.take(table[:, k], index) for k in range(6))
        map_x = a * self._grid_x
        map_x += b * self._grid_y
        map_x += c
        map_y = d * self._grid_x
        map_y += e * self._grid_y
        map_y += f
        return map_x, map_y

    def _rasterize(self, dst: np.ndarray, visible: np.ndarray) -> np.ndarray:
        x0, y0, _, _ = self.region
        # Its own index image per call: sessions sharing a portrait render it from several threads at once.
        index = np.full(self._grid_x.shape, len(self.triangles), dtype=np.int32)
        corners = np.round((dst[self.triangles] - (x0, y0)) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
        fill, outline = cv2.fillConvexPoly, cv2.polylines
        for number in np.flatnonzero(visible).tolist():
            corner = corners[number]
            # Edges first: two triangles' fills can leave the pixels of their shared edge to neither, and such a
            # pixel kept the photo's own colour from elsewhere (dark specks in a line beside the mouth).
            outline(index, [corner], True, number, 1, cv2.LINE_8, _SUBPIXEL_BITS)
            fill(index, corner, number, cv2.LINE_8, _SUBPIXEL_BITS)
        return _close_gaps(index, len(self.triangles))

    def _affines(self, destination: np.ndarray) -> np.ndarray:
        """(T, 2, 3) affine maps, destination triangle -> source triangle, in closed form.

        Batched LAPACK solves of hundreds of 3x3 systems cost more in threading overhead than the maths;
        the 2x2 inverse written out is exact and takes microseconds.
        """
        dst = destination[self.triangles]  # (T, 3, 2)
        src = self.source[self.triangles]
        d_edges = np.stack([dst[:, 1] - dst[:, 0], dst[:, 2] - dst[:, 0]], axis=2)  # (T, 2, 2), edges as columns
        s_edges = np.stack([src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]], axis=2)
        a, b, c, d = d_edges[:, 0, 0], d_edges[:, 0, 1], d_edges[:, 1, 0], d_edges[:, 1, 1]
        det = a * d - b * c
        flat = np.abs(det) < 1e-9  # a collapsed triangle covers no pixel; any finite map will do
        det = np.where(flat, 1.0, det)
        inverse = np.stack([np.stack([d, -b], axis=1), np.stack([-c, a], axis=1)], axis=1) / det[:, None, None]
        linear = np.where(flat[:, None, None], np.eye(2), s_edges @ inverse)
        translation = src[:, 0] - np.einsum("tij,tj->ti", linear, dst[:, 0])
        return np.concatenate([linear, translation[:, :, None]], axis=2)

    def apply(
        self, image: np.ndarray, destination: np.ndarray, out: np.ndarray, memory: RasterMemory | None = None
    ) -> None:
        """Write the warped region of `image` into `out` (same shape); pixels outside the region are left alone."""
        x0, y0, x1, y1 = self.region
        map_x, map_y = self.maps(destination, memory)
        out[y0:y1, x0:x1] = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _signed_areas(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    corners = vertices[triangles]
    first, second = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return np.asarray(first[:, 0] * second[:, 1] - first[:, 1] * second[:, 0])


def _neighbours(count: int, triangles: np.ndarray) -> list[np.ndarray]:
    linked: list[set[int]] = [set() for _ in range(count)]
    for a, b, c in triangles.tolist():
        linked[a] |= {b, c}
        linked[b] |= {a, c}
        linked[c] |= {a, b}
    return [np.array(sorted(others), dtype=np.int64) for others in linked]


def _close_gaps(index: np.ndarray, none: int) -> np.ndarray:
    """Pixels no triangle claimed (beside a squeezed-flat one) take a neighbour's triangle, not the photo as it is.

    The anchors span the whole region, so every pixel of it belongs to some triangle: a gap is only ever a seam.
    """
    gaps = index == none
    if not gaps.any():
        return index
    grown = index.astype(np.float32)
    grown[gaps] = -1
    for _ in range(3):
        spread = cv2.dilate(grown, np.ones((3, 3), np.uint8))
        still = grown < 0
        grown[still] = spread[still]
        if not (grown < 0).any():
            break
    grown[grown < 0] = none
    return grown.astype(np.int32)
