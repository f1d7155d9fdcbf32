"""The animator's mesh warp is shared by every video of one portrait: renders from several threads at once must
each get their own result (a shared scratch image once mixed them up: IndexError, or another video's mouth)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gpu_service.engines.avatar.mesh_warp import PiecewiseAffineWarp


def test_concurrent_warps_of_one_mesh_equal_the_same_warps_made_one_at_a_time() -> None:
    rng = np.random.default_rng(7)
    border = [(0, 0), (199, 0), (199, 199), (0, 199), (100, 0), (199, 100), (100, 199), (0, 100)]
    inner = rng.uniform(40, 160, size=(40, 2))
    vertices = np.concatenate([np.array(border, float), inner])
    warp = PiecewiseAffineWarp(vertices, (0, 0, 200, 200))
    image = rng.integers(0, 255, size=(200, 200, 3), dtype=np.uint8)
    moves = []
    for _ in range(24):
        moved = vertices.copy()
        moved[len(border) :] += rng.uniform(-6, 6, size=inner.shape)  # the border stays, as the animator keeps it
        moves.append(moved)

    def render(destination: np.ndarray) -> np.ndarray:
        out = image.copy()
        for _ in range(5):
            warp.apply(image, destination, out)
        return out

    expected = [render(moved) for moved in moves]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(render, moves))
    for one, other in zip(expected, together, strict=True):
        assert np.array_equal(one, other)
