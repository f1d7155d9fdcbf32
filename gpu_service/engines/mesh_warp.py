"""Piecewise-affine warp of an image region: move mesh vertices, every triangle's pixels follow its vertices.

Exact per-triangle affine maps from the destination triangles back to the source: triangle ids are rasterized
into an index image, then one cv2.remap samples the source. Only the region of interest is touched.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

_SUBPIXEL_BITS = 4


class PiecewiseAffineWarp:
    def __init__(self, vertices: np.ndarray, region: tuple[int, int, int, int]) -> None:
        """`vertices` (N, 2) in image pixels; `region` (x0, y0, x1, y1) must contain all of them.

        Vertices on the region's border should stay put, so the warp joins the untouched image seamlessly.
        """
        self.source = np.asarray(vertices, dtype=np.float64)
        self.region = region
        self.triangles = Delaunay(self.source).simplices.astype(np.int32)
        x0, y0, x1, y1 = region
        grid_y, grid_x = np.mgrid[y0:y1, x0:x1]
        self._pixels = np.stack([grid_x, grid_y, np.ones_like(grid_x)], axis=-1).astype(np.float32)
        self._index = np.empty((y1 - y0, x1 - x0), dtype=np.int32)

    def maps(self, destination: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """remap() coordinates (absolute source pixels) for every pixel of the region."""
        x0, y0, _, _ = self.region
        dst = np.asarray(destination, dtype=np.float64)
        affine = self._affines(dst)  # (T, 2, 3): destination pixel -> source pixel
        identity = len(self.triangles)
        self._index.fill(identity)
        corners = np.round((dst[self.triangles] - (x0, y0)) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
        for number, corner in enumerate(corners):
            cv2.fillConvexPoly(self._index, corner, number, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
        table = np.concatenate([affine, [[[1, 0, 0], [0, 1, 0]]]]).astype(np.float32)  # last: identity
        chosen = table[self._index]  # (H, W, 2, 3)
        mapped = np.einsum("hwij,hwj->hwi", chosen, self._pixels)
        return np.ascontiguousarray(mapped[..., 0]), np.ascontiguousarray(mapped[..., 1])

    def _affines(self, destination: np.ndarray) -> np.ndarray:
        dst = destination[self.triangles]  # (T, 3, 2)
        src = self.source[self.triangles]
        dst_h = np.concatenate([dst, np.ones((len(dst), 3, 1))], axis=2)  # (T, 3, 3) rows: x, y, 1
        # Solve dst_h @ A^T = src for each triangle; degenerate (flattened) triangles fall back to least squares.
        try:
            solution = np.linalg.solve(dst_h, src)
        except np.linalg.LinAlgError:
            solution = np.stack([np.linalg.lstsq(d, s, rcond=None)[0] for d, s in zip(dst_h, src, strict=True)])
        return np.asarray(np.transpose(solution, (0, 2, 1)))

    def apply(self, image: np.ndarray, destination: np.ndarray, out: np.ndarray) -> None:
        """Write the warped region of `image` into `out` (same shape); pixels outside the region are left alone."""
        x0, y0, x1, y1 = self.region
        map_x, map_y = self.maps(destination)
        out[y0:y1, x0:x1] = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
