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


def with_glasses(photo: np.ndarray) -> np.ndarray:
    """Composite: glasses drawn onto a photo's face where the face mesh puts its eyes: dark rims, a bridge, the
    arms towards the ears, a faint tint, and two bright reflections on each lens, one above the eye (where a blink
    that stretched the skin smeared them) and one beside it."""
    from common.face import landmarks as lm
    from common.face.mesh import FaceMesh

    image = photo if photo.ndim == 3 else cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR)
    points = FaceMesh(static_images=True).landmarks(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    assert points is not None, "no face to put glasses on"
    eye_width = float(np.linalg.norm(points[lm.RIGHT_UPPER_LID[0]] - points[lm.RIGHT_UPPER_LID[-1]]))
    rim, frame_colour = max(2, round(eye_width * 0.08)), (30, 25, 20)
    axes = (round(eye_width * 0.95), round(eye_width * 0.7))
    centres = []
    for upper in (lm.RIGHT_UPPER_LID, lm.LEFT_UPPER_LID):
        middle = points[[upper[0], upper[-1]]].mean(axis=0) + np.array([0.0, 0.1 * eye_width])
        centres.append((round(float(middle[0])), round(float(middle[1]))))
    lens = np.zeros(image.shape[:2], np.uint8)
    for centre in centres:
        cv2.ellipse(lens, centre, axes, 0, 0, 360, 255, -1)
    out = image.astype(np.float32)
    out[lens > 0] = out[lens > 0] * 0.9 + 12  # the tint
    for x, y in centres:
        for dx, dy, share in ((-0.45, -0.5, 0.22), (0.5, 0.25, 0.14)):
            spot = np.zeros(image.shape[:2], np.float32)
            where = (round(x + dx * axes[0]), round(y + dy * axes[1]))
            spot_axes = (max(2, round(share * axes[0])), max(1, round(share * 0.45 * axes[0])))
            cv2.ellipse(spot, where, spot_axes, -30, 0, 360, 1.0, -1)
            spot = cv2.GaussianBlur(spot, (0, 0), max(1.0, share * axes[0] * 0.3)) * (lens > 0)
            out += (250 - out) * spot[..., None] * 0.8
    glasses = out.astype(np.uint8)
    for centre in centres:
        cv2.ellipse(glasses, centre, axes, 0, 0, 360, frame_colour, rim, cv2.LINE_AA)
    (left_x, left_y), (right_x, right_y) = sorted(centres)
    cv2.line(glasses, (left_x + axes[0], left_y), (right_x - axes[0], right_y), frame_colour, rim, cv2.LINE_AA)
    for (x, y), outward in (((left_x, left_y), -1), ((right_x, right_y), 1)):
        start = (x + outward * axes[0], y - axes[1] // 3)
        end = (start[0] + outward * round(eye_width * 0.8), start[1] - rim)
        cv2.line(glasses, start, end, frame_colour, rim, cv2.LINE_AA)
    return glasses


def two_people() -> np.ndarray:
    """Composite: the astronaut and the cameraman side by side (the astronaut's face is the larger)."""
    return np.concatenate([astronaut(), cv2.cvtColor(cameraman(), cv2.COLOR_GRAY2BGR)], axis=1)


def small_face() -> np.ndarray:
    """Composite: the cameraman pasted at 320 px into a plain 1400 px photo (his face ~45 px tall)."""
    canvas = np.full((1400, 1400, 3), 205, np.uint8)
    small = cv2.resize(cameraman(), (320, 320), interpolation=cv2.INTER_AREA)
    canvas[700:1020, 500:820] = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    return canvas
