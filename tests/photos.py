"""Photos of people that ship in scikit-image, for tests (BGR, as OpenCV writes them):
- the astronaut: Eileen Collins, NASA, public domain; smiling, teeth visible;
- the cameraman: Lav Varshney, CC0; grayscale, three-quarter view, mouth closed.
Composites (two photos side by side, one pasted small into a large plain canvas) are named as such.
"""

from __future__ import annotations

import cv2
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


def two_people() -> np.ndarray:
    """Composite: the astronaut and the cameraman side by side (the astronaut's face is the larger)."""
    return np.concatenate([astronaut(), cv2.cvtColor(cameraman(), cv2.COLOR_GRAY2BGR)], axis=1)


def small_face() -> np.ndarray:
    """Composite: the cameraman pasted at 320 px into a plain 1400 px photo (his face ~45 px tall)."""
    canvas = np.full((1400, 1400, 3), 205, np.uint8)
    small = cv2.resize(cameraman(), (320, 320), interpolation=cv2.INTER_AREA)
    canvas[700:1020, 500:820] = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    return canvas
