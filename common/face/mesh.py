"""MediaPipe's face mesh: 478 landmarks in pixels. Its models are bundled in the mediapipe 0.10.21 wheel.

Shared by the animator (once per portrait) and the evaluator (every frame of a video), one call at a time.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np


class FaceMesh:
    def __init__(self, static_images: bool) -> None:
        """`static_images=False` tracks across consecutive video frames, which is several times faster."""
        import mediapipe as mp  # heavy: imported only when a face is to be found

        self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static_images, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5
        )
        self._lock = threading.Lock()

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """(478, 2) float32 pixel coordinates of the most prominent face in an RGB uint8 image, or None."""
        with self._lock:
            result = self._mesh.process(image)
        if not result.multi_face_landmarks:
            return None
        points = result.multi_face_landmarks[0].landmark
        height, width = image.shape[:2]
        return np.array([[point.x * width, point.y * height] for point in points], dtype=np.float32)

    def close(self) -> None:
        self._mesh.close()
