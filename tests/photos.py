"""Photos of people that ship in scikit-image and matplotlib, for tests (BGR, as OpenCV writes them):
- the astronaut: Eileen Collins, NASA, public domain; smiling, teeth visible;
- the cameraman: Lav Varshney, CC0; grayscale, three-quarter view, mouth closed;
- Grace Hopper: US Navy, public domain (matplotlib's sample data); uniform with a patterned collar and ribbons.
Composites (two photos side by side, one pasted small into a large plain canvas) are named as such. The face-like
distractors are real photos too: scikit-image's motorcycle (its round headlight), coins and Hubble deep field.
"""

from __future__ import annotations

import cv2
import matplotlib.cbook
import numpy as np
import skimage.data


def astronaut() -> np.ndarray:
    return np.asarray(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))  # type: ignore[no-untyped-call]


def cameraman() -> np.ndarray:
    """One channel."""
    return np.asarray(skimage.data.camera())  # type: ignore[no-untyped-call]


def coffee() -> np.ndarray:
    """A cup of coffee: no face."""
    return np.asarray(cv2.cvtColor(skimage.data.coffee(), cv2.COLOR_RGB2BGR))  # type: ignore[no-untyped-call]


def grace_hopper() -> np.ndarray:
    return np.asarray(cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))))


def motorcycle() -> np.ndarray:
    """A motorcycle in a garage: no face, but a round headlight that face detectors take for one."""
    left, _, _ = skimage.data.stereo_motorcycle()  # type: ignore[no-untyped-call]
    return np.asarray(cv2.cvtColor(left, cv2.COLOR_RGB2BGR))


def beside(*photos: np.ndarray) -> np.ndarray:
    """Composite: photos side by side on a grey canvas, tops aligned."""
    colour = [photo if photo.ndim == 3 else cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR) for photo in photos]
    canvas = np.full((max(p.shape[0] for p in colour), sum(p.shape[1] for p in colour), 3), 128, np.uint8)
    x = 0
    for photo in colour:
        canvas[: photo.shape[0], x : x + photo.shape[1]] = photo
        x += photo.shape[1]
    return canvas


def scaled(photo: np.ndarray, factor: float) -> np.ndarray:
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(photo, None, fx=factor, fy=factor, interpolation=interpolation))


def face_like_distractors() -> dict[str, tuple[np.ndarray, int]]:
    """Composites of people with things face detectors mistake for faces, and how many real faces each holds."""
    coins = cv2.cvtColor(np.asarray(skimage.data.coins()), cv2.COLOR_GRAY2BGR)  # type: ignore[no-untyped-call]
    galaxies = cv2.cvtColor(np.asarray(skimage.data.hubble_deep_field()), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    collar = grace_hopper()[380:]
    return {
        "headlight": (motorcycle(), 0),
        "astronaut_and_headlight": (beside(astronaut(), scaled(motorcycle(), 1.25)), 1),
        "cameraman_and_headlight": (beside(cameraman(), scaled(motorcycle(), 2.0)[:, ::-1]), 1),
        "cameraman_and_coins": (beside(cameraman(), scaled(coins, 0.75)), 1),
        "grace_hopper_and_her_collar": (beside(grace_hopper(), scaled(collar, 2.0)), 1),
        "astronaut_and_galaxies": (beside(astronaut(), galaxies), 1),
        "grace_hopper": (grace_hopper(), 1),
    }


def two_people() -> np.ndarray:
    """Composite: the astronaut and the cameraman side by side (the astronaut's face is the larger)."""
    return np.concatenate([astronaut(), cv2.cvtColor(cameraman(), cv2.COLOR_GRAY2BGR)], axis=1)


def small_face() -> np.ndarray:
    """Composite: the cameraman pasted at 320 px into a plain 1400 px photo (his face ~45 px tall)."""
    canvas = np.full((1400, 1400, 3), 205, np.uint8)
    small = cv2.resize(cameraman(), (320, 320), interpolation=cv2.INTER_AREA)
    canvas[700:1020, 500:820] = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    return canvas
