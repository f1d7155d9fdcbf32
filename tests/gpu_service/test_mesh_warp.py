"""The animator's mesh warp: shared by every video of one portrait, renders from several threads at once must each
get their own result (a shared scratch image once mixed them up: IndexError, or another video's mouth); a session's
raster memory saves work on a face that barely moves without changing what is seen."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from common.media.audio import load_audio
from gpu_service.assets import AssetReference
from gpu_service.config import DEFAULT_ASSETS
from gpu_service.engines.avatar.animator import AnimatorEngine, render_frame
from gpu_service.engines.avatar.face import FaceAnalyzer
from gpu_service.engines.avatar.mesh_warp import PiecewiseAffineWarp, RasterMemory
from gpu_service.engines.avatar.mouth import MotionPlanner

PORTRAIT = AssetReference("astronaut", DEFAULT_ASSETS / "images" / "astronaut.png")


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


def test_a_face_that_barely_moves_shares_rasters_and_looks_the_same() -> None:
    """Idle motion (blinks, breathing, drift) reuses a raster for several frames; speech redraws it (almost) every
    frame; either way the frames equal those drawn from scratch, to a couple of grey levels."""
    rig = AnimatorEngine(FaceAnalyzer(Path(tempfile.mkdtemp()))).rig(PORTRAIT, 512)
    planner = MotionPlanner(25, seed=3)
    speech, _ = load_audio(DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav", 16000, 2.0)
    for track, most_rasters in ((planner.silence(75), 0.4), (planner.speech(speech, 16000, None), 1.0)):
        memory = RasterMemory()
        for index in range(track.frames):
            shared, fresh = rig.image.copy(), rig.image.copy()
            render_frame(rig, track, index, shared, memory)
            render_frame(rig, track, index, fresh)
            difference = np.abs(shared.astype(np.int16) - fresh.astype(np.int16))
            assert difference.max() <= 16 and (difference > 3).sum() <= 10, (index, difference.max())
        assert memory.drawn <= most_rasters * track.frames, (memory.drawn, track.frames)
    assert memory.drawn >= 0.8 * track.frames  # speech moves the mouth past the limit nearly every frame
