"""The pure part of the LivePortrait adapter: our mouth track in LivePortrait's conventions, and the crop.

LivePortrait listens to nothing; it moves a portrait by implicit keypoints. We drive it as its own retargeting
does: a target lip-open ratio per frame (inner-lip gap / mouth width) for `retarget_lip`, a target eyes-open
ratio (lid gap / eye width) for `retarget_eye`, and a head rotation built like its `get_rotation_matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from common.face import landmarks as lm
from gpu_service.engines.avatar.mouth import MouthTrack

LIP_OPEN_RATIO = 0.5  # lip-open ratio at jaw_open = 1 (LivePortrait's own retargeting UI offers 0 .. 0.8)
LIP_CLOSED_RATIO = 0.0  # lips together, for /p b m/ and silence
CROP_SCALE = 2.3  # crop side / face size, as LivePortrait crops its sources
CROP_SHIFT_UP = 0.125  # of the crop side: LivePortrait's vy_ratio -0.125 keeps the forehead in
INPUT_SIDE = 256  # LivePortrait's networks see 256x256 crops
FEATHER = 0.12  # of the crop side: the pasted crop fades into the photo over this border


@dataclass(frozen=True)
class Motion:
    """Per frame: targets for LivePortrait's retargeting and the head pose relative to the photo's."""

    lip_open: np.ndarray  # (N,)
    eyes_open: np.ndarray  # (N,)
    pitch: np.ndarray  # (N,) degrees, added to the source's pose
    yaw: np.ndarray
    roll: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.lip_open)


def lip_open_ratios(jaw_open: np.ndarray) -> np.ndarray:
    """Jaw opening 0..1 from the mouth track -> target lip-open ratio."""
    return LIP_CLOSED_RATIO + np.clip(jaw_open, 0, 1) * (LIP_OPEN_RATIO - LIP_CLOSED_RATIO)


def eyes_open_ratios(blink: np.ndarray, source_eyes_open: float) -> np.ndarray:
    """Blink 0 (open) .. 1 (closed) -> target eyes-open ratio, from the photo's own openness down to 0."""
    return source_eyes_open * (1 - np.clip(blink, 0, 1))


def motion_from_track(track: MouthTrack, source_eyes_open: float) -> Motion:
    return Motion(
        lip_open=lip_open_ratios(track.jaw_open),
        eyes_open=eyes_open_ratios(track.blink, source_eyes_open),
        pitch=track.pitch,
        yaw=track.yaw,
        roll=track.roll,
    )


def rotation_matrices(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations in LivePortrait's convention: (Rz @ Ry @ Rx) transposed, angles in degrees.

    Transposed because LivePortrait applies them to row vectors: keypoints @ R.
    """
    x, y, z = (np.radians(np.asarray(angle, dtype=np.float64)) for angle in (pitch, yaw, roll))
    one, zero = np.ones_like(x), np.zeros_like(x)
    rot_x = np.stack([one, zero, zero, zero, np.cos(x), -np.sin(x), zero, np.sin(x), np.cos(x)], -1)
    rot_y = np.stack([np.cos(y), zero, np.sin(y), zero, one, zero, -np.sin(y), zero, np.cos(y)], -1)
    rot_z = np.stack([np.cos(z), -np.sin(z), zero, np.sin(z), np.cos(z), zero, zero, zero, one], -1)
    shape = (*x.shape, 3, 3)
    rotation = rot_z.reshape(shape) @ rot_y.reshape(shape) @ rot_x.reshape(shape)
    return np.swapaxes(rotation, -1, -2).astype(np.float32)


def batches(count: int, size: int) -> list[range]:
    """Consecutive frame ranges of at most `size` frames covering 0..count."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


@dataclass(frozen=True)
class CropBox:
    x: int
    y: int
    side: int


def face_crop(landmarks: np.ndarray, width: int, height: int) -> CropBox:
    """A square around the face as LivePortrait frames its sources, moved (not shrunk) to stay in the image."""
    oval = landmarks[list(lm.FACE_OVAL)]
    center = (oval.min(axis=0) + oval.max(axis=0)) / 2
    side = int(min(CROP_SCALE * float(np.ptp(oval, axis=0).max()), width, height))
    x = int(np.clip(round(center[0] - side / 2), 0, width - side))
    y = int(np.clip(round(center[1] - side / 2 - CROP_SHIFT_UP * side), 0, height - side))
    return CropBox(x, y, side)


def feather_mask(side: int) -> np.ndarray:
    """(side, side, 1) float weights: 1 inside, fading to 0 at the crop's edges."""
    ramp = max(1, round(FEATHER * side))
    edge = np.minimum(np.arange(side), np.arange(side)[::-1]).astype(np.float32)
    profile = np.clip(edge / ramp, 0, 1)
    profile = profile * profile * (3 - 2 * profile)  # smoothstep: no visible seam where the ramp starts
    return np.asarray((profile[:, None] * profile[None, :])[..., None])


def paste_back(photo: np.ndarray, crop: np.ndarray, box: CropBox, mask: np.ndarray) -> np.ndarray:
    """The photo with the animated crop (any size; resized to the box) blended in; outside the box untouched."""
    out = photo.copy()
    resized = (
        cv2.resize(crop, (box.side, box.side), interpolation=cv2.INTER_LINEAR) if crop.shape[0] != box.side else crop
    )
    region = out[box.y : box.y + box.side, box.x : box.x + box.side].astype(np.float32)
    blended = region + mask * (resized.astype(np.float32) - region)
    out[box.y : box.y + box.side, box.x : box.x + box.side] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
