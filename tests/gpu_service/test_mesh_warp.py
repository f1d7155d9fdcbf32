"""The animator's mesh warp: shared by every video of one portrait, renders from several threads at once must each
get their own result (a shared scratch image once mixed them up: IndexError, or another video's mouth); a session's
raster memory saves work on a face that barely moves without changing what is seen."""

from __future__ import annotations

import itertools
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


def drawings(frames: list[np.ndarray]) -> int:
    """How many of `frames` were drawn: a frame shown again is the same array as the one before it."""
    return 1 + sum(frame is not before for before, frame in itertools.pairwise(frames))


def test_an_idle_face_is_drawn_every_few_frames_and_looks_as_if_drawn_every_frame() -> None:
    """A frame that would look as the last drawn one does is that frame again (what a live session's idle costs);
    each frame shown stays within a fraction of a grey level of the frame drawn from scratch, and a speaking mouth
    is drawn every frame it moves."""
    engine = AnimatorEngine(FaceAnalyzer(Path(tempfile.mkdtemp())))
    rig = engine.rig(PORTRAIT, 512)
    shown = list(engine.open_session(PORTRAIT, fps=25, size=512, seed=3).idle(10.0))
    drawn = drawings(shown)
    assert drawn <= 0.5 * len(shown), f"{drawn} of {len(shown)} idle frames drawn"
    exact = MotionPlanner(25, seed=3).silence(len(shown))  # the session's own track: same seed, same clock
    for index, frame in enumerate(shown):
        fresh = rig.image.copy()
        render_frame(rig, exact, index, fresh)
        difference = np.abs(frame.astype(np.int16) - fresh.astype(np.int16))
        psnr = 10 * np.log10(255**2 / max(float((difference.astype(np.float64) ** 2).mean()), 1e-12))
        assert psnr >= 50 and difference.max() <= 32, (index, psnr, difference.max())
    speech, _ = load_audio(DEFAULT_ASSETS / "voices" / "librivox_en_reader.wav", 16000, 2.0)
    spoken = list(engine.open_session(PORTRAIT, fps=25, size=512, seed=3).speak(speech, 16000, None))
    redrawn = drawings(spoken)
    assert redrawn >= 0.8 * len(spoken), f"only {redrawn} of {len(spoken)} speaking frames drawn"
