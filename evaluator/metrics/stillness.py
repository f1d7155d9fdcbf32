"""Does the rest of the face stay the photo? SSIM against the still, outside the mouth and the eyes."""

from __future__ import annotations

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from common.face import landmarks as lm

MOUTH_MARGIN = 0.15  # face widths around the lips and jaw that speaking may change
EYE_MARGIN = 0.04  # around each eye, upper lid up to the brow (a blink moves all of it)


def still_region(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask: inside the face oval, but away from the mouth and the eyes."""
    face_width = float(np.ptp(landmarks[list(lm.FACE_OVAL), 0]))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks[list(lm.FACE_OVAL)]).astype(np.int32)), 1)
    excluded = np.zeros(shape, np.uint8)
    lips = landmarks[list(lm.UPPER_OUTER_LIP + lm.LOWER_OUTER_LIP)]
    # Below the lips the jaw moves with speech: the mouth region reaches down to the chin.
    chin = landmarks[[lm.CHIN_BOTTOM]]
    cv2.fillConvexPoly(excluded, cv2.convexHull(np.round(np.concatenate([lips, chin])).astype(np.int32)), 1)
    excluded = cv2.dilate(excluded, np.ones((int(MOUTH_MARGIN * face_width) | 1,) * 2, np.uint8))
    for eye in (
        lm.RIGHT_UPPER_LID + lm.RIGHT_LOWER_LID + lm.RIGHT_BROW,
        lm.LEFT_UPPER_LID + lm.LEFT_LOWER_LID + lm.LEFT_BROW,
    ):
        hull = cv2.convexHull(np.round(landmarks[list(eye)]).astype(np.int32))
        eye_mask = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(eye_mask, hull, 1)
        excluded |= cv2.dilate(eye_mask, np.ones((int(EYE_MARGIN * face_width) | 1,) * 2, np.uint8))
    return np.asarray((mask == 1) & (excluded == 0))


def masked_ssim(still: np.ndarray, frame: np.ndarray, region: np.ndarray) -> float:
    gray_still = cv2.cvtColor(still, cv2.COLOR_RGB2GRAY)
    gray_frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    _, ssim_map = structural_similarity(gray_still, gray_frame, data_range=255, full=True)  # type: ignore[no-untyped-call]
    return float(ssim_map[region].mean())
