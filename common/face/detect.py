"""Every face in a photo, large or small: MediaPipe's full-range face detector (bundled in the mediapipe wheel) run
on the whole image and on overlapping tiles, so that a face a few dozen pixels tall in a full-body shot is found too
(the detector sees its input at 192x192: on the whole of a large photo such a face is a handful of pixels).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

MIN_SCORE = 0.5
# A second look at one candidate, framed as a face would be: lower, because the framing is known to be right.
CENTRED_MIN_SCORE = 0.3
CENTRED_WITHIN = 0.25  # ... its box centre within this share of the side from the image centre
# The photo is also searched in tiles overlapping by half a tile; 4x4 finds a 75 px face in a 2000 px photo.
TILE_GRIDS = (2, 3, 4)
OVERLAP_IOU = 0.3  # two boxes overlapping more than this are one face


@dataclass(frozen=True)
class FaceBox:
    x: float
    y: float
    width: float
    height: float
    score: float

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


class FaceDetector:
    def __init__(self) -> None:
        import mediapipe as mp  # heavy: imported only when faces are looked for

        detection = mp.solutions.face_detection.FaceDetection
        self._detector: Any = detection(model_selection=1, min_detection_confidence=MIN_SCORE)
        self._second_look: Any = detection(model_selection=1, min_detection_confidence=CENTRED_MIN_SCORE)
        self._lock = threading.Lock()

    def faces(self, image: np.ndarray) -> list[FaceBox]:
        """The faces in an RGB uint8 image, largest first."""
        height, width = image.shape[:2]
        found = self._detect(image, 0, 0)
        for grid in TILE_GRIDS:
            tile_w, tile_h = 2 * width // (grid + 1), 2 * height // (grid + 1)
            if min(tile_w, tile_h) < 96:
                break
            for row in range(grid):
                for column in range(grid):
                    x0, y0 = column * tile_w // 2, row * tile_h // 2
                    found += self._detect(image[y0 : y0 + tile_h, x0 : x0 + tile_w], x0, y0)
        return _distinct(found)

    def sees_centred_face(self, image: np.ndarray) -> bool:
        """Whether an RGB image framed around one candidate shows a face at its centre."""
        side = min(image.shape[:2])
        return any(
            abs(box.center[0] - image.shape[1] / 2) <= CENTRED_WITHIN * side
            and abs(box.center[1] - image.shape[0] / 2) <= CENTRED_WITHIN * side
            for box in self._detect(image, 0, 0, self._second_look)
        )

    def _detect(self, image: np.ndarray, x0: int, y0: int, detector: Any = None) -> list[FaceBox]:
        with self._lock:
            result = (detector or self._detector).process(np.ascontiguousarray(image))
        height, width = image.shape[:2]
        boxes = []
        for detection in result.detections or []:
            box = detection.location_data.relative_bounding_box
            boxes.append(
                FaceBox(
                    x0 + box.xmin * width,
                    y0 + box.ymin * height,
                    box.width * width,
                    box.height * height,
                    float(detection.score[0]),
                )
            )
        return boxes

    def close(self) -> None:
        self._detector.close()
        self._second_look.close()


def _distinct(boxes: list[FaceBox]) -> list[FaceBox]:
    """One box per face (the most confident of those overlapping), largest first."""
    if not boxes:
        return []
    rectangles = [[round(b.x), round(b.y), max(1, round(b.width)), max(1, round(b.height))] for b in boxes]
    kept = cv2.dnn.NMSBoxes(rectangles, [b.score for b in boxes], MIN_SCORE, OVERLAP_IOU)
    return sorted((boxes[int(index)] for index in np.ravel(kept)), key=lambda b: b.area, reverse=True)
